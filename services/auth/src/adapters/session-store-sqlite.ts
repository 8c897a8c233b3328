import type Database from "better-sqlite3";
import type { RefreshTokenRecord, SessionListQuery, SessionRecord, SessionRevokeReason, SessionStore } from "../ports/session-store.js";
import { checkId, checkLimit, checkRefreshRecord, checkRevokeReason, checkSessionRecord, checkTime, tenantOf } from "./checks.js";

interface Row {
  tenant_id: string;
  id: string;
  user_id: string;
  device_id: string;
  device_name: string;
  scopes: string;
  mfa_satisfied: number;
  create_time_ms: number;
  last_seen_time_ms: number;
  expire_time_ms: number;
  revoke_time_ms: number | null;
  revoke_reason: string | null;
}

const COLUMNS = "tenant_id, id, user_id, device_id, device_name, scopes, mfa_satisfied, create_time_ms, last_seen_time_ms, expire_time_ms, revoke_time_ms, revoke_reason";

/**
 * The embedded SessionStore on the auth database (`openAuthSqlite`): tables `sessions` and
 * `refresh_tokens`, keys led by tenant_id. A rotation is one synchronous IMMEDIATE transaction,
 * so exactly one of concurrent users of a token wins. Single machine only.
 */
export function createSqliteSessionStore(opts: { db: Database.Database }): SessionStore {
  const { db } = opts;
  const byId = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM sessions WHERE tenant_id = ? AND id = ?`);
  const insertSession = db.prepare(`INSERT INTO sessions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`);
  const insertToken = db.prepare("INSERT INTO refresh_tokens (tenant_id, hash, session_id, expire_time_ms, used_time_ms) VALUES (?, ?, ?, ?, NULL)");
  const tokenByHash = db.prepare<[string, string], { session_id: string; expire_time_ms: number }>("SELECT session_id, expire_time_ms FROM refresh_tokens WHERE tenant_id = ? AND hash = ?");
  const markUsed = db.prepare("UPDATE refresh_tokens SET used_time_ms = ? WHERE tenant_id = ? AND hash = ? AND used_time_ms IS NULL");
  const extend = db.prepare("UPDATE sessions SET last_seen_time_ms = ?, expire_time_ms = ? WHERE tenant_id = ? AND id = ?");
  const revoke = db.prepare("UPDATE sessions SET revoke_time_ms = ?, revoke_reason = ? WHERE tenant_id = ? AND id = ? AND revoke_time_ms IS NULL");
  const page = db.prepare<[string, string, number, number, number, string, number], Row>(
    `SELECT ${COLUMNS} FROM sessions
     WHERE tenant_id = ? AND user_id = ? AND revoke_time_ms IS NULL AND expire_time_ms > ?
       AND (last_seen_time_ms < ? OR (last_seen_time_ms = ? AND id < ?))
     ORDER BY last_seen_time_ms DESC, id DESC LIMIT ?`,
  );

  const create = db.transaction((s: SessionRecord, r: RefreshTokenRecord) => {
    insertSession.run(s.tenantId, s.id, s.userId, s.deviceId, s.deviceName, JSON.stringify(s.scopes), s.mfaSatisfied ? 1 : 0, s.createTimeMs, s.lastSeenTimeMs, s.expireTimeMs);
    insertToken.run(s.tenantId, r.hash, s.id, r.expireTimeMs);
  });

  const rotate = db.transaction((tenantId: string, hash: string, next: RefreshTokenRecord, nowMs: number) => {
    const token = tokenByHash.get(tenantId, hash);
    if (!token || token.expire_time_ms <= nowMs) return { kind: "unknown" as const };
    const row = byId.get(tenantId, token.session_id);
    if (!row) return { kind: "unknown" as const };
    if (markUsed.run(nowMs, tenantId, hash).changes === 0) return { kind: "reused" as const, session: toRecord(row) };
    insertToken.run(tenantId, next.hash, token.session_id, next.expireTimeMs);
    extend.run(nowMs, next.expireTimeMs, tenantId, token.session_id);
    return { kind: "rotated" as const, session: toRecord(byId.get(tenantId, token.session_id)!) };
  });

  return {
    async create(scope, session, refresh) {
      checkSessionRecord(tenantOf(scope), session);
      checkRefreshRecord(refresh);
      create.immediate(session, refresh);
    },

    async get(scope, id) {
      const row = byId.get(tenantOf(scope), checkId("id", id, 64));
      return row && toRecord(row);
    },

    async findByRefreshHash(scope, hash, nowMs) {
      const tenantId = tenantOf(scope);
      const token = tokenByHash.get(tenantId, checkId("hash", hash, 256));
      if (!token || token.expire_time_ms <= checkTime("nowMs", nowMs)) return undefined;
      const row = byId.get(tenantId, token.session_id);
      return row && toRecord(row);
    },

    async rotate(scope, hash, next, nowMs) {
      const tenantId = tenantOf(scope);
      checkId("hash", hash, 256);
      checkRefreshRecord(next);
      return rotate.immediate(tenantId, hash, next, checkTime("nowMs", nowMs));
    },

    async revoke(scope, id, nowMs, reason: SessionRevokeReason) {
      const tenantId = tenantOf(scope);
      revoke.run(checkTime("nowMs", nowMs), checkRevokeReason(reason), tenantId, checkId("id", id, 64));
      const row = byId.get(tenantId, id);
      return row && toRecord(row);
    },

    async listActive(scope, q: SessionListQuery) {
      const tenantId = tenantOf(scope);
      checkId("userId", q.userId);
      const after = q.after ?? { lastSeenTimeMs: Number.MAX_SAFE_INTEGER, id: "" };
      // Without a keyset every row passes `last_seen < MAX`; with one, ties break on id.
      const afterId = q.after ? after.id : "\uffff";
      return page.all(tenantId, q.userId, checkTime("nowMs", q.nowMs), after.lastSeenTimeMs, after.lastSeenTimeMs, afterId, checkLimit(q.limit)).map(toRecord);
    },

    async close() {},
  };
}

function toRecord(r: Row): SessionRecord {
  return {
    tenantId: r.tenant_id,
    id: r.id,
    userId: r.user_id,
    deviceId: r.device_id,
    deviceName: r.device_name,
    scopes: JSON.parse(r.scopes) as string[],
    mfaSatisfied: r.mfa_satisfied === 1,
    createTimeMs: r.create_time_ms,
    lastSeenTimeMs: r.last_seen_time_ms,
    expireTimeMs: r.expire_time_ms,
    ...(r.revoke_time_ms === null ? {} : { revokeTimeMs: r.revoke_time_ms, revokeReason: r.revoke_reason as SessionRevokeReason }),
  };
}
