import type Database from "better-sqlite3";
import type { ReadStateRecord, ReadStateStore } from "../ports/read-state-store.js";
import { idList } from "./chat-sqlite.js";
import { checkId, checkIds, checkLimit, checkSeq, checkTime, tenantOf } from "./checks.js";

interface Row {
  conversation_id: string;
  user_id: string;
  last_read_seq: number;
  last_read_countable: number;
  last_delivered_seq: number;
  update_time_ms: number;
}

const COLUMNS = "conversation_id, user_id, last_read_seq, last_read_countable, last_delivered_seq, update_time_ms";

/**
 * The embedded ReadStateStore: rows of `read_states` keyed by (tenant_id, user_id,
 * conversation_id), holding both markers; a move forward is one upsert conditional on the stored
 * seq of that marker. Single machine only.
 */
export function createSqliteReadStateStore(opts: { db: Database.Database }): ReadStateStore {
  const { db } = opts;
  const advance = db.prepare(
    `INSERT INTO read_states (tenant_id, user_id, conversation_id, last_read_seq, last_read_countable, update_time_ms)
     VALUES (@tenantId, @userId, @conversationId, @seq, @countableSeq, @timeMs)
     ON CONFLICT (tenant_id, user_id, conversation_id) DO UPDATE SET
       last_read_seq = excluded.last_read_seq, last_read_countable = excluded.last_read_countable,
       update_time_ms = MAX(read_states.update_time_ms, excluded.update_time_ms)
     WHERE read_states.last_read_seq < excluded.last_read_seq`,
  );
  const advanceDelivered = db.prepare(
    `INSERT INTO read_states (tenant_id, user_id, conversation_id, last_read_seq, last_read_countable, last_delivered_seq, update_time_ms)
     VALUES (@tenantId, @userId, @conversationId, 0, 0, @seq, @timeMs)
     ON CONFLICT (tenant_id, user_id, conversation_id) DO UPDATE SET
       last_delivered_seq = excluded.last_delivered_seq, update_time_ms = MAX(read_states.update_time_ms, excluded.update_time_ms)
     WHERE read_states.last_delivered_seq < excluded.last_delivered_seq`,
  );
  const one = db.prepare<[string, string, string], Row>(`SELECT ${COLUMNS} FROM read_states WHERE tenant_id = ? AND user_id = ? AND conversation_id = ?`);
  const many = db.prepare<[string, string, string], Row>(`SELECT ${COLUMNS} FROM read_states WHERE tenant_id = ? AND user_id = ? AND conversation_id IN (SELECT value FROM json_each(?))`);
  const forget = db.prepare<[string, string, string]>(`DELETE FROM read_states WHERE tenant_id = ? AND user_id = ? AND conversation_id IN (SELECT value FROM json_each(?))`);
  const byConversation = db.prepare<{ tenantId: string; conversationId: string; afterUserId: string; changedAfterMs: number; limit: number }, Row>(
    `SELECT ${COLUMNS} FROM read_states
     WHERE tenant_id = @tenantId AND conversation_id = @conversationId AND user_id > @afterUserId AND update_time_ms > @changedAfterMs
     ORDER BY user_id LIMIT @limit`,
  );

  const store: ReadStateStore = {
    async advance(scope, p) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", p.conversationId);
      checkId("userId", p.userId);
      checkSeq("seq", p.seq);
      checkSeq("countableSeq", p.countableSeq);
      checkTime("timeMs", p.timeMs);
      advance.run({ tenantId, conversationId: p.conversationId, userId: p.userId, seq: p.seq, countableSeq: p.countableSeq, timeMs: p.timeMs });
      return toRecord(one.get(tenantId, p.userId, p.conversationId)!);
    },

    async moveRead(scope, p) {
      await store.advance(scope, p);
    },

    async advanceDelivered(scope, p) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", p.conversationId);
      checkId("userId", p.userId);
      checkSeq("seq", p.seq);
      checkTime("timeMs", p.timeMs);
      advanceDelivered.run({ tenantId, conversationId: p.conversationId, userId: p.userId, seq: p.seq, timeMs: p.timeMs });
      return toRecord(one.get(tenantId, p.userId, p.conversationId)!);
    },

    async get(scope, conversationId, userId) {
      const row = one.get(tenantOf(scope), checkId("userId", userId), checkId("conversationId", conversationId));
      return row && toRecord(row);
    },

    async ofUser(scope, userId, conversationIds) {
      return many.all(tenantOf(scope), checkId("userId", userId), idList(checkIds("conversationIds", conversationIds, 10_000))).map(toRecord);
    },

    async forget(scope, userId, conversationIds) {
      return forget.run(tenantOf(scope), checkId("userId", userId), idList(checkIds("conversationIds", conversationIds, 10_000))).changes;
    },

    async ofConversation(scope, conversationId, query) {
      return byConversation
        .all({
          tenantId: tenantOf(scope),
          conversationId: checkId("conversationId", conversationId),
          afterUserId: query.afterUserId === undefined ? "" : checkId("afterUserId", query.afterUserId),
          changedAfterMs: query.changedAfterMs === undefined ? -1 : checkTime("changedAfterMs", query.changedAfterMs),
          limit: checkLimit(query.limit),
        })
        .map(toRecord);
    },

    async close() {},
  };
  return store;
}

function toRecord(r: Row): ReadStateRecord {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    lastReadSeq: r.last_read_seq,
    lastReadCountable: r.last_read_countable,
    lastDeliveredSeq: r.last_delivered_seq,
    updateTimeMs: r.update_time_ms,
  };
}
