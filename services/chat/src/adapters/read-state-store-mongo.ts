import type { Filter } from "mongodb";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { MarkerMove, ReadStateRecord, ReadStateStore } from "../ports/read-state-store.js";
import { chatCollections, MAJORITY, type ChatMongoCollection, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkIds, checkLimit, checkSeq, checkTime, tenantOf } from "./checks.js";
import { receiptCollections } from "./receipts-schema.js";
import { tickInserts } from "./tick-inserts-mongo.js";

interface PositionDoc {
  /** `<tenant>|<user>|<conversation>|<seq, 15 digits>`: one document per position reached. */
  _id: string;
  tenantId: string;
  conversationId: string;
  userId: string;
  lastReadSeq: number;
  lastReadCountable: number;
  updateTimeMs: number;
}

interface DeliveryDoc {
  /** Like PositionDoc's. */
  _id: string;
  tenantId: string;
  conversationId: string;
  userId: string;
  lastDeliveredSeq: number;
  updateTimeMs: number;
}

/**
 * The cluster-mode ReadStateStore. A position is never updated in place: each move forward
 * inserts a document for the new seq (the `_id` makes a repeated one a no-op), the highest one is
 * the current position, and the ones behind it are deleted afterwards. Inserts are the one write
 * that the MongoDB-protocol servers we run on all apply atomically: FerretDB 1.x applies
 * conditional updates read-modify-write, so two devices marking read at once could move a single
 * document backwards there. Here nothing can: the maximum of the inserted positions only grows.
 * Read positions live in `read_states`, delivery positions in `delivery_states`, the same way;
 * a record merges the two. `ofConversation` reads a whole conversation's rows (receipts are only
 * shared in conversations of at most 100 members).
 *
 * A move is two round trips: the insert, then the state read while the positions behind the new
 * one are deleted (`moveRead`, on the send path, reads nothing back). The read positions inserted
 * in one event-loop tick share one unordered insertMany (`tickInserts`). Nothing is read first: a position at or behind the
 * current one inserts a document that is not the highest, so the state does not change, and the
 * next move forward deletes it.
 */
