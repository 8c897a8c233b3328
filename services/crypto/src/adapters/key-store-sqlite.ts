import type Database from "better-sqlite3";
import { AlreadyExistsError } from "@caas/shared/errors";
import type { DeviceRecord, KeyStore, OneTimeKey, SignedKey } from "../ports/key-store.js";
import { checkCount, checkDevice, checkDeviceId, checkId, checkOneTimeKeys, checkRef, checkSignedKey, tenantOf } from "./checks.js";

interface DeviceRow {
  user_id: string;
  device_id: number;
  generation: string;
  registration_id: number;
  identity_key: Buffer;
  signed_key_id: number;
  signed_public: Buffer;
  signed_signature: Buffer;
  previous_key_id: number | null;
  previous_public: Buffer | null;
  previous_signature: Buffer | null;
  previous_expire_ms: number | null;
  kyber_key_id: number;
  kyber_public: Buffer;
  kyber_signature: Buffer;
  create_time_ms: number;
  update_time_ms: number;
}

const COLUMNS =
  "user_id, device_id, generation, registration_id, identity_key, signed_key_id, signed_public, signed_signature, previous_key_id, previous_public, previous_signature, previous_expire_ms, kyber_key_id, kyber_public, kyber_signature, create_time_ms, update_time_ms";

/**
 * The embedded KeyStore: `devices` and `one_time_keys` in crypto's SQLite file. Claims run in an
 * IMMEDIATE transaction (the write lock taken before the read), so processes sharing the file
 * never hand out one key twice. Single machine only.
 */
