import { createHash } from "node:crypto";

/** libsignal's iteration count for displayable fingerprints. */
export const SAFETY_NUMBER_ITERATIONS = 5200;

/** The 30-digit half of a safety number for one (user id, identity key). */
function half(identifier: Uint8Array, identityKey: Uint8Array, iterations: number): string {
  // libsignal NumericFingerprintGenerator: version bytes 0x00 0x00, key, identifier; then
  // `iterations` rounds of SHA-512(digest || key) in total, the first on the seed.
  let digest: Buffer = Buffer.concat([Buffer.from([0, 0]), identityKey, identifier]);
  for (let i = 0; i < iterations; i++) digest = createHash("sha512").update(digest).update(identityKey).digest();
  let out = "";
  for (let i = 0; i < 30; i += 5) {
    const chunk = digest.readUIntBE(i, 5);
    out += String(chunk % 100_000).padStart(5, "0");
  }
  return out;
}

/**
 * The 60-digit safety number of two users' identity keys, the same on both sides: libsignal's
 * displayable numeric fingerprint (Fingerprint.new with 5200 iterations), identifiers being the
 * UTF-8 user ids. Deterministic: it changes only when an identity key or user id changes.
 */
export function safetyNumber(a: { userId: string; identityKey: Uint8Array }, b: { userId: string; identityKey: Uint8Array }, iterations = SAFETY_NUMBER_ITERATIONS): string {
  const x = half(Buffer.from(a.userId, "utf8"), a.identityKey, iterations);
  const y = half(Buffer.from(b.userId, "utf8"), b.identityKey, iterations);
  return x <= y ? x + y : y + x;
}