export function createMongoReadStateStore(opts: ChatMongoOptions): ReadStateStore {
  const positions = opts.db.collection<PositionDoc>(chatCollections(opts.collectionPrefix).readStates, MAJORITY);
  const deliveries = opts.db.collection<DeliveryDoc>(receiptCollections(opts.collectionPrefix).deliveryStates, MAJORITY);
  // The read positions of the sends (and marks) answered in one tick go in one insertMany (ADR 0215).
  const insertRead = tickInserts(positions);
  const docId = (tenantId: string, userId: string, conversationId: string, seq: number) => `${tenantId}|${userId}|${conversationId}|${String(seq).padStart(15, "0")}`;

  async function currentRead(tenantId: string, userId: string, conversationId: string): Promise<PositionDoc | null> {
    const [top] = await positions.find({ tenantId, userId, conversationId }).sort({ lastReadSeq: -1 }).limit(1).toArray();
    return top ?? null;
  }

  async function currentDelivery(tenantId: string, userId: string, conversationId: string): Promise<DeliveryDoc | null> {
    const [top] = await deliveries.find({ tenantId, userId, conversationId }).sort({ lastDeliveredSeq: -1 }).limit(1).toArray();
    return top ?? null;
  }

  async function record(tenantId: string, userId: string, conversationId: string): Promise<ReadStateRecord | undefined> {
    const [read, delivery] = await Promise.all([currentRead(tenantId, userId, conversationId), currentDelivery(tenantId, userId, conversationId)]);
    return merge(read, delivery);
  }

  /** Inserts the read position; `behind()` then deletes the positions behind it. */
  async function moveRead(scope: TenantScope, p: MarkerMove & { countableSeq: number }) {
    const tenantId = tenantOf(scope);
    checkMove(p);
    checkSeq("countableSeq", p.countableSeq);
    const { conversationId, userId } = p;
    await insertRead({
      _id: docId(tenantId, userId, conversationId, p.seq),
      tenantId,
      conversationId,
      userId,
      lastReadSeq: p.seq,
      lastReadCountable: p.countableSeq,
      updateTimeMs: p.timeMs,
    });
    const behind = async () => {
      await positions.deleteMany({ tenantId, userId, conversationId, lastReadSeq: { $lt: p.seq } });
    };
    return { tenantId, conversationId, userId, behind };
  }

  function checkMove(p: MarkerMove): void {
    checkId("conversationId", p.conversationId);
    checkId("userId", p.userId);
    checkSeq("seq", p.seq);
    checkTime("timeMs", p.timeMs);
  }

  return {
    async advance(scope, p) {
      const { tenantId, conversationId, userId, behind } = await moveRead(scope, p);
      // The positions behind this one go while the state is read: neither is the highest.
      const [state] = await Promise.all([record(tenantId, userId, conversationId), behind()]);
      return state!;
    },

    async moveRead(scope, p) {
      const moved = await moveRead(scope, p);
      // The send path's move (ADR 0108): the positions behind are pruned on about one move in
      // PRUNE_EVERY instead of each, sparing a round trip per send. Readers take the highest
      // position, so the ones left behind change no answer; they stay few (PRUNE_EVERY in
      // expectation per user and conversation) and the next prune or `advance` removes them.
      if (Math.random() * PRUNE_EVERY < 1) await moved.behind();
    },

    async advanceDelivered(scope, p) {
      const tenantId = tenantOf(scope);
      checkMove(p);
      const { conversationId, userId } = p;
      await insertPosition(deliveries, { _id: docId(tenantId, userId, conversationId, p.seq), tenantId, conversationId, userId, lastDeliveredSeq: p.seq, updateTimeMs: p.timeMs });
      const [state] = await Promise.all([record(tenantId, userId, conversationId), deliveries.deleteMany({ tenantId, userId, conversationId, lastDeliveredSeq: { $lt: p.seq } })]);
      return state!;
    },

    async get(scope, conversationId, userId) {
      return record(tenantOf(scope), checkId("userId", userId), checkId("conversationId", conversationId));
    },

    async ofUser(scope, userId, conversationIds) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      const ids = checkIds("conversationIds", conversationIds, 10_000);
      if (ids.length === 0) return [];
      const [reads, delivered] = await Promise.all([
        positions.find({ tenantId, userId, conversationId: { $in: ids } } as Filter<PositionDoc>).toArray(),
        deliveries.find({ tenantId, userId, conversationId: { $in: ids } } as Filter<DeliveryDoc>).toArray(),
      ]);
      return mergeAll(reads, delivered, (d) => d.conversationId);
    },

    async forget(scope, userId, conversationIds) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      const ids = checkIds("conversationIds", conversationIds, 10_000);
      if (ids.length === 0) return 0;
      const [reads, delivered] = await Promise.all([
        positions.find({ tenantId, userId, conversationId: { $in: ids } } as Filter<PositionDoc>, { projection: { conversationId: 1 } }).toArray(),
        deliveries.find({ tenantId, userId, conversationId: { $in: ids } } as Filter<DeliveryDoc>, { projection: { conversationId: 1 } }).toArray(),
      ]);
      await Promise.all([positions.deleteMany({ tenantId, userId, conversationId: { $in: ids } }), deliveries.deleteMany({ tenantId, userId, conversationId: { $in: ids } })]);
      return new Set([...reads, ...delivered].map((d) => d.conversationId)).size;
    },

    async ofConversation(scope, conversationId, query) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const limit = checkLimit(query.limit);
      const after = query.afterUserId === undefined ? "" : checkId("afterUserId", query.afterUserId);
      const changedAfter = query.changedAfterMs === undefined ? -1 : checkTime("changedAfterMs", query.changedAfterMs);
      const filter = { tenantId, conversationId, userId: { $gt: after } };
      const [reads, delivered] = await Promise.all([positions.find(filter as Filter<PositionDoc>).toArray(), deliveries.find(filter as Filter<DeliveryDoc>).toArray()]);
      return mergeAll(reads, delivered, (d) => d.userId)
        .filter((r) => r.updateTimeMs > changedAfter)
        .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
        .slice(0, limit);
    },

    async close() {},
  };
}

/** On average one send-path move in this many prunes the read positions behind it. */
const PRUNE_EVERY = 8;

/** Inserts a position document; one already there (the same seq, from a retry or another device) is kept as it is. */
async function insertPosition<T extends { _id: string }>(collection: ChatMongoCollection<T>, doc: T): Promise<void> {
  try {
    await collection.insertOne(doc as never);
  } catch (err) {
    if (!isMongoDuplicateKeyError(err)) throw err;
  }
}

/** The highest read and delivery documents per key, merged into records. */
function mergeAll(reads: PositionDoc[], delivered: DeliveryDoc[], keyOf: (d: { conversationId: string; userId: string }) => string): ReadStateRecord[] {
  const bestRead = new Map<string, PositionDoc>();
  for (const d of reads) {
    const known = bestRead.get(keyOf(d));
    if (!known || known.lastReadSeq < d.lastReadSeq) bestRead.set(keyOf(d), d);
  }
  const bestDelivery = new Map<string, DeliveryDoc>();
  for (const d of delivered) {
    const known = bestDelivery.get(keyOf(d));
    if (!known || known.lastDeliveredSeq < d.lastDeliveredSeq) bestDelivery.set(keyOf(d), d);
  }
  const keys = new Set([...bestRead.keys(), ...bestDelivery.keys()]);
  return [...keys].map((k) => merge(bestRead.get(k) ?? null, bestDelivery.get(k) ?? null)!);
}

function merge(read: PositionDoc | null, delivery: DeliveryDoc | null): ReadStateRecord | undefined {
  const base = read ?? delivery;
  if (!base) return undefined;
  return {
    conversationId: base.conversationId,
    userId: base.userId,
    lastReadSeq: read?.lastReadSeq ?? 0,
    lastReadCountable: read?.lastReadCountable ?? 0,
    lastDeliveredSeq: delivery?.lastDeliveredSeq ?? 0,
    updateTimeMs: Math.max(read?.updateTimeMs ?? 0, delivery?.updateTimeMs ?? 0),
  };
}