export function createSqliteKeyStore(opts: { db: Database.Database }): KeyStore {
  const { db } = opts;
  const insertDevice = db.prepare(
    `INSERT INTO devices (tenant_id, ${COLUMNS}) VALUES (@tenantId, @userId, @deviceId, @generation, @registrationId, @identityKey, @signedKeyId, @signedPublic, @signedSignature, NULL, NULL, NULL, NULL, @kyberKeyId, @kyberPublic, @kyberSignature, @createTimeMs, @updateTimeMs) ON CONFLICT DO NOTHING`,
  );
  const one = db.prepare<[string, string, number], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE tenant_id = ? AND user_id = ? AND device_id = ?`);
  const all = db.prepare<[string, string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE tenant_id = ? AND user_id = ? ORDER BY device_id`);
  const insertKey = db.prepare("INSERT INTO one_time_keys (tenant_id, user_id, device_id, generation, key_id, public_key, claimed) VALUES (?, ?, ?, ?, ?, ?, 0)");
  const keyExists = db.prepare<[string, string, number, string, number], { key_id: number }>(
    "SELECT key_id FROM one_time_keys WHERE tenant_id = ? AND user_id = ? AND device_id = ? AND generation = ? AND key_id = ?",
  );
  const addKeys = (tenantId: string, userId: string, deviceId: number, generation: string, keys: OneTimeKey[]) => {
    for (const k of keys) {
      if (keyExists.get(tenantId, userId, deviceId, generation, k.keyId)) throw new AlreadyExistsError(`one-time prekey ${k.keyId} was uploaded before`);
    }
    for (const k of keys) insertKey.run(tenantId, userId, deviceId, generation, k.keyId, Buffer.from(k.publicKey));
  };
  const create = db.transaction((tenantId: string, d: DeviceRecord, keys: OneTimeKey[]) => {
    const res = insertDevice.run({
      tenantId,
      userId: d.userId,
      deviceId: d.deviceId,
      generation: d.generation,
      registrationId: d.registrationId,
      identityKey: Buffer.from(d.identityKey),
      signedKeyId: d.signedPreKey.keyId,
      signedPublic: Buffer.from(d.signedPreKey.publicKey),
      signedSignature: Buffer.from(d.signedPreKey.signature),
      kyberKeyId: d.kyberPreKey.keyId,
      kyberPublic: Buffer.from(d.kyberPreKey.publicKey),
      kyberSignature: Buffer.from(d.kyberPreKey.signature),
      createTimeMs: d.createTimeMs,
      updateTimeMs: d.updateTimeMs,
    });
    if (res.changes === 0) throw new AlreadyExistsError(`device ${d.deviceId} is registered`);
    // Leftovers of an earlier registration of this device id go with it.
    deleteKeys.run(tenantId, d.userId, d.deviceId);
    addKeys(tenantId, d.userId, d.deviceId, d.generation, keys);
  });
  const add = db.transaction(addKeys);
  const replace = db.prepare(
    `UPDATE devices SET previous_key_id = signed_key_id, previous_public = signed_public, previous_signature = signed_signature, previous_expire_ms = @previousExpireTimeMs,
       signed_key_id = @keyId, signed_public = @publicKey, signed_signature = @signature,
       kyber_key_id = coalesce(@kyberKeyId, kyber_key_id), kyber_public = coalesce(@kyberPublic, kyber_public), kyber_signature = coalesce(@kyberSignature, kyber_signature),
       update_time_ms = @nowMs
     WHERE tenant_id = @tenantId AND user_id = @userId AND device_id = @deviceId AND generation = @generation`,
  );
  const deleteDevice = db.prepare("DELETE FROM devices WHERE tenant_id = ? AND user_id = ? AND device_id = ?");
  const deleteKeys = db.prepare("DELETE FROM one_time_keys WHERE tenant_id = ? AND user_id = ? AND device_id = ?");
  const remove = db.transaction((tenantId: string, userId: string, deviceId: number) => {
    const row = one.get(tenantId, userId, deviceId);
    if (!row) return undefined;
    deleteDevice.run(tenantId, userId, deviceId);
    deleteKeys.run(tenantId, userId, deviceId);
    return row;
  });
  const firstUnclaimed = db.prepare<[string, string, number, string], { key_id: number; public_key: Buffer }>(
    "SELECT key_id, public_key FROM one_time_keys WHERE tenant_id = ? AND user_id = ? AND device_id = ? AND generation = ? AND claimed = 0 ORDER BY key_id LIMIT 1",
  );
  const markClaimed = db.prepare("UPDATE one_time_keys SET claimed = 1, public_key = NULL WHERE tenant_id = ? AND user_id = ? AND device_id = ? AND generation = ? AND key_id = ? AND claimed = 0");
  const claim = db.transaction((tenantId: string, userId: string, deviceId: number, generation: string): OneTimeKey | undefined => {
    const row = firstUnclaimed.get(tenantId, userId, deviceId, generation);
    if (!row) return undefined;
    markClaimed.run(tenantId, userId, deviceId, generation, row.key_id);
    return { keyId: row.key_id, publicKey: new Uint8Array(row.public_key) };
  });
  const count = db.prepare<[string, string, number, string], { n: number }>(
    "SELECT count(*) AS n FROM one_time_keys WHERE tenant_id = ? AND user_id = ? AND device_id = ? AND generation = ? AND claimed = 0",
  );

  return {
    async createDevice(scope, device, oneTime) {
      const tenantId = tenantOf(scope);
      checkDevice(device);
      checkOneTimeKeys(oneTime, 0);
      create.immediate(tenantId, device, oneTime);
    },

    async getDevice(scope, userId, deviceId) {
      const row = one.get(tenantOf(scope), checkId("userId", userId), checkDeviceId(deviceId));
      return row ? toRecord(row) : undefined;
    },

    async listDevices(scope, userId) {
      return all.all(tenantOf(scope), checkId("userId", userId)).map(toRecord);
    },

    async replaceSignedPreKey(scope, ref, keys) {
      const tenantId = tenantOf(scope);
      checkRef(ref);
      const signed = checkSignedKey("signedPreKey", keys.signedPreKey);
      const kyber = keys.kyberPreKey ? checkSignedKey("kyberPreKey", keys.kyberPreKey) : undefined;
      const res = replace.run({
        tenantId,
        userId: ref.userId,
        deviceId: ref.deviceId,
        generation: ref.generation,
        keyId: signed.keyId,
        publicKey: Buffer.from(signed.publicKey),
        signature: Buffer.from(signed.signature),
        kyberKeyId: kyber?.keyId ?? null,
        kyberPublic: kyber ? Buffer.from(kyber.publicKey) : null,
        kyberSignature: kyber ? Buffer.from(kyber.signature) : null,
        previousExpireTimeMs: checkCount("previousExpireTimeMs", keys.previousExpireTimeMs),
        nowMs: checkCount("nowMs", keys.nowMs),
      });
      if (res.changes === 0) return undefined;
      const row = one.get(tenantId, ref.userId, ref.deviceId);
      return row ? toRecord(row) : undefined;
    },

    async removeDevice(scope, userId, deviceId) {
      const row = remove.immediate(tenantOf(scope), checkId("userId", userId), checkDeviceId(deviceId));
      return row ? toRecord(row) : undefined;
    },

    async addOneTimeKeys(scope, ref, keys) {
      const tenantId = tenantOf(scope);
      checkRef(ref);
      checkOneTimeKeys(keys, 1);
      add.immediate(tenantId, ref.userId, ref.deviceId, ref.generation, keys);
    },

    async claimOneTimeKey(scope, ref) {
      const tenantId = tenantOf(scope);
      checkRef(ref);
      return claim.immediate(tenantId, ref.userId, ref.deviceId, ref.generation);
    },

    async countOneTimeKeys(scope, ref) {
      const tenantId = tenantOf(scope);
      checkRef(ref);
      return count.get(tenantId, ref.userId, ref.deviceId, ref.generation)!.n;
    },

    async close() {},
  };
}

const key = (keyId: number, publicKey: Buffer, signature: Buffer): SignedKey => ({ keyId, publicKey: new Uint8Array(publicKey), signature: new Uint8Array(signature) });

function toRecord(r: DeviceRow): DeviceRecord {
  return {
    userId: r.user_id,
    deviceId: r.device_id,
    registrationId: r.registration_id,
    identityKey: new Uint8Array(r.identity_key),
    generation: r.generation,
    signedPreKey: key(r.signed_key_id, r.signed_public, r.signed_signature),
    ...(r.previous_key_id !== null && r.previous_public && r.previous_signature
      ? { previousSignedPreKey: { ...key(r.previous_key_id, r.previous_public, r.previous_signature), expireTimeMs: r.previous_expire_ms ?? 0 } }
      : {}),
    kyberPreKey: key(r.kyber_key_id, r.kyber_public, r.kyber_signature),
    createTimeMs: r.create_time_ms,
    updateTimeMs: r.update_time_ms,
  };
}
