import { KEMPublicKey, PublicKey } from "@signalapp/libsignal-client";
import { InvalidArgumentError } from "@caas/shared/errors";
import type { OneTimeKey, SignedKey } from "../ports/key-store.js";

/** A libsignal Curve25519 public key: type byte 0x05 then 32 bytes. */
export const CURVE_KEY_BYTES = 33;
/** A libsignal Kyber-1024 public key: type byte 0x08 then 1568 bytes. */
export const KYBER_KEY_BYTES = 1569;
/** An XEdDSA signature. */
export const SIGNATURE_BYTES = 64;

/** INVALID_ARGUMENT with one field violation. */
export function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/**
 * A Curve25519 public key in libsignal's serialized form, parsed by libsignal itself (the same
 * code the clients run), so the directory stores only keys a client can use.
 */
export function curveKey(field: string, bytes: Uint8Array): PublicKey {
  if (bytes.length !== CURVE_KEY_BYTES) throw invalid(field, `must be ${CURVE_KEY_BYTES} bytes (libsignal's serialized Curve25519 public key)`);
  try {
    return PublicKey.deserialize(new Uint8Array(bytes));
  } catch {
    throw invalid(field, "is not a libsignal Curve25519 public key (type byte 0x05)");
  }
}

function kyberKey(field: string, bytes: Uint8Array): void {
  if (bytes.length !== KYBER_KEY_BYTES) throw invalid(field, `must be ${KYBER_KEY_BYTES} bytes (libsignal's serialized Kyber-1024 public key)`);
  try {
    KEMPublicKey.deserialize(new Uint8Array(bytes));
  } catch {
    throw invalid(field, "is not a libsignal Kyber-1024 public key (type byte 0x08)");
  }
}

/** Checks a signed prekey's key and its XEdDSA signature by `identity`. */
export function checkSignedPreKey(field: string, identity: PublicKey, k: { keyId: number; publicKey: Uint8Array; signature: Uint8Array }, kind: "curve" | "kyber"): SignedKey {
  if (kind === "curve") curveKey(`${field}.public_key`, k.publicKey);
  else kyberKey(`${field}.public_key`, k.publicKey);
  if (k.signature.length !== SIGNATURE_BYTES) throw invalid(`${field}.signature`, `must be ${SIGNATURE_BYTES} bytes`);
  if (!identity.verify(new Uint8Array(k.publicKey), new Uint8Array(k.signature))) {
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
