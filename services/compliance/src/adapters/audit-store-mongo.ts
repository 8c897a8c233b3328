import { bytesFromBson, isMongoDuplicateKeyError } from "@caas/shared/mongo";
import { GENESIS_HASH } from "../domain/audit-chain.js";
import type { AuditFilter, AuditKeyRecord, AuditStore } from "../ports/audit-store.js";
import { MAJORITY, complianceCollections, type ComplianceMongoDb } from "./audit-mongo.js";
import { CHECKPOINT_BLOCK, MongoChainHeads, RECORD_BLOCK, blockOf, type CheckpointDoc, type EventDoc, type HeadDoc } from "./audit-heads-mongo.js";
import { createMongoAuditSubjects } from "./audit-subjects-mongo.js";
import { checkLimit, checkpointOf, checkpointRowOf, eventOf, positionNumber, rowOf, tenantOf, type AuditRow } from "./audit-rows.js";

interface KeyDoc extends AuditKeyRecord {
  _id: string;
}

/** A block in the first reply (the driver's default first batch is 101 documents; a getMore would be another round trip). */
const WHOLE_BLOCK = { batchSize: 2 * CHECKPOINT_BLOCK };

/** Record blocks one filtered `list` call reads at most before it returns a (possibly short) page with a resume position. */
export const LIST_SCAN_BLOCKS = 64;

/**
 * The cluster-mode AuditStore: one document per record, checkpoint and key. Every write is a
 * single insert (or one ordered insertMany for a run), so any number of compliance instances may
 * append to one tenant. Every read is an equality on `_id` or on (tenantId, block): see
 * audit-heads-mongo.ts for why, and ADR 0160.
 */
