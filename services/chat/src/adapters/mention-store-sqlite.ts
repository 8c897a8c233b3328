import type Database from "better-sqlite3";
import type { MentionStore } from "../ports/mention-store.js";
import { checkId, checkIds, checkSeq, checkSeqs, checkTime, tenantOf } from "./checks.js";

/**
 * The embedded MentionStore: rows of `mentions` keyed by (tenant_id, user_id, conversation_id,
 * seq), so a repeated record is ignored and counting is a range scan. Single machine only.
 */
export function createSqliteMentionStore(opts: { db: Database.Database }): MentionStore {
  const { db } = opts;
  const insert = db.prepare("INSERT INTO mentions (tenant_id, user_id, conversation_id, seq, time_ms) VALUES (@tenantId, @userId, @conversationId, @seq, @timeMs) ON CONFLICT DO NOTHING");
  const insertAll = db.transaction((rows: { tenantId: string; userId: string; conversationId: string; seq: number; timeMs: number }[]) => {
    for (const r of rows) insert.run(r);
  });
  const counts = db.prepare<[string, string, string], { conversation_id: string; n: number }>(
    `SELECT m.conversation_id, COUNT(*) AS n
     FROM json_each(?) AS p
     JOIN mentions AS m ON m.tenant_id = ? AND m.user_id = ? AND m.conversation_id = json_extract(p.value, '$[0]') AND m.seq > json_extract(p.value, '$[1]')
     GROUP BY m.conversation_id`,
  );
  const forget = db.prepare("DELETE FROM mentions WHERE tenant_id = ? AND conversation_id = ? AND seq = ?");
  const forgetAll = db.transaction((tenantId: string, conversationId: string, seqs: number[]) => {
    for (const seq of seqs) forget.run(tenantId, conversationId, seq);
  });
  const prune = db.prepare("DELETE FROM mentions WHERE tenant_id = ? AND user_id = ? AND conversation_id = ? AND seq <= ?");

  return {
    async record(scope, m) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", m.conversationId);
      checkSeq("seq", m.seq);
      checkTime("timeMs", m.timeMs);
      const users = checkIds("userIds", m.userIds, 1000);
      insertAll(users.map((userId) => ({ tenantId, userId, conversationId: m.conversationId, seq: m.seq, timeMs: m.timeMs })));
    },

    async count(scope, userId, positions) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      if (!Array.isArray(positions) || positions.length > 10_000) throw new RangeError("positions must be an array of at most 10000");
      const list = positions.map((p) => [checkId("conversationId", p.conversationId), checkSeq("afterSeq", p.afterSeq)]);
      if (list.length === 0) return new Map();
      return new Map(counts.all(JSON.stringify(list), tenantId, userId).map((r) => [r.conversation_id, r.n]));
    },

    async forget(scope, conversationId, seqs) {
      forgetAll(tenantOf(scope), checkId("conversationId", conversationId), checkSeqs("seqs", seqs, 1000));
    },

    async prune(scope, userId, conversationId, uptoSeq) {
      prune.run(tenantOf(scope), checkId("userId", userId), checkId("conversationId", conversationId), checkSeq("uptoSeq", uptoSeq));
    },

    async close() {},
  };
}
