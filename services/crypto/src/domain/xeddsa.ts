import { createPublicKey, verify } from "node:crypto";

/** The field prime of Curve25519 and Ed25519: 2^255 - 19. */
const P = (1n << 255n) - 19n;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/**
 * Verifies an XEdDSA signature (the signature scheme of the Signal protocol: signed prekeys are
 * signed with the Curve25519 identity key) as libsignal does: the Montgomery u-coordinate becomes
 * the Edwards point with y = (u - 1) / (u + 1) and the sign bit carried in the signature's last
 * bit, and the signature (that bit cleared) is then an ordinary Ed25519 signature by that point,
 * checked by Node's own Ed25519. `publicKey` is the 32-byte u-coordinate (libsignal's serialized
 * key without its 0x05 type byte).
 */
export function verifyXEdDsa(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const u = (littleEndian(publicKey) & ((1n << 255n) - 1n)) % P;
  // u = -1 has no Edwards counterpart (the birational map divides by u + 1).
  if (u === P - 1n) return false;
  let y = (((u - 1n + P) % P) * modPow(u + 1n, P - 2n, P)) % P;
  const edwards = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    edwards[i] = Number(y & 0xffn);
    y >>= 8n;
  }
  const sign = signature[63]! >> 7;
  edwards[31] = (edwards[31]! & 0x7f) | (sign << 7);
  const sig = Uint8Array.from(signature);
  sig[63] = sig[63]! & 0x7f;
  // libsignal refuses an s with any of its top three bits set (s must be below 2^253).
  if ((sig[63] & 0xe0) !== 0) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, edwards]), format: "der", type: "spki" });
    return verify(null, message, key, sig);
  } catch {
    // Not a point on the curve: no key signs with it.
    return false;
  }
}
