import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { AlreadyExistsError, UnavailableError } from "@caas/shared/errors";
import { isMongoDuplicateKeyError, isTransientMongoError } from "@caas/shared/mongo";
import { keyPackagePool, type DeviceRecord, type KeyStore, type OneTimeKey, type SignedKey } from "../ports/key-store.js";
import { checkCount, checkDevice, checkDeviceId, checkId, checkOneTimeKeys, checkRef, checkSignedKey, tenantOf } from "./checks.js";
import { bytesOf, cryptoCollections, MAJORITY, type CryptoMongoDb } from "./crypto-mongo.js";

interface StoredKey {
  keyId: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

interface DeviceDoc {
  /** `<tenant>|<user>|<device>`. */
  _id: string;
  tenantId: string;
  userId: string;
  deviceId: number;
  generation: string;
  registrationId: number;
  identityKey: Uint8Array;
  signedPreKey: StoredKey;
  previousSignedPreKey?: StoredKey & { expireTimeMs: number };
  kyberPreKey: StoredKey;
  createTimeMs: number;
  updateTimeMs: number;
}

interface KeyDoc {
  /** `<tenant>|<user>|<device>|<generation>|<keyId>`. */
  _id: string;
  tenantId: string;
  userId: string;
  deviceId: number;
  generation: string;
  keyId: number;
  /** Removed when claimed. */
  publicKey?: Uint8Array;
  /** Set by the claimer that took it; the claim marker decides between racing claimers. */
  claimed: boolean;
  /** The upload that stored it, so a refused upload removes exactly its own documents. */
  batch: string;
}

/** Tries of a claim marker insert on a busy store before the claim fails UNAVAILABLE. */
const MARKER_ATTEMPTS = 5;

interface ClaimDoc {
  /** The claimed KeyDoc's _id: the unique _id makes the claim atomic. */
  _id: string;
  tenantId: string;
  userId: string;
  deviceId: number;
}

/**
 * The cluster-mode KeyStore: devices (`<prefix>devices`), one-time prekeys (`<prefix>one_time_keys`)
 * and claim markers (`<prefix>claims`). FerretDB has no transactions and its conditional
 * updates are not atomic (ADR 0015), so a claim is the insert of a marker whose `_id` is the
 * key's: the unique-id insert succeeds for exactly one claimer on any number of instances; the
 * `claimed` flag, set by findOneAndUpdate, steers concurrent claimers to different keys (it
 * alone would suffice on MongoDB, where findOneAndUpdate is atomic). A claimer that stops
 * between the two steps loses that key: it is never handed out rather than possibly twice.
 */
export function createMongoKeyStore(opts: { db: CryptoMongoDb; collectionPrefix?: string }): KeyStore {
  const c = cryptoCollections(opts.collectionPrefix);
  const devices = opts.db.collection<DeviceDoc>(c.devices, MAJORITY);
  const keys = opts.db.collection<KeyDoc>(c.oneTimeKeys, MAJORITY);
  const claims = opts.db.collection<ClaimDoc>(c.claims, MAJORITY);
  const deviceKey = (tenantId: string, userId: string, deviceId: number) => `${tenantId}|${userId}|${deviceId}`;
  const keyKey = (tenantId: string, userId: string, deviceId: number, generation: string, keyId: number) => `${tenantId}|${userId}|${deviceId}|${generation}|${keyId}`;

  const addKeys = async (tenantId: string, userId: string, deviceId: number, generation: string, list: OneTimeKey[]) => {
    if (list.length === 0) return;
    const ids = list.map((k) => keyKey(tenantId, userId, deviceId, generation, k.keyId));
    const used = await keys.findOne({ _id: { $in: ids } }, { projection: { keyId: 1 } });
    if (used) throw new AlreadyExistsError(`one-time prekey ${used.keyId} was uploaded before`);
    const batch = randomUUID();
    try {
      await keys.insertMany(
        list.map((k, i) => ({ _id: ids[i]!, tenantId, userId, deviceId, generation, keyId: k.keyId, publicKey: k.publicKey, claimed: false, batch })),
        { ordered: true },
      );
    } catch (err) {
      // A concurrent upload of the same ids won between the check and the insert: take back
      // what this upload stored (nobody can have claimed it in between without a marker
      // pointing at it; the filter leaves such a key alone).
      await keys.deleteMany({ batch, claimed: false });
      if (isMongoDuplicateKeyError(err)) throw new AlreadyExistsError("a one-time prekey id was uploaded before");
      throw err;
    }
  };

  /**
   * Inserts a claim marker: true when this claimer won the key. The key is already flagged, so
   * giving up here loses it (never handed out); a busy store (UNAVAILABLE: FerretDB's write lock,
   * nothing written) is therefore retried a few times first. A retry that finds its own earlier
   * insert after all (a network error) sees a duplicate and also gives the key up. Both forms of
   * a busy store are recognised: UNAVAILABLE from a guarded connection, the driver's error from
   * a bare one.
   */
  const insertMarker = async (doc: ClaimDoc): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await claims.insertOne(doc);
        return true;
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) return false;
        if (!(err instanceof UnavailableError || isTransientMongoError(err)) || attempt >= MARKER_ATTEMPTS) throw err;
        await delay(10 * attempt);
      }
    }
  };

  return {
    async createDevice(scope, d, oneTime) {
      const tenantId = tenantOf(scope);
      checkDevice(d);
      checkOneTimeKeys(oneTime, 0);
      const { userId, deviceId, generation } = d;
      try {
        await devices.insertOne({ _id: deviceKey(tenantId, userId, deviceId), tenantId, ...withoutPrevious(d) });
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) throw new AlreadyExistsError(`device ${deviceId} is registered`);
        throw err;
      }
      // Leftovers of an earlier registration of this device id (a removal cut short) go now;
      // they could never be claimed anyway, claims being per generation.
      await keys.deleteMany({ tenantId, userId, deviceId, generation: { $ne: generation } });
      await addKeys(tenantId, userId, deviceId, generation, oneTime);
    },

    async getDevice(scope, userId, deviceId) {
      const doc = await devices.findOne({ _id: deviceKey(tenantOf(scope), checkId("userId", userId), checkDeviceId(deviceId)) });
      return doc ? toRecord(doc) : undefined;
    },

    async listDevices(scope, userId) {
      const docs = await devices
        .find({ tenantId: tenantOf(scope), userId: checkId("userId", userId) })
        .sort({ tenantId: 1, userId: 1, deviceId: 1 })
        .toArray();
      return docs.map(toRecord);
    },

    async replaceSignedPreKey(scope, ref, k) {
      const tenantId = tenantOf(scope);
      checkRef(ref);
      const signed = checkSignedKey("signedPreKey", k.signedPreKey);
      const kyber = k.kyberPreKey ? checkSignedKey("kyberPreKey", k.kyberPreKey) : undefined;
      const _id = deviceKey(tenantId, ref.userId, ref.deviceId);
      const current = await devices.findOne({ _id, generation: ref.generation });
      if (!current) return undefined;
      // One device rotates its own keys; a race of its own two rotations may keep either.
      await devices.updateOne(
        { _id, generation: ref.generation },
        {
          $set: {
            previousSignedPreKey: { ...current.signedPreKey, expireTimeMs: checkCount("previousExpireTimeMs", k.previousExpireTimeMs) },
            signedPreKey: signed,
            ...(kyber ? { kyberPreKey: kyber } : {}),
            updateTimeMs: checkCount("nowMs", k.nowMs),
          },
        },
      );
      const doc = await devices.findOne({ _id, generation: ref.generation });
      return doc ? toRecord(doc) : undefined;
    },

    async removeDevice(scope, userId, deviceId) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      checkDeviceId(deviceId);
      const doc = await devices.findOneAndDelete({ _id: deviceKey(tenantId, userId, deviceId) });
      if (!doc) return undefined;
      // Both pools of this registration (one-time prekeys and KeyPackages); a newer registration's stay.
      await keys.deleteMany({ tenantId, userId, deviceId, generation: { $in: [doc.generation, keyPackagePool(doc).generation] } });
      await claims.deleteMany({ tenantId, userId, deviceId });
      return toRecord(doc);
    },

    async addOneTimeKeys(scope, ref, list) {
      const tenantId = tenantOf(scope);
      checkRef(ref);
      checkOneTimeKeys(list, 1);
      await addKeys(tenantId, ref.userId, ref.deviceId, ref.generation, list);
    },

    async claimOneTimeKey(scope, ref) {
      const tenantId = tenantOf(scope);
      const { userId, deviceId, generation } = checkRef(ref);
      for (;;) {
        // Take the lowest unclaimed key; on MongoDB this is atomic already, on FerretDB two
        // claimers may both get it, and the marker insert below lets exactly one keep it.
        const cand = await keys.findOneAndUpdate(
          { tenantId, userId, deviceId, generation, claimed: false },
          { $set: { claimed: true }, $unset: { publicKey: "" } },
          { sort: { tenantId: 1, userId: 1, deviceId: 1, generation: 1, claimed: 1, keyId: 1 }, returnDocument: "before" },
        );
        if (!cand) return undefined;
        if (!(await insertMarker({ _id: cand._id, tenantId, userId, deviceId }))) continue;
        if (cand.publicKey) return { keyId: cand.keyId, publicKey: bytesOf(cand.publicKey) };
      }
    },

    async countOneTimeKeys(scope, ref) {
      const tenantId = tenantOf(scope);
      const { userId, deviceId, generation } = checkRef(ref);
      return keys.countDocuments({ tenantId, userId, deviceId, generation, claimed: false });
    },

    async close() {},
  };
}

function withoutPrevious(d: DeviceRecord): Omit<DeviceDoc, "_id" | "tenantId"> {
  const { previousSignedPreKey: _unused, ...rest } = d;
  return rest;
}

const signedOf = (k: StoredKey): SignedKey => ({ keyId: k.keyId, publicKey: bytesOf(k.publicKey), signature: bytesOf(k.signature) });

function toRecord(d: DeviceDoc): DeviceRecord {
  return {
    userId: d.userId,
    deviceId: d.deviceId,
    registrationId: d.registrationId,
    identityKey: bytesOf(d.identityKey),
    generation: d.generation,
    signedPreKey: signedOf(d.signedPreKey),
    ...(d.previousSignedPreKey ? { previousSignedPreKey: { ...signedOf(d.previousSignedPreKey), expireTimeMs: d.previousSignedPreKey.expireTimeMs } } : {}),
    kyberPreKey: signedOf(d.kyberPreKey),
    createTimeMs: d.createTimeMs,
    updateTimeMs: d.updateTimeMs,
  };
}
