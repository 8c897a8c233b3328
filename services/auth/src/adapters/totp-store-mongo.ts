import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { TotpRecord, TotpStore } from "../ports/totp-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkTime, tenantOf } from "./checks.js";

interface TotpDoc {
  /** `<tenant>|<user>`. */
  _id: string;
  tenantId: string;
  userId: string;
  sealedSecret: string;
  enabled: boolean;
  recoveryHashes: string[];
  createTimeMs: number;
}

interface ClaimDoc {
  /** `<tenant>|<user>|<use key>`: the unique `_id` makes a claim single. */
  _id: string;
  tenantId: string;
  userId: string;
  createTimeMs: number;
}

/**
 * The cluster-mode TotpStore: one document per user (`_id` led by the tenant id) and one per
 * claimed use, whose unique `_id` makes exactly one of concurrent claims win (FerretDB's
 * conditional updates are not atomic between clients).
 */
export function createMongoTotpStore(opts: MongoAdapterOptions): TotpStore {
  const names = authCollections(opts.collectionPrefix);
  const totp = opts.db.collection<TotpDoc>(names.totp, MAJORITY);
  const claims = opts.db.collection<ClaimDoc>(names.totpClaims, MAJORITY);
  const key = (tenantId: string, userId: string) => `${tenantId}|${userId}`;

  return {
    async startEnrollment(scope, userId, sealedSecret, nowMs) {
      const tenantId = tenantOf(scope);
      const _id = key(tenantId, checkId("userId", userId));
      checkId("sealedSecret", sealedSecret, 512);
      checkTime("nowMs", nowMs);
      const existing = await totp.findOne({ _id });
      if (existing?.enabled) return false;
      if (existing) {
        await totp.updateOne({ _id, enabled: false }, { $set: { sealedSecret, createTimeMs: nowMs } });
        return true;
      }
      try {
        await totp.insertOne({ _id, tenantId, userId, sealedSecret, enabled: false, recoveryHashes: [], createTimeMs: nowMs });
        return true;
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        // A concurrent enrollment inserted first: replace its secret unless it got enabled.
        return (await totp.updateOne({ _id, enabled: false }, { $set: { sealedSecret, createTimeMs: nowMs } })).matchedCount > 0;
      }
    },

    async get(scope, userId) {
      const doc = await totp.findOne({ _id: key(tenantOf(scope), checkId("userId", userId)) });
      return doc ? toRecord(doc) : undefined;
    },

    async enable(scope, userId, recoveryHashes) {
      if (!Array.isArray(recoveryHashes) || !recoveryHashes.every((h) => typeof h === "string" && h.length > 0)) throw new RangeError("recoveryHashes must be strings");
      const res = await totp.updateOne({ _id: key(tenantOf(scope), checkId("userId", userId)), enabled: false }, { $set: { enabled: true, recoveryHashes: [...recoveryHashes] } });
      return res.modifiedCount > 0;
    },

    async claim(scope, userId, useKey, nowMs) {
      const tenantId = tenantOf(scope);
      try {
        await claims.insertOne({
          _id: `${key(tenantId, checkId("userId", userId))}|${checkId("useKey", useKey, 256)}`,
          tenantId,
          userId,
          createTimeMs: checkTime("nowMs", nowMs),
        });
        return true;
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) return false;
        throw err;
      }
    },

    async remove(scope, userId) {
      const tenantId = tenantOf(scope);
      const _id = key(tenantId, checkId("userId", userId));
      await claims.deleteMany({ tenantId, userId });
      return (await totp.deleteOne({ _id })).deletedCount > 0;
    },

    async close() {},
  };
}

function toRecord(d: TotpDoc): TotpRecord {
  return {
    tenantId: d.tenantId,
    userId: d.userId,
    sealedSecret: d.sealedSecret,
    enabled: d.enabled,
    recoveryHashes: [...d.recoveryHashes],
    createTimeMs: d.createTimeMs,
  };
}
