import { InvalidArgumentError } from "@caas/shared/errors";
import { MAX_ONE_TIME_KEY_BYTES, type OneTimeKey, type SignedKey } from "../ports/key-store.js";
import { verifyXEdDsa } from "./xeddsa.js";

/** A libsignal Curve25519 public key: type byte 0x05 then 32 bytes. */
export const CURVE_KEY_BYTES = 33;
const CURVE_KEY_TYPE = 0x05;
/** The Kyber-1024 key type byte in libsignal's serialized form. */
const KYBER_KEY_TYPE = 0x08;
/** A libsignal Kyber-1024 public key: type byte 0x08 then 1568 bytes. */
export const KYBER_KEY_BYTES = 1569;
/** An XEdDSA signature. */
export const SIGNATURE_BYTES = 64;

/** INVALID_ARGUMENT with one field violation. */
export function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/**
 * A Curve25519 public key in libsignal's serialized form (type byte 0x05, then the 32-byte
 * u-coordinate), the form every Signal-protocol client sends; returns the 32 key bytes.
 */
export function curveKey(field: string, bytes: Uint8Array): Uint8Array {
  if (bytes.length !== CURVE_KEY_BYTES) throw invalid(field, `must be ${CURVE_KEY_BYTES} bytes (libsignal's serialized Curve25519 public key)`);
  if (bytes[0] !== CURVE_KEY_TYPE) throw invalid(field, "is not a libsignal Curve25519 public key (type byte 0x05)");
  return bytes.subarray(1);
}

function kyberKey(field: string, bytes: Uint8Array): void {
  if (bytes.length !== KYBER_KEY_BYTES) throw invalid(field, `must be ${KYBER_KEY_BYTES} bytes (libsignal's serialized Kyber-1024 public key)`);
  if (bytes[0] !== KYBER_KEY_TYPE) throw invalid(field, "is not a libsignal Kyber-1024 public key (type byte 0x08)");
}

/** Checks a signed prekey's key and its XEdDSA signature by `identity` (the 32 key bytes from {@link curveKey}). */
export function checkSignedPreKey(field: string, identity: Uint8Array, k: { keyId: number; publicKey: Uint8Array; signature: Uint8Array }, kind: "curve" | "kyber"): SignedKey {
  if (kind === "curve") curveKey(`${field}.public_key`, k.publicKey);
  else kyberKey(`${field}.public_key`, k.publicKey);
  if (k.signature.length !== SIGNATURE_BYTES) throw invalid(`${field}.signature`, `must be ${SIGNATURE_BYTES} bytes`);
  if (!verifyXEdDsa(identity, k.publicKey, k.signature)) {
    throw invalid(`${field}.signature`, "does not verify with the device's identity key");
  }
  return { keyId: k.keyId, publicKey: new Uint8Array(k.publicKey), signature: new Uint8Array(k.signature) };
}

/** Checks a batch of one-time prekeys: parseable keys, distinct ids. */
export function checkOneTimePreKeys(field: string, keys: { keyId: number; publicKey: Uint8Array }[], max: number): OneTimeKey[] {
  if (keys.length > max) throw invalid(field, `at most ${max} one-time prekeys per call`);
  const seen = new Set<number>();
  return keys.map((k, i) => {
    curveKey(`${field}[${i}].public_key`, k.publicKey);
    if (seen.has(k.keyId)) throw invalid(`${field}[${i}].key_id`, `repeats key id ${k.keyId}`);
    seen.add(k.keyId);
    return { keyId: k.keyId, publicKey: new Uint8Array(k.publicKey) };
  });
}

/**
 * A batch of MLS KeyPackages (1..max, distinct ids, 1..MAX_ONE_TIME_KEY_BYTES each), as the
 * one-time keys of the registration's KeyPackage pool. Their content is the clients' business.
 */
export function checkKeyPackages(field: string, packages: { keyPackageId: number; keyPackage: Uint8Array }[], max: number): OneTimeKey[] {
  if (packages.length === 0) throw invalid(field, "must hold at least one KeyPackage");
  if (packages.length > max) throw invalid(field, `at most ${max} KeyPackages per call`);
  const seen = new Set<number>();
  return packages.map((p, i) => {
    if (p.keyPackage.length < 1 || p.keyPackage.length > MAX_ONE_TIME_KEY_BYTES) throw invalid(`${field}[${i}].key_package`, `1-${MAX_ONE_TIME_KEY_BYTES} bytes`);
    if (seen.has(p.keyPackageId)) throw invalid(`${field}[${i}].key_package_id`, `repeats id ${p.keyPackageId}`);
    seen.add(p.keyPackageId);
    return { keyId: p.keyPackageId, publicKey: new Uint8Array(p.keyPackage) };
  });
}
