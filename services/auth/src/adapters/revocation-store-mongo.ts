import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { RevocationKind } from "@caas/shared/identity/revocations";
import type { RevocationStore, StoredRevocation } from "../ports/revocation-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkLimit, checkTime } from "./checks.js";
import { checkRevocation } from "./revocation-checks.js";

interface RevocationDoc {
  /** The entry's UUIDv7 id: the `_id` index orders the listing. */
  _id: string;
  kind: string;
  tenantId: string;
  subjectId: string;
  revokeTimeMs: number;
  expireTimeMs: number;
}

/**
 * The cluster-mode RevocationStore: one document per entry, `_id` = id. Expired documents are
 * deleted by `list` (FerretDB has no TTL indexes); the collection holds about 5.5 minutes of
 * revocations, so that sweep stays small.
 */
export function createMongoRevocationStore(opts: MongoAdapterOptions): RevocationStore {
  const docs = opts.db.collection<RevocationDoc>(authCollections(opts.collectionPrefix).revocations, MAJORITY);

  return {
    async add(r) {
      checkRevocation(r);
      try {
        await docs.insertOne({ _id: r.id, kind: r.kind, tenantId: r.tenantId, subjectId: r.subjectId, revokeTimeMs: r.revokeTimeMs, expireTimeMs: r.expireTimeMs });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
    },

    async list(q) {
      const nowMs = checkTime("nowMs", q.nowMs);
      const after = q.afterId === undefined ? "" : checkId("afterId", q.afterId, 64);
      const limit = checkLimit(q.limit);
      await docs.deleteMany({ expireTimeMs: { $lte: nowMs } });
      const rows = await docs
        .find({ _id: { $gt: after }, expireTimeMs: { $gt: nowMs } })
        .sort({ _id: 1 })
        .limit(limit)
        .toArray();
      return rows.map((d): StoredRevocation => ({
        id: d._id,
        kind: d.kind as RevocationKind,
        tenantId: d.tenantId,
        subjectId: d.subjectId,
        revokeTimeMs: d.revokeTimeMs,
        expireTimeMs: d.expireTimeMs,
      }));
    },

    async close() {},
  };
}
