import { bytesFromBson, isMongoDuplicateKeyError } from "@caas/shared/mongo";
import { GENESIS_HASH } from "../domain/audit-chain.js";
import type { AuditFilter, AuditKeyRecord, AuditStore } from "../ports/audit-store.js";
import { MAJORITY, complianceCollections, type ComplianceMongoDb } from "./audit-mongo.js";
import { createMongoAuditSubjects } from "./audit-subjects-mongo.js";
import { checkLimit, checkpointOf, checkpointRowOf, eventOf, positionNumber, rowOf, tenantOf, type AuditRow, type CheckpointRow } from "./audit-rows.js";

interface EventDoc extends AuditRow {
  /** `<tenant>|<position>`: the insert that wins it claims the position. */
  _id: string;
}
interface CheckpointDoc extends CheckpointRow {
  _id: string;
}
interface KeyDoc extends AuditKeyRecord {
  _id: string;
}

/**
 * The cluster-mode AuditStore: one document per record, checkpoint and key. Every write is a
 * single insert, so any number of compliance instances may append to one tenant.
 */
export function createMongoAuditStore(opts: { db: ComplianceMongoDb; collectionPrefix?: string }): AuditStore {
  const c = complianceCollections(opts.collectionPrefix);
  const events = opts.db.collection<EventDoc>(c.events, MAJORITY);
  const checkpoints = opts.db.collection<CheckpointDoc>(c.checkpoints, MAJORITY);
  const keys = opts.db.collection<KeyDoc>(c.keys, MAJORITY);
  const toEvent = (d: EventDoc) => eventOf({ ...d, hash: bytesFromBson(d.hash) });
  const toCheckpoint = (d: CheckpointDoc) => checkpointOf({ ...d, headHash: bytesFromBson(d.headHash), signature: bytesFromBson(d.signature) });
  const bySource = async (tenantId: string, sourceEventId: string) => {
    const doc = await events.findOne({ tenantId, sourceEventId });
    return doc ? toEvent(doc) : undefined;
  };

  return {
    async head(scope) {
      const [doc] = await events
        .find({ tenantId: tenantOf(scope) }, { projection: { position: 1, hash: 1 } })
        .sort({ position: -1 })
        .limit(1)
        .toArray();
      return doc ? { position: BigInt(doc.position), hash: bytesFromBson(doc.hash) } : { position: 0n, hash: GENESIS_HASH };
    },

    async insert(scope, event) {
      const row = rowOf(tenantOf(scope), event);
      try {
        await events.insertOne({ _id: `${row.tenantId}|${row.position}`, ...row });
        return { kind: "inserted" };
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        // FerretDB does not say which unique index refused the insert: the source decides.
        const existing = await bySource(row.tenantId, row.sourceEventId);
        return existing ? { kind: "duplicate", existing } : { kind: "position-taken" };
      }
    },

    async findBySource(scope, sourceEventId) {
      return bySource(tenantOf(scope), sourceEventId);
    },

    async list(scope, filter, afterPosition, limit) {
      const query: Record<string, unknown> = { tenantId: tenantOf(scope), position: { $gt: positionNumber(afterPosition) } };
      addFilter(query, filter);
      const docs = await events.find(query).sort({ position: 1 }).limit(checkLimit(limit)).toArray();
      return docs.map(toEvent);
    },

    async range(scope, fromPosition, toPosition, limit) {
      const docs = await events
        .find({ tenantId: tenantOf(scope), position: { $gte: positionNumber(fromPosition), $lte: positionNumber(toPosition) } })
        .sort({ position: 1 })
        .limit(checkLimit(limit))
        .toArray();
      return docs.map(toEvent);
    },

    async insertCheckpoint(scope, checkpoint) {
      const row = checkpointRowOf(tenantOf(scope), checkpoint);
      try {
        await checkpoints.insertOne({ _id: `${row.tenantId}|${row.position}`, ...row });
        return true;
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) return false;
        throw err;
      }
    },

    async checkpoints(scope, fromPosition, toPosition) {
      const docs = await checkpoints
        .find({ tenantId: tenantOf(scope), position: { $gte: positionNumber(fromPosition), $lte: positionNumber(toPosition) } })
        .sort({ position: 1 })
        .toArray();
      return docs.map(toCheckpoint);
    },

    async checkpointAtOrBefore(scope, position) {
      const [doc] = await checkpoints
        .find({ tenantId: tenantOf(scope), position: { $lte: positionNumber(position) } })
        .sort({ position: -1 })
        .limit(1)
        .toArray();
      return doc ? toCheckpoint(doc) : undefined;
    },

    async insertKey(key) {
      try {
        await keys.insertOne({ _id: key.keyId, ...key });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
    },

    async listKeys() {
      const docs = await keys.find({}).sort({ createTimeMs: 1, _id: 1 }).toArray();
      return docs.map((d) => ({ keyId: d.keyId, publicKey: bytesFromBson(d.publicKey), sealedPrivateKey: bytesFromBson(d.sealedPrivateKey), createTimeMs: d.createTimeMs }));
    },

    ...createMongoAuditSubjects({ db: opts.db, collectionPrefix: opts.collectionPrefix }),

    async close() {},
  };
}

function addFilter(query: Record<string, unknown>, filter: AuditFilter): void {
  const anyOf = (ids: string | readonly string[]) => (typeof ids === "string" ? ids : { $in: [...ids] });
  if (filter.actorId?.length) query.actorId = anyOf(filter.actorId);
  if (filter.action) query.action = filter.action;
  if (filter.targetId?.length) query.targetId = anyOf(filter.targetId);
  const time: Record<string, number> = {};
  if (filter.startTimeMs !== undefined) time.$gte = filter.startTimeMs;
  if (filter.endTimeMs !== undefined) time.$lt = filter.endTimeMs;
  if (Object.keys(time).length > 0) query.eventTimeMs = time;
}
