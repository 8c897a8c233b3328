import type Database from "better-sqlite3";
import type { MemberKey, MemberRecord, MemberStore, NewMember, RoleKind } from "../ports/member-store.js";
import { idList } from "./chat-sqlite.js";
import { checkId, checkIds, checkRole, checkTime, tenantOf } from "./checks.js";
import { checkEventSeq, checkListQuery, checkNewMember } from "./member-checks.js";

interface Row {
  conversation_id: string;
  user_id: string;
  role: string;
  joined_seq: number;
  join_time_ms: number;
  active: number;
  left_seq: number;
  left_time_ms: number;
  state_seq: number;
}

const COLUMNS = "conversation_id, user_id, role, joined_seq, join_time_ms, active, left_seq, left_time_ms, state_seq";

/**
 * The embedded MemberStore: rows of `members` in chat's SQLite file, keyed by (tenant_id,
 * conversation_id, user_id). Single machine only.
 */
export function createSqliteMemberStore(opts: { db: Database.Database }): MemberStore {
  const { db } = opts;
  const upsert = db.prepare(
    `INSERT INTO members (tenant_id, conversation_id, user_id, role, joined_seq, join_time_ms, active, left_seq, left_time_ms, state_seq)
     VALUES (@tenantId, @conversationId, @userId, @role, @joinedSeq, @joinTimeMs, 1, 0, 0, @joinedSeq)
     ON CONFLICT (tenant_id, conversation_id, user_id) DO UPDATE SET
       role = excluded.role, joined_seq = excluded.joined_seq, join_time_ms = excluded.join_time_ms,
       active = 1, left_seq = 0, left_time_ms = 0, state_seq = excluded.state_seq
     WHERE members.active = 0 AND members.state_seq < excluded.state_seq`,
  );
  const one = db.prepare<[string, string, string], Row>(`SELECT ${COLUMNS} FROM members WHERE tenant_id = ? AND conversation_id = ? AND user_id = ?`);
  const many = db.prepare<[string, string, string], Row>(`SELECT ${COLUMNS} FROM members WHERE tenant_id = ? AND conversation_id = ? AND user_id IN (SELECT value FROM json_each(?))`);
  const page = db.prepare<Record<string, unknown>, Row>(
    `SELECT ${COLUMNS} FROM members
     WHERE tenant_id = @tenantId AND conversation_id = @conversationId AND active = 1
       AND (joined_seq > @afterSeq OR (joined_seq = @afterSeq AND user_id > @afterUser))
       AND (@role = '' OR role = @role)
     ORDER BY joined_seq, user_id LIMIT @limit`,
  );
  const countAll = db.prepare<[string, string], { n: number }>("SELECT count(*) AS n FROM members WHERE tenant_id = ? AND conversation_id = ? AND active = 1");
  const countEach = db.prepare<[string, string], { conversation_id: string; n: number }>(
    `SELECT conversation_id, count(*) AS n FROM members
     WHERE tenant_id = ? AND conversation_id IN (SELECT value FROM json_each(?)) AND active = 1 GROUP BY conversation_id`,
  );
  const countRole = db.prepare<[string, string, string], { n: number }>("SELECT count(*) AS n FROM members WHERE tenant_id = ? AND conversation_id = ? AND active = 1 AND role = ?");
  const leave = db.prepare(
    `UPDATE members SET active = 0, left_seq = @seq, left_time_ms = @timeMs, state_seq = @seq
     WHERE tenant_id = @tenantId AND conversation_id = @conversationId AND user_id = @userId AND active = 1 AND state_seq < @seq`,
  );
  const setRole = db.prepare(
    `UPDATE members SET role = @role, state_seq = @seq
     WHERE tenant_id = @tenantId AND conversation_id = @conversationId AND user_id = @userId AND active = 1 AND state_seq < @seq`,
  );
  const ofUser = db.prepare<[string, string, number], Row>(`SELECT ${COLUMNS} FROM members WHERE tenant_id = ? AND user_id = ? AND (active = 1 OR left_time_ms > ?) LIMIT 10000`);

  return {
    async join(scope, member: NewMember) {
      const tenantId = tenantOf(scope);
      checkNewMember(member);
      upsert.run({ tenantId, ...member });
      return toRecord(one.get(tenantId, member.conversationId, member.userId)!);
    },

    async get(scope, conversationId, userId) {
      const row = one.get(tenantOf(scope), checkId("conversationId", conversationId), checkId("userId", userId));
      return row && toRecord(row);
    },

    async getMany(scope, conversationId, userIds) {
      return many.all(tenantOf(scope), checkId("conversationId", conversationId), idList(checkIds("userIds", userIds, 1000))).map(toRecord);
    },

    async list(scope, conversationId, query: { after?: MemberKey; role?: RoleKind; limit: number }) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkListQuery(query);
      return page
        .all({
          tenantId,
          conversationId,
          afterSeq: query.after?.joinedSeq ?? 0,
          afterUser: query.after?.userId ?? "",
          role: query.role ?? "",
          limit: query.limit,
        })
        .map(toRecord);
    },

    async count(scope, conversationId, role) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      return (role === undefined ? countAll.get(tenantId, conversationId) : countRole.get(tenantId, conversationId, checkRole(role)))!.n;
    },

    async countMany(scope, conversationIds) {
      const tenantId = tenantOf(scope);
      const ids = checkIds("conversationIds", [...conversationIds], 1000);
      const counts = new Map(ids.map((id) => [id, 0]));
      if (ids.length === 0) return counts;
      for (const row of countEach.all(tenantId, idList(ids))) counts.set(row.conversation_id, row.n);
      return counts;
    },

    async leave(scope, conversationId, userId, seq, timeMs) {
      const tenantId = tenantOf(scope);
      return (
        leave.run({
          tenantId,
          conversationId: checkId("conversationId", conversationId),
          userId: checkId("userId", userId),
          seq: checkEventSeq(seq),
          timeMs: checkTime("timeMs", timeMs),
        }).changes === 1
      );
    },

    async setRole(scope, conversationId, userId, role, seq) {
      const tenantId = tenantOf(scope);
      return (
        setRole.run({
          tenantId,
          conversationId: checkId("conversationId", conversationId),
          userId: checkId("userId", userId),
          role: checkRole(role),
          seq: checkEventSeq(seq),
        }).changes === 1
      );
    },

    async ofUser(scope, userId, opts = {}) {
      const since = opts.leftAfterMs ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isSafeInteger(since)) throw new RangeError("leftAfterMs must be an integer");
      return ofUser.all(tenantOf(scope), checkId("userId", userId), since).map(toRecord);
    },

    async close() {},
  };
}

function toRecord(r: Row): MemberRecord {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    role: r.role as RoleKind,
    joinedSeq: r.joined_seq,
    joinTimeMs: r.join_time_ms,
    active: r.active === 1,
    leftSeq: r.left_seq,
    leftTimeMs: r.left_time_ms,
    stateSeq: r.state_seq,
  };
}
