import type Database from "better-sqlite3";
import type { ModerationStore, RestrictionKind, RestrictionRecord } from "../ports/moderation-store.js";
import { checkId, tenantOf } from "./checks.js";
import { checkRestriction, checkRestrictionKind, checkRestrictionQuery } from "./moderation-checks.js";

interface Row {
  conversation_id: string;
  user_id: string;
  kind: string;
  present: number;
  expire_time_ms: number;
  reason: string;
  actor_id: string;
  seq: number;
  time_ms: number;
}

const COLUMNS = "conversation_id, user_id, kind, present, expire_time_ms, reason, actor_id, seq, time_ms";

/**
 * The embedded ModerationStore: `moderation` in chat's SQLite file, one row per (tenant,
 * conversation, user, kind), replaced only by a newer seq. Single machine only.
 */
export function createSqliteModerationStore(opts: { db: Database.Database }): ModerationStore {
  const { db } = opts;
  const upsert = db.prepare(
    `INSERT INTO moderation (tenant_id, conversation_id, user_id, kind, present, expire_time_ms, reason, actor_id, seq, time_ms)
     VALUES (@tenantId, @conversationId, @userId, @kind, @present, @expireTimeMs, @reason, @actorId, @seq, @timeMs)
     ON CONFLICT (tenant_id, conversation_id, user_id, kind) DO UPDATE SET
       present = excluded.present, expire_time_ms = excluded.expire_time_ms, reason = excluded.reason,
       actor_id = excluded.actor_id, seq = excluded.seq, time_ms = excluded.time_ms
     WHERE moderation.seq < excluded.seq`,
  );
  const one = db.prepare<[string, string, string, string], Row>(`SELECT ${COLUMNS} FROM moderation WHERE tenant_id = ? AND conversation_id = ? AND user_id = ? AND kind = ?`);
  const page = db.prepare<[string, string, string, string, number], Row>(
    `SELECT ${COLUMNS} FROM moderation WHERE tenant_id = ? AND conversation_id = ? AND kind = ? AND present = 1 AND user_id > ? ORDER BY user_id LIMIT ?`,
  );

  return {
    async put(scope, r) {
      const tenantId = tenantOf(scope);
      checkRestriction(r);
      return upsert.run({ tenantId, ...r, present: r.present ? 1 : 0 }).changes === 1;
    },

    async get(scope, conversationId, userId, kind: RestrictionKind) {
      const row = one.get(tenantOf(scope), checkId("conversationId", conversationId), checkId("userId", userId), checkRestrictionKind(kind));
      return row && toRecord(row);
    },

    async list(scope, conversationId, kind, query) {
      const tenantId = tenantOf(scope);
      checkRestrictionQuery(query);
      return page.all(tenantId, checkId("conversationId", conversationId), checkRestrictionKind(kind), query.after?.userId ?? "", query.limit).map(toRecord);
    },

    async close() {},
  };
}

function toRecord(r: Row): RestrictionRecord {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    kind: r.kind as RestrictionKind,
    present: r.present === 1,
    expireTimeMs: r.expire_time_ms,
    reason: r.reason,
    actorId: r.actor_id,
    seq: r.seq,
    timeMs: r.time_ms,
  };
}
