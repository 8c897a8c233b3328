import type { Filter } from "mongodb";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { MentionStore } from "../ports/mention-store.js";
import { MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkIds, checkSeq, checkSeqs, checkTime, tenantOf } from "./checks.js";
import { receiptCollections } from "./receipts-schema.js";

interface MentionDoc {
  /** `<tenant>|<user>|<conversation>|<seq, 15 digits>`: a repeated record is a duplicate key. */
  _id: string;
  tenantId: string;
  userId: string;
  conversationId: string;
  seq: number;
  timeMs: number;
}

/**
 * The cluster-mode MentionStore: one document per (user, conversation, seq), inserted and never
 * updated; counting reads the user's documents of the asked conversations (records behind the
 * read position are pruned when it moves, so few remain).
 */
export function createMongoMentionStore(opts: ChatMongoOptions): MentionStore {
  const mentions = opts.db.collection<MentionDoc>(receiptCollections(opts.collectionPrefix).mentions, MAJORITY);

  return {
    async record(scope, m) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", m.conversationId);
      checkSeq("seq", m.seq);
      checkTime("timeMs", m.timeMs);
      const users = checkIds("userIds", m.userIds, 1000);
      for (const userId of users) {
        try {
          await mentions.insertOne({
            _id: `${tenantId}|${userId}|${m.conversationId}|${String(m.seq).padStart(15, "0")}`,
            tenantId,
            userId,
            conversationId: m.conversationId,
            seq: m.seq,
            timeMs: m.timeMs,
          });
        } catch (err) {
          if (!isMongoDuplicateKeyError(err)) throw err;
        }
      }
    },

    async count(scope, userId, positions) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      if (!Array.isArray(positions) || positions.length > 10_000) throw new RangeError("positions must be an array of at most 10000");
      const after = new Map(positions.map((p) => [checkId("conversationId", p.conversationId), checkSeq("afterSeq", p.afterSeq)]));
      const out = new Map<string, number>();
      if (after.size === 0) return out;
      const docs = await mentions.find({ tenantId, userId, conversationId: { $in: [...after.keys()] } } as Filter<MentionDoc>).toArray();
      for (const d of docs) {
        if (d.seq > after.get(d.conversationId)!) out.set(d.conversationId, (out.get(d.conversationId) ?? 0) + 1);
      }
      return out;
    },

    async forget(scope, conversationId, seqs) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      if (checkSeqs("seqs", seqs, 1000).length === 0) return;
      await mentions.deleteMany({ tenantId, conversationId, seq: seqs.length === 1 ? seqs[0]! : { $in: seqs } });
    },

    async prune(scope, userId, conversationId, uptoSeq) {
      await mentions.deleteMany({
        tenantId: tenantOf(scope),
        userId: checkId("userId", userId),
        conversationId: checkId("conversationId", conversationId),
        seq: { $lte: checkSeq("uptoSeq", uptoSeq) },
      });
    },

    async close() {},
  };
}
