import type { Filter } from "mongodb";
import { isMongoDuplicateKeyError } from "@caas/shared";
import type { ReadStateRecord, ReadStateStore } from "../ports/read-state-store.js";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkIds, checkSeq, checkTime, tenantOf } from "./checks.js";

interface PositionDoc extends ReadStateRecord {
  /** `<tenant>|<user>|<conversation>|<seq, 15 digits>`: one document per position reached. */
  _id: string;
  tenantId: string;
}

/**
 * The cluster-mode ReadStateStore. A position is never updated in place: each move forward
 * inserts a document for the new seq (the `_id` makes a repeated one a no-op), the highest one is
 * the current position, and the ones behind it are deleted afterwards. Inserts are the one write
 * that the MongoDB-protocol servers we run on all apply atomically: FerretDB 1.x applies
 * conditional updates read-modify-write, so two devices marking read at once could move a single
 * document backwards there. Here nothing can: the maximum of the inserted positions only grows.
 */
export function createMongoReadStateStore(opts: ChatMongoOptions): ReadStateStore {
  const positions = opts.db.collection<PositionDoc>(chatCollections(opts.collectionPrefix).readStates, MAJORITY);
  const docId = (tenantId: string, userId: string, conversationId: string, seq: number) => `${tenantId}|${userId}|${conversationId}|${String(seq).padStart(15, "0")}`;

  async function current(tenantId: string, userId: string, conversationId: string): Promise<PositionDoc | null> {
    const [top] = await positions.find({ tenantId, userId, conversationId }).sort({ lastReadSeq: -1 }).limit(1).toArray();
    return top ?? null;
  }

  return {
    async advance(scope, p) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", p.conversationId);
      checkId("userId", p.userId);
      checkSeq("seq", p.seq);
      checkSeq("countableSeq", p.countableSeq);
      checkTime("timeMs", p.timeMs);
      const { conversationId, userId } = p;
      const before = await current(tenantId, userId, conversationId);
      if (before && before.lastReadSeq >= p.seq) return toRecord(before);
      try {
        await positions.insertOne({
          _id: docId(tenantId, userId, conversationId, p.seq),
          tenantId,
          conversationId,
          userId,
          lastReadSeq: p.seq,
          lastReadCountable: p.countableSeq,
          updateTimeMs: p.timeMs,
        });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      const now = (await current(tenantId, userId, conversationId))!;
      await positions.deleteMany({ tenantId, userId, conversationId, lastReadSeq: { $lt: now.lastReadSeq } });
      return toRecord(now);
    },

    async get(scope, conversationId, userId) {
      const doc = await current(tenantOf(scope), checkId("userId", userId), checkId("conversationId", conversationId));
      return doc ? toRecord(doc) : undefined;
    },

    async ofUser(scope, userId, conversationIds) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      const ids = checkIds("conversationIds", conversationIds, 10_000);
      if (ids.length === 0) return [];
      const filter: Filter<PositionDoc> = { tenantId, userId, conversationId: { $in: ids } };
      const best = new Map<string, PositionDoc>();
      for (const doc of await positions.find(filter).toArray()) {
        const known = best.get(doc.conversationId);
        if (!known || known.lastReadSeq < doc.lastReadSeq) best.set(doc.conversationId, doc);
      }
      return [...best.values()].map(toRecord);
    },

    async close() {},
  };
}

function toRecord(d: PositionDoc): ReadStateRecord {
  return {
    conversationId: d.conversationId,
    userId: d.userId,
    lastReadSeq: d.lastReadSeq,
    lastReadCountable: d.lastReadCountable,
    updateTimeMs: d.updateTimeMs,
  };
}