export function createMongoAuditStore(opts: { db: ComplianceMongoDb; collectionPrefix?: string }): AuditStore {
  const c = complianceCollections(opts.collectionPrefix);
  const events = opts.db.collection<EventDoc>(c.events, MAJORITY);
  const checkpoints = opts.db.collection<CheckpointDoc>(c.checkpoints, MAJORITY);
  const keys = opts.db.collection<KeyDoc>(c.keys, MAJORITY);
  const heads = new MongoChainHeads(events, opts.db.collection<HeadDoc>(c.heads, MAJORITY));
  const toEvent = (d: EventDoc) => eventOf({ ...d, hash: bytesFromBson(d.hash) });
  const toCheckpoint = (d: CheckpointDoc) => checkpointOf({ ...d, headHash: bytesFromBson(d.headHash), signature: bytesFromBson(d.signature) });
  const docOf = (row: AuditRow): EventDoc => ({ _id: `${row.tenantId}|${row.position}`, ...row, block: blockOf(row.position, RECORD_BLOCK) });
  const bySource = async (tenantId: string, sourceEventId: string) => {
    const doc = await events.findOne({ tenantId, sourceEventId });
    return doc ? toEvent(doc) : undefined;
  };
  const headPosition = async (tenantId: string) => (await heads.head(tenantId))?.position ?? 0;
  const byPosition = (a: { position: number }, b: { position: number }) => a.position - b.position;
  const checkpointBlock = async (tenantId: string, block: number) => checkpoints.find({ tenantId, block }, WHOLE_BLOCK).toArray();

  return {
    async head(scope) {
      const head = await heads.head(tenantOf(scope));
      return head ? { position: BigInt(head.position), hash: head.hash } : { position: 0n, hash: GENESIS_HASH };
    },

    async insert(scope, event) {
      const row = rowOf(tenantOf(scope), event);
      try {
        await events.insertOne(docOf(row));
        heads.saw(row.tenantId, row.position);
        return { kind: "inserted" };
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        // FerretDB does not say which unique index refused the insert: the source decides.
        const existing = await bySource(row.tenantId, row.sourceEventId);
        return existing ? { kind: "duplicate", existing } : { kind: "position-taken" };
      }
    },

    async insertRun(scope, run) {
      const tenantId = tenantOf(scope);
      const rows = run.map((e) => rowOf(tenantId, e));
      if (rows.length === 0) return 0;
      let inserted = rows.length;
      try {
        // Ordered: the documents after the first refused one are not written, so the run stays a prefix.
        await events.insertMany(rows.map(docOf), { ordered: true });
      } catch (err) {
        const refused = firstRefused(err);
        if (refused === undefined) throw err;
        inserted = refused;
      }
      if (inserted > 0) heads.saw(tenantId, rows[inserted - 1]!.position);
      return inserted;
    },

    async findBySource(scope, sourceEventId) {
      return bySource(tenantOf(scope), sourceEventId);
    },

    async list(scope, filter, afterPosition, limit) {
      const tenantId = tenantOf(scope);
      checkLimit(limit);
      const after = positionNumber(afterPosition);
      const last = await headPosition(tenantId);
      const found: EventDoc[] = [];
      const pushed = pushable(filter);
      let block = blockOf(after + 1, RECORD_BLOCK);
      for (let scanned = 0; block <= blockOf(last, RECORD_BLOCK) && scanned < LIST_SCAN_BLOCKS && found.length <= limit; block++, scanned++) {
        for (const d of await events.find({ tenantId, block, ...pushed }, WHOLE_BLOCK).toArray()) if (d.position > after && matches(d, filter)) found.push(d);
      }
      found.sort(byPosition);
      const page = found.slice(0, limit);
      if (found.length > limit) return { events: page.map(toEvent), resumeAfter: BigInt(page.at(-1)!.position) };
      // The scan bound was reached before the head: the next page resumes after the last block read.
      const scannedThrough = block * RECORD_BLOCK - 1;
      return scannedThrough < last ? { events: page.map(toEvent), resumeAfter: BigInt(Math.max(scannedThrough, page.at(-1)?.position ?? 0)) } : { events: page.map(toEvent) };
    },

    async range(scope, fromPosition, toPosition, limit) {
      const tenantId = tenantOf(scope);
      checkLimit(limit);
      const from = positionNumber(fromPosition);
      const to = Math.min(positionNumber(toPosition), await headPosition(tenantId));
      if (from > to) return [];
      const found: EventDoc[] = [];
      for (let block = blockOf(from, RECORD_BLOCK); block <= blockOf(to, RECORD_BLOCK) && found.length < limit; block++) {
        for (const d of await events.find({ tenantId, block }, WHOLE_BLOCK).toArray()) if (d.position >= from && d.position <= to) found.push(d);
      }
      return found.sort(byPosition).slice(0, limit).map(toEvent);
    },

    async insertCheckpoint(scope, checkpoint) {
      const row = checkpointRowOf(tenantOf(scope), checkpoint);
      // Raised first: no stored checkpoint is ever above the tenant's checkpoint head.
      await heads.raiseCheckpointHead(row.tenantId, row.position);
      try {
        await checkpoints.insertOne({ _id: `${row.tenantId}|${row.position}`, ...row, block: blockOf(row.position, CHECKPOINT_BLOCK) });
        return true;
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) return false;
        throw err;
      }
    },

    async checkpoints(scope, fromPosition, toPosition) {
      const tenantId = tenantOf(scope);
      const from = positionNumber(fromPosition);
      const to = Math.min(positionNumber(toPosition), await heads.checkpointHead(tenantId));
      const found: CheckpointDoc[] = [];
      for (let block = blockOf(from, CHECKPOINT_BLOCK); block <= blockOf(to, CHECKPOINT_BLOCK) && from <= to; block++) {
        for (const d of await checkpointBlock(tenantId, block)) if (d.position >= from && d.position <= to) found.push(d);
      }
      return found.sort(byPosition).map(toCheckpoint);
    },

    async checkpointAtOrBefore(scope, position) {
      const tenantId = tenantOf(scope);
      const at = Math.min(positionNumber(position), await heads.checkpointHead(tenantId));
      for (let block = blockOf(at, CHECKPOINT_BLOCK); block >= 0 && at > 0; block--) {
        const best = (await checkpointBlock(tenantId, block))
          .filter((d) => d.position <= at)
          .sort(byPosition)
          .at(-1);
        if (best) return toCheckpoint(best);
      }
      return undefined;
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

/** The index of the first document an ordered insertMany refused for a duplicate key; undefined for any other failure. */
function firstRefused(err: unknown): number | undefined {
  const writeErrors = (err as { writeErrors?: unknown }).writeErrors;
  const list = (Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []) as { index?: unknown; code?: unknown }[];
  const first = list[0];
  if (!first || typeof first.index !== "number" || !list.every((e) => e.code === 11000)) return undefined;
  return first.index;
}

/** The filters that are single values: sent with each block query (equalities the server applies); the rest are applied here. */
function pushable(filter: AuditFilter): Record<string, string> {
  const single = (ids: string | readonly string[] | undefined) => (typeof ids === "string" ? ids : ids?.length === 1 ? ids[0] : undefined);
  const actorId = single(filter.actorId);
  const targetId = single(filter.targetId);
  return { ...(actorId ? { actorId } : {}), ...(filter.action ? { action: filter.action } : {}), ...(targetId ? { targetId } : {}) };
}

function matches(d: EventDoc, filter: AuditFilter): boolean {
  const anyOf = (ids: string | readonly string[] | undefined, value: string) => !ids?.length || (typeof ids === "string" ? ids === value : ids.includes(value));
  return (
    anyOf(filter.actorId, d.actorId) &&
    (!filter.action || filter.action === d.action) &&
    anyOf(filter.targetId, d.targetId) &&
    (filter.startTimeMs === undefined || d.eventTimeMs >= filter.startTimeMs) &&
    (filter.endTimeMs === undefined || d.eventTimeMs < filter.endTimeMs)
  );
}
