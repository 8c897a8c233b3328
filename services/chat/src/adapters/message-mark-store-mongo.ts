import type { Filter } from "mongodb";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import { THREAD_PARTICIPANTS, type MarkCountQuery, type MarkKind, type MarkRecord, type MessageMarkStore, type ThreadRecord } from "../ports/message-mark-store.js";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkLimit, checkSeq, tenantOf } from "./checks.js";
import { checkCountQuery, checkMark, checkMarkIdentity, checkMarkKind } from "./mark-checks.js";

interface MarkDoc extends MarkRecord {
  /** `<tenant>|<conversation>|<message seq>|<kind>|<key, URI-encoded>|<user>|<seq, 15 digits>`: one document per event applied. */
  _id: string;
  tenantId: string;
}

/**
 * The cluster-mode MessageMarkStore. Like the read states, a mark is never updated in place:
 * each event inserts a document for its seq (the `_id` makes a repeated one a no-op), the
 * highest-seq document of a mark is its state, and lower ones are deleted afterwards. Inserts are
 * atomic on every MongoDB-protocol server we run on (FerretDB applies conditional updates
 * read-modify-write, ADR 0015), so no interleaving can move a mark back to an older state.
 */
export function createMongoMessageMarkStore(opts: ChatMongoOptions): MessageMarkStore {
  const marks = opts.db.collection<MarkDoc>(chatCollections(opts.collectionPrefix).marks, MAJORITY);
  const identity = (m: Pick<MarkRecord, "messageSeq" | "kind" | "key" | "userId">) => `${m.messageSeq}|${m.kind}|${encodeURIComponent(m.key)}|${m.userId}`;

  /** The latest state of every mark among `docs`. */
  function latest(docs: MarkDoc[]): MarkRecord[] {
    const best = new Map<string, MarkDoc>();
    for (const d of docs) {
      const known = best.get(identity(d));
      if (!known || known.seq < d.seq) best.set(identity(d), d);
    }
    return [...best.values()].map(toRecord);
  }

  return {
    async apply(scope, mark: MarkRecord) {
      const tenantId = tenantOf(scope);
      checkMark(mark);
      const doc: MarkDoc = { _id: `${tenantId}|${mark.conversationId}|${identity(mark)}|${String(mark.seq).padStart(15, "0")}`, tenantId, ...toRecord(mark) };
      try {
        await marks.insertOne(doc);
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      const { conversationId, messageSeq, kind, key, userId } = mark;
      const [top] = await marks.find({ tenantId, conversationId, messageSeq, kind, key, userId }).sort({ seq: -1 }).limit(1).toArray();
      if (top) await marks.deleteMany({ tenantId, conversationId, messageSeq, kind, key, userId, seq: { $lt: top.seq } });
    },

    async get(scope, conversationId, messageSeq, kind: MarkKind, key, userId) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkSeq("messageSeq", messageSeq);
      checkMarkIdentity(checkMarkKind(kind), key, userId);
      const [top] = await marks.find({ tenantId, conversationId, messageSeq, kind, key, userId }).sort({ seq: -1 }).limit(1).toArray();
      return top ? toRecord(top) : undefined;
    },

    async ofMessages(scope, conversationId, messageSeqs) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      if (!Array.isArray(messageSeqs) || messageSeqs.length > 1000) throw new RangeError("messageSeqs: at most 1000");
      messageSeqs.forEach((s) => checkSeq("messageSeqs", s));
      if (messageSeqs.length === 0) return [];
      return latest(await marks.find({ tenantId, conversationId, messageSeq: { $in: messageSeqs }, kind: { $ne: "reply" } }).toArray()).filter((m) => m.present);
    },

    async pins(scope, conversationId, query) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const limit = checkLimit(query.limit);
      const before = query.beforeSeq === undefined ? Number.MAX_SAFE_INTEGER : checkSeq("beforeSeq", query.beforeSeq);
      // Every pin document of the conversation: an unpin is a later document of the same mark.
      const all = latest(await marks.find({ tenantId, conversationId, kind: "pin" }).toArray());
      return all
        .filter((m) => m.present && m.seq < before)
        .sort((a, b) => b.seq - a.seq)
        .slice(0, limit);
    },

    async count(scope, conversationId, query: MarkCountQuery) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkCountQuery(query);
      const filter: Filter<MarkDoc> = { tenantId, conversationId, kind: query.kind };
      if (query.messageSeq !== undefined) filter.messageSeq = query.messageSeq;
      if (query.userId !== undefined) filter.userId = query.userId;
      return latest(await marks.find(filter).toArray()).filter((m) => m.present).length;
    },

    async threads(scope, conversationId, messageSeqs) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      if (!Array.isArray(messageSeqs) || messageSeqs.length > 1000) throw new RangeError("messageSeqs: at most 1000");
      messageSeqs.forEach((s) => checkSeq("messageSeqs", s));
      if (messageSeqs.length === 0) return [];
      // A reply mark is written once and never changes, so every document is one reply.
      const docs = await marks
        .find({ tenantId, conversationId, kind: "reply", messageSeq: { $in: messageSeqs } })
        .sort({ seq: -1 })
        .toArray();
      const out = new Map<number, ThreadRecord>();
      for (const d of docs) {
        const t = out.get(d.messageSeq);
        if (!t) out.set(d.messageSeq, { messageSeq: d.messageSeq, replyCount: 1, lastReplySeq: d.seq, lastReplyTimeMs: d.timeMs, participantIds: [d.userId] });
        else {
          t.replyCount++;
          if (t.participantIds.length < THREAD_PARTICIPANTS && !t.participantIds.includes(d.userId)) t.participantIds.push(d.userId);
        }
      }
      return [...out.values()];
    },

    async replies(scope, conversationId, messageSeq, query) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkSeq("messageSeq", messageSeq);
      const afterSeq = checkSeq("afterSeq", query.afterSeq);
      const docs = await marks
        .find({ tenantId, conversationId, messageSeq, kind: "reply", seq: { $gt: afterSeq } })
        .sort({ seq: 1 })
        .limit(checkLimit(query.limit))
        .toArray();
      return docs.map(toRecord);
    },

    async clear(scope, conversationId) {
      await marks.deleteMany({ tenantId: tenantOf(scope), conversationId: checkId("conversationId", conversationId) });
    },

    async close() {},
  };
}

function toRecord(d: MarkRecord): MarkRecord {
  return {
    conversationId: d.conversationId,
    messageSeq: d.messageSeq,
    kind: d.kind,
    key: d.key,
    userId: d.userId,
    seq: d.seq,
    present: d.present,
    actorId: d.actorId,
    timeMs: d.timeMs,
  };
}
