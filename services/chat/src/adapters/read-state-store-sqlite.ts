import type Database from "better-sqlite3";
import type { ReadStateRecord, ReadStateStore } from "../ports/read-state-store.js";
import { idList } from "./chat-sqlite.js";
import { checkId, checkIds, checkSeq, checkTime, tenantOf } from "./checks.js";

interface Row {
  conversation_id: string;
  user_id: string;
  last_read_seq: number;
  last_read_countable: number;
  update_time_ms: number;
}

const COLUMNS = "conversation_id, user_id, last_read_seq, last_read_countable, update_time_ms";

/**
 * The embedded ReadStateStore: rows of `read_states` keyed by (tenant_id, user_id,
 * conversation_id); a move forward is one upsert conditional on the stored seq. Single machine only.
 */
export function createSqliteReadStateStore(opts: { db: Database.Database }): ReadStateStore {
  const { db } = opts;
  const advance = db.prepare(
    `INSERT INTO read_states (tenant_id, user_id, conversation_id, last_read_seq, last_read_countable, update_time_ms)
     VALUES (@tenantId, @userId, @conversationId, @seq, @countableSeq, @timeMs)
     ON CONFLICT (tenant_id, user_id, conversation_id) DO UPDATE SET
       last_read_seq = excluded.last_read_seq, last_read_countable = excluded.last_read_countable, update_time_ms = excluded.update_time_ms
     WHERE read_states.last_read_seq < excluded.last_read_seq`,
  );
  const one = db.prepare<[string, string, string], Row>(`SELECT ${COLUMNS} FROM read_states WHERE tenant_id = ? AND user_id = ? AND conversation_id = ?`);
  const many = db.prepare<[string, string, string], Row>(
    `SELECT ${COLUMNS} FROM read_states WHERE tenant_id = ? AND user_id = ? AND conversation_id IN (SELECT value FROM json_each(?))`,
  );

  return {
    async advance(scope, p) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", p.conversationId);
      checkId("userId", p.userId);
      checkSeq("seq", p.seq);
      checkSeq("countableSeq", p.countableSeq);
      checkTime("timeMs", p.timeMs);
      advance.run({ tenantId, ...p });
      return toRecord(one.get(tenantId, p.userId, p.conversationId)!);
    },

    async get(scope, conversationId, userId) {
      const row = one.get(tenantOf(scope), checkId("userId", userId), checkId("conversationId", conversationId));
      return row && toRecord(row);
    },

    async ofUser(scope, userId, conversationIds) {
      return many.all(tenantOf(scope), checkId("userId", userId), idList(checkIds("conversationIds", conversationIds, 10_000))).map(toRecord);
    },

    async close() {},
  };
}

function toRecord(r: Row): ReadStateRecord {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    lastReadSeq: r.last_read_seq,
    lastReadCountable: r.last_read_countable,
    updateTimeMs: r.update_time_ms,
  };
}
