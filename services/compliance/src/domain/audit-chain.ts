import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { AuditCheckpointSchema, AuditEventSchema, type AuditCheckpoint, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";

const EMPTY = new Uint8Array(0);

/** The hash the first record of every tenant chains from. */
export const GENESIS_HASH = new Uint8Array(32);

/**
 * The canonical bytes of a record: the message with `hash` cleared, serialized by protobuf-es
 * (fields in number order, implicit defaults omitted, no unknown fields); details sorted by key
 * so equal records always give equal bytes.
 */
export function canonicalEventBytes(event: AuditEvent): Uint8Array {
  const sorted = event.details.every((d, i, all) => i === 0 || all[i - 1]!.key <= d.key);
  const details = sorted ? event.details : [...event.details].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // A shallow copy: the caller's message is left as it was.
  const { $unknown: _unknown, ...fields } = event;
  return toBinary(AuditEventSchema, { ...fields, hash: EMPTY, details });
}

/** SHA-256(previous hash || canonical bytes): a record's place in its tenant's chain. */
export function chainHash(previous: Uint8Array, event: AuditEvent): Uint8Array {
  return new Uint8Array(createHash("sha256").update(previous).update(canonicalEventBytes(event)).digest());
}

/** The bytes a checkpoint's signature covers: the message with `signature` cleared. */
export function checkpointBytes(checkpoint: AuditCheckpoint): Uint8Array {
  const copy = create(AuditCheckpointSchema, { ...checkpoint, signature: new Uint8Array(0) });
  return toBinary(AuditCheckpointSchema, copy);
}

/** Signs a checkpoint with an Ed25519 private key (PKCS#8 DER or KeyObject). */
export function signCheckpoint(checkpoint: AuditCheckpoint, privateKey: KeyObject | Uint8Array): Uint8Array {
  const key = privateKey instanceof Uint8Array ? createPrivateKey({ key: Buffer.from(privateKey), format: "der", type: "pkcs8" }) : privateKey;
  return new Uint8Array(sign(null, checkpointBytes(checkpoint), key));
}

/** The Ed25519 public key object of 32 raw bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
}

/** True when `checkpoint.signature` verifies under the raw Ed25519 public key. */
export function checkpointSignatureValid(checkpoint: AuditCheckpoint, publicKey: Uint8Array): boolean {
  try {
    return verify(null, checkpointBytes(checkpoint), ed25519PublicKey(publicKey), Buffer.from(checkpoint.signature));
  } catch {
    return false;
  }
}

/** Byte-wise equality of two hashes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}
