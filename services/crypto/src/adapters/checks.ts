import { isTenantScope, type TenantScope } from "@caas/shared/tenant-scope";
import type { HistoryEntry } from "../ports/device-history-store.js";
import { MAX_ONE_TIME_BATCH, MAX_ONE_TIME_KEY_BYTES, type DeviceRecord, type DeviceRef, type OneTimeKey, type SignedKey } from "../ports/key-store.js";

/*
 * Argument checks shared by the crypto store adapters, so every adapter refuses exactly the same
 * inputs. A bad argument is a programming error: RangeError / TypeError.
 */

/** The tenant id of a real TenantScope (a plain `{ tenantId }` cast past the type is refused). */
export function tenantOf(scope: TenantScope): string {
  if (!isTenantScope(scope)) throw new TypeError("a TenantScope is required");
  return scope.tenantId;
}

/** A user id or generation: 1-128 characters without "|" (it joins document ids). */
export function checkId(what: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 128 || value.includes("|")) {
    throw new RangeError(`${what} must be a string of 1-128 characters without "|"`);
  }
  return value;
}

/** A device id, 1..127. */
export function checkDeviceId(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 127) throw new RangeError("deviceId must be 1..127");
  return value;
}

/** A key id: an unsigned 32-bit integer. */
export function checkKeyId(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError("keyId must be a uint32");
  return value;
}

/** A non-negative safe integer (times in epoch ms, seqs). */
export function checkCount(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer`);
  return value;
}

function checkBytes(what: string, value: unknown, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) throw new RangeError(`${what} must be ${min}-${max} bytes`);
  return value;
}

/** A signed key as stored (public key 33 or 1569 bytes, 64-byte signature). */
export function checkSignedKey(what: string, k: SignedKey): SignedKey {
  checkKeyId(k.keyId);
  checkBytes(`${what}.publicKey`, k.publicKey, 33, 1569);
  checkBytes(`${what}.signature`, k.signature, 64, 64);
  return k;
}

/** A registration reference. */
export function checkRef(ref: DeviceRef): DeviceRef {
  checkId("userId", ref.userId);
  checkDeviceId(ref.deviceId);
  checkId("generation", ref.generation);
  return ref;
}

/** A batch of 0..MAX_ONE_TIME_BATCH one-time keys with distinct ids (at least `min`). */
export function checkOneTimeKeys(keys: OneTimeKey[], min: number): OneTimeKey[] {
  if (!Array.isArray(keys) || keys.length < min || keys.length > MAX_ONE_TIME_BATCH) throw new RangeError(`a batch holds ${min}..${MAX_ONE_TIME_BATCH} one-time keys`);
  for (const k of keys) {
    checkKeyId(k.keyId);
    checkBytes("oneTime.publicKey", k.publicKey, 1, MAX_ONE_TIME_KEY_BYTES);
  }
  if (new Set(keys.map((k) => k.keyId)).size !== keys.length) throw new RangeError("one-time key ids must be distinct");
  return keys;
}

/** A new device record. */
export function checkDevice(d: DeviceRecord): DeviceRecord {
  checkRef(d);
  if (!Number.isInteger(d.registrationId) || d.registrationId < 1 || d.registrationId > 16380) throw new RangeError("registrationId must be 1..16380");
  checkBytes("identityKey", d.identityKey, 33, 33);
  checkSignedKey("signedPreKey", d.signedPreKey);
  checkSignedKey("kyberPreKey", d.kyberPreKey);
  if (d.previousSignedPreKey) throw new RangeError("a new device has no previous signed prekey");
  checkCount("createTimeMs", d.createTimeMs);
  checkCount("updateTimeMs", d.updateTimeMs);
  return d;
}

/** A history entry about to be stored with sequence number `seq`. */
export function checkEntry(e: HistoryEntry, seq: number): HistoryEntry {
  if (e.seq !== seq) throw new RangeError(`the entry must have seq ${seq}`);
  checkBytes("change", e.change, 1, 64 * 1024);
  checkBytes("signature", e.signature, 64, 64);
  checkId("keyId", e.keyId);
  return e;
}

/** A page size of history listings. */
export function checkLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RangeError("limit must be 1..1000");
  return limit;
}
