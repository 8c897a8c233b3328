import { AlreadyExistsError } from "@caas/shared/errors";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { ApiKeyListQuery, ApiKeyRecord, ApiKeyStore } from "../ports/api-key-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkApiKeyRecord, checkId, checkLimit, checkRevokeMode, checkTime, tenantOf } from "./checks.js";

/** Stored as the revoke time of a key without one, so one range filter finds the active keys. */
const NEVER = Number.MAX_SAFE_INTEGER;

interface ApiKeyDoc {
  /** The key id (platform-unique UUIDv7). */
  _id: string;
  tenantId: string;
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
  createTimeMs: number;
  lastUsedTimeMs: number;
  /** NEVER while the key has no revoke time. */
  revokeTimeMs: number;
}

/**
 * The cluster-mode ApiKeyStore: one document per key, `_id` = key id, and an index on
 * (tenantId, id) for the tenant's newest-first list. Revocations are one conditional update.
 */
export function createMongoApiKeyStore(opts: MongoAdapterOptions): ApiKeyStore {
  const keys = opts.db.collection<ApiKeyDoc>(authCollections(opts.collectionPrefix).apiKeys, MAJORITY);

  return {
    async create(scope, record) {
      const tenantId = tenantOf(scope);
      checkApiKeyRecord(tenantId, record);
      try {
        await keys.insertOne({
          _id: record.id,
          tenantId,
          id: record.id,
          name: record.name,
          prefix: record.prefix,
          secretHash: record.secretHash,
          createTimeMs: record.createTimeMs,
          lastUsedTimeMs: record.lastUsedTimeMs,
          revokeTimeMs: record.revokeTimeMs ?? NEVER,
        });
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) throw new AlreadyExistsError(`API key ${record.id} already exists`);
        throw err;
      }
    },

    async get(id) {
      const doc = await keys.findOne({ _id: checkId("id", id, 64) });
      return doc ? toRecord(doc) : undefined;
    },

    async list(scope, query: ApiKeyListQuery) {
      const filter = {
        tenantId: tenantOf(scope),
        ...(query.beforeId === undefined ? {} : { id: { $lt: query.beforeId } }),
        ...(query.includeRevoked ? {} : { revokeTimeMs: { $gt: checkTime("nowMs", query.nowMs) } }),
      };
      const docs = await keys.find(filter).sort({ id: -1 }).limit(checkLimit(query.limit)).toArray();
      return docs.map(toRecord);
    },

    async countActive(scope, nowMs) {
      const docs = await keys.find({ tenantId: tenantOf(scope), revokeTimeMs: { $gt: checkTime("nowMs", nowMs) } }, { projection: { _id: 1 } }).toArray();
      return docs.length;
    },

    async revoke(id, atMs, mode) {
      checkId("id", id, 64);
      checkTime("atMs", atMs);
      const condition = checkRevokeMode(mode) === "earliest" ? { $gt: atMs } : NEVER;
      const updated = await keys.findOneAndUpdate({ _id: id, revokeTimeMs: condition }, { $set: { revokeTimeMs: atMs } }, { returnDocument: "after" });
      if (updated) return { record: toRecord(updated), changed: true };
      const doc = await keys.findOne({ _id: id });
      return doc ? { record: toRecord(doc), changed: false } : undefined;
    },

    async touch(id, atMs, minIntervalMs) {
      checkTime("atMs", atMs);
      await keys.updateOne({ _id: checkId("id", id, 64), lastUsedTimeMs: { $lte: atMs - checkTime("minIntervalMs", minIntervalMs) } }, { $set: { lastUsedTimeMs: atMs } });
    },

    async close() {},
  };
}

function toRecord(d: ApiKeyDoc): ApiKeyRecord {
  return {
    id: d._id,
    tenantId: d.tenantId,
    name: d.name,
    prefix: d.prefix,
    secretHash: d.secretHash,
    createTimeMs: d.createTimeMs,
    lastUsedTimeMs: d.lastUsedTimeMs,
    ...(d.revokeTimeMs === NEVER ? {} : { revokeTimeMs: d.revokeTimeMs }),
  };
}
