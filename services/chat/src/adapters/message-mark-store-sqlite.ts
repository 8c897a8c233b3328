import type Database from "better-sqlite3";
import { THREAD_PARTICIPANTS, type MarkCountQuery, type MarkKind, type MarkRecord, type MessageMarkStore } from "../ports/message-mark-store.js";
import { checkId, checkLimit, checkSeq, tenantOf } from "./checks.js";
import { checkCountQuery, checkMark, checkMarkIdentity, checkMarkKind } from "./mark-checks.js";

interface Row {
  conversation_id: string;
  message_seq: number;
  kind: string;
  key: string;
  user_id: string;
  seq: number;
  present: number;
  actor_id: string;
  time_ms: number;
}

const COLUMNS = "conversation_id, message_seq, kind, key, user_id, seq, present, actor_id, time_ms";

/** The embedded-mode MessageMarkStore: one row per mark, replaced by an upsert only for a higher seq. */
export function createSqliteMessageMarkStore(opts: { db: Database.Database }): MessageMarkStore {
  const { db } = opts;
  const upsert = db.prepare(
    `INSERT INTO message_marks (tenant_id, ${COLUMNS})
     VALUES (@tenantId, @conversationId, @messageSeq, @kind, @key, @userId, @seq, @present, @actorId, @timeMs)
     ON CONFLICT (tenant_id, conversation_id, message_seq, kind, key, user_id) DO UPDATE SET
       seq = excluded.seq, present = excluded.present, actor_id = excluded.actor_id, time_ms = excluded.time_ms
     WHERE excluded.seq > message_marks.seq`,
  );
  const one = db.prepare<[string, string, number, string, string, string], Row>(
    `SELECT ${COLUMNS} FROM message_marks WHERE tenant_id = ? AND conversation_id = ? AND message_seq = ? AND kind = ? AND key = ? AND user_id = ?`,
  );
  const ofMessages = db.prepare<[string, string, string], Row>(
    `SELECT ${COLUMNS} FROM message_marks WHERE tenant_id = ? AND conversation_id = ? AND present = 1 AND kind != 'reply' AND message_seq IN (SELECT value FROM json_each(?))`,
  );
  // SQLite takes the bare column time_ms from the row holding MAX(seq).
  const threads = db.prepare<[string, string, string], { message_seq: number; n: number; last: number; time_ms: number }>(
    `SELECT message_seq, COUNT(*) AS n, MAX(seq) AS last, time_ms FROM message_marks
     WHERE tenant_id = ? AND conversation_id = ? AND kind = 'reply' AND message_seq IN (SELECT value FROM json_each(?)) GROUP BY message_seq`,
  );
  const participants = db.prepare<[string, string, number, number], { user_id: string }>(
    `SELECT user_id, MAX(seq) AS latest FROM message_marks WHERE tenant_id = ? AND conversation_id = ? AND message_seq = ? AND kind = 'reply'
     GROUP BY user_id ORDER BY latest DESC LIMIT ?`,
  );
  const replies = db.prepare<[string, string, number, number, number], Row>(
    `SELECT ${COLUMNS} FROM message_marks WHERE tenant_id = ? AND conversation_id = ? AND message_seq = ? AND kind = 'reply' AND seq > ? ORDER BY seq LIMIT ?`,
  );
  const clear = db.prepare<[string, string]>("DELETE FROM message_marks WHERE tenant_id = ? AND conversation_id = ?");
  const pins = db.prepare<[string, string, number, number], Row>(
    `SELECT ${COLUMNS} FROM message_marks WHERE tenant_id = ? AND conversation_id = ? AND kind = 'pin' AND present = 1 AND seq < ? ORDER BY seq DESC LIMIT ?`,
  );
  // The count query varies by filter: one prepared statement per shape (at most four), made on first use.
  const counts = new Map<string, Database.Statement<Record<string, unknown>, { n: number }>>();

  return {
    async apply(scope, mark: MarkRecord) {
      const tenantId = tenantOf(scope);
      checkMark(mark);
      upsert.run({ tenantId, ...mark, present: mark.present ? 1 : 0 });
    },

    async get(scope, conversationId, messageSeq, kind: MarkKind, key, userId) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkSeq("messageSeq", messageSeq);
      checkMarkIdentity(checkMarkKind(kind), key, userId);
      const row = one.get(tenantId, conversationId, messageSeq, kind, key, userId);
      return row ? toRecord(row) : undefined;
    },

    async ofMessages(scope, conversationId, messageSeqs) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      if (!Array.isArray(messageSeqs) || messageSeqs.length > 1000) throw new RangeError("messageSeqs: at most 1000");
      messageSeqs.forEach((s) => checkSeq("messageSeqs", s));
      if (messageSeqs.length === 0) return [];
      return ofMessages.all(tenantId, conversationId, JSON.stringify(messageSeqs)).map(toRecord);
    },

    async pins(scope, conversationId, query) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const limit = checkLimit(query.limit);
      const before = query.beforeSeq === undefined ? Number.MAX_SAFE_INTEGER : checkSeq("beforeSeq", query.beforeSeq);
      return pins.all(tenantId, conversationId, before, limit).map(toRecord);
    },

    async count(scope, conversationId, query: MarkCountQuery) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkCountQuery(query);
      const where = ["tenant_id = @tenantId", "conversation_id = @conversationId", "kind = @kind", "present = 1"];
      if (query.messageSeq !== undefined) where.push("message_seq = @messageSeq");
      if (query.userId !== undefined) where.push("user_id = @userId");
      const sql = `SELECT COUNT(*) AS n FROM message_marks WHERE ${where.join(" AND ")}`;
      let stmt = counts.get(sql);
      if (!stmt) counts.set(sql, (stmt = db.prepare<Record<string, unknown>, { n: number }>(sql)));
      const row = stmt.get({ tenantId, conversationId, ...query });
      return row?.n ?? 0;
    },

    async threads(scope, conversationId, messageSeqs) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      if (!Array.isArray(messageSeqs) || messageSeqs.length > 1000) throw new RangeError("messageSeqs: at most 1000");
      messageSeqs.forEach((s) => checkSeq("messageSeqs", s));
      if (messageSeqs.length === 0) return [];
      return threads.all(tenantId, conversationId, JSON.stringify(messageSeqs)).map((r) => ({
        messageSeq: r.message_seq,
        replyCount: r.n,
        lastReplySeq: r.last,
        lastReplyTimeMs: r.time_ms,
        participantIds: participants.all(tenantId, conversationId, r.message_seq, THREAD_PARTICIPANTS).map((p) => p.user_id),
      }));
    },

    async replies(scope, conversationId, messageSeq, query) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkSeq("messageSeq", messageSeq);
      return replies.all(tenantId, conversationId, messageSeq, checkSeq("afterSeq", query.afterSeq), checkLimit(query.limit)).map(toRecord);
    },

    async clear(scope, conversationId) {
      clear.run(tenantOf(scope), checkId("conversationId", conversationId));
    },

    async close() {},
  };
}

function toRecord(r: Row): MarkRecord {
  return {
    conversationId: r.conversation_id,
    messageSeq: r.message_seq,
    kind: r.kind as MarkKind,
    key: r.key,
    userId: r.user_id,
    seq: r.seq,
    present: r.present === 1,
    actorId: r.actor_id,
    timeMs: r.time_ms,
  };
}
