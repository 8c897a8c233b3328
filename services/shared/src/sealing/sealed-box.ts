import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** First byte of every sealed value; a serialized protobuf message of ours never starts with it. */
const MAGIC = 0xca;
/** Format version: AES-256-GCM, 12-byte random nonce, 16-byte tag. */
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A data key in the clear (AES-256): held only in memory. */
export interface DataKey {
  /** Stored beside every ciphertext the key made. */
  id: string;
  /** 32 bytes. */
  bytes: Uint8Array;
}

/**
 * Seals `plaintext` with AES-256-GCM under `key`. `aad` (additional authenticated data) binds the
 * value to where it is stored (tenant, conversation, seq...): moved elsewhere it does not open.
 *
 * Layout: `0xCA | version (1) | key id length | key id (ASCII) | nonce (12) | ciphertext | tag (16)`.
 */
export function seal(key: DataKey, plaintext: Uint8Array, aad: string): Uint8Array {
  if (!KEY_ID.test(key.id)) throw new Error("a data key id is 1-64 characters of [A-Za-z0-9_-]");
  const id = Buffer.from(key.id, "ascii");
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  return Buffer.concat([Buffer.from([MAGIC, VERSION, id.length]), id, nonce, body, tail, cipher.getAuthTag()]);
}

/** Whether `value` is in the sealed layout (as opposed to a plaintext value written before sealing existed). */
export function isSealed(value: Uint8Array): boolean {
  return value.length > 3 && value[0] === MAGIC && value[1] === VERSION;
}

/** The id of the key that sealed `value`; undefined when it is not sealed. */
export function sealedKeyId(value: Uint8Array): string | undefined {
  if (!isSealed(value)) return undefined;
  const n = value[2]!;
  return Buffer.from(value.subarray(3, 3 + n)).toString("ascii");
}

/**
 * Opens a sealed value with `key` (whose id must be the one `sealedKeyId` names). Throws when the
 * value was altered, sealed under another key, or sealed for another `aad`.
 */
export function open(key: DataKey, value: Uint8Array, aad: string): Uint8Array {
  if (!isSealed(value)) throw new Error("not a sealed value");
  const at = 3 + value[2]!;
  if (value.length < at + NONCE_BYTES + TAG_BYTES) throw new Error("a sealed value cut short");
  const nonce = value.subarray(at, at + NONCE_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key.bytes, nonce);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(value.subarray(value.length - TAG_BYTES));
  const out = decipher.update(value.subarray(at + NONCE_BYTES, value.length - TAG_BYTES));
  return Buffer.concat([out, decipher.final()]);
}
