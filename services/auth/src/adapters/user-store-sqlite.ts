import type Database from "better-sqlite3";
import type { UserListQuery, UserProfile, UserRecord, UserState, UserStore } from "../ports/user-store.js";
import { checkId, checkLimit, checkTime, checkUserProfile, checkUserState, tenantOf } from "./checks.js";

interface Row {
  tenant_id: string;
  id: string;
  display_name: string;
  avatar_url: string;
  custom: string;
  roles: string;
  status: string;
  create_time_ms: number;
  update_time_ms: number;
}

const COLUMNS = "tenant_id, id, display_name, avatar_url, custom, roles, status, create_time_ms, update_time_ms";

/**
 * The embedded UserStore on the auth database (`openAuthSqlite`); the caller owns and closes the
 * database. An upsert is one synchronous transaction, so it is atomic. Single machine only.
 */
export function createSqliteUserStore(opts: { db: Database.Database }): UserStore {
  const { db } = opts;
  const byId = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM users WHERE tenant_id = ? AND id = ?`);
  const insert = db.prepare(`INSERT INTO users (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`);
  const replace = db.prepare("UPDATE users SET display_name = ?, avatar_url = ?, custom = ?, roles = ?, update_time_ms = ? WHERE tenant_id = ? AND id = ?");
  const page = db.prepare<[string, string, string, string, number], Row>(`SELECT ${COLUMNS} FROM users WHERE tenant_id = ? AND id > ? AND (? = '' OR status = ?) ORDER BY id LIMIT ?`);
  const setStatus = db.prepare<[string, number, string, string, string], Row>(`UPDATE users SET status = ?, update_time_ms = ? WHERE tenant_id = ? AND id = ? AND status <> ? RETURNING ${COLUMNS}`);
  const remove = db.prepare("DELETE FROM users WHERE tenant_id = ? AND id = ?");

  // Synchronous, so nothing runs between the read and the write.
  const upsert = db.transaction((tenantId: string, p: UserProfile, nowMs: number) => {
    const roles = JSON.stringify(p.roles);
    const created = byId.get(tenantId, p.id) === undefined;
    if (created) insert.run(tenantId, p.id, p.displayName, p.avatarUrl, p.custom, roles, nowMs, nowMs);
    else replace.run(p.displayName, p.avatarUrl, p.custom, roles, nowMs, tenantId, p.id);
    return { user: toRecord(byId.get(tenantId, p.id)!), created };
  });

  const createIfAbsent = db.transaction((tenantId: string, p: UserProfile, nowMs: number) => {
    const created = byId.get(tenantId, p.id) === undefined;
    if (created) insert.run(tenantId, p.id, p.displayName, p.avatarUrl, p.custom, JSON.stringify(p.roles), nowMs, nowMs);
    return { user: toRecord(byId.get(tenantId, p.id)!), created };
  });

  return {
    async upsert(scope, profile, nowMs) {
      const tenantId = tenantOf(scope);
      checkUserProfile(profile);
      return upsert.immediate(tenantId, profile, checkTime("nowMs", nowMs));
    },

    async createIfAbsent(scope, profile, nowMs) {
      const tenantId = tenantOf(scope);
      checkUserProfile(profile);
      return createIfAbsent.immediate(tenantId, profile, checkTime("nowMs", nowMs));
    },

    async get(scope, id) {
      const row = byId.get(tenantOf(scope), checkId("id", id));
      return row && toRecord(row);
    },

    async list(scope, query: UserListQuery) {
      const status = query.status === undefined ? "" : checkUserState(query.status);
      return page.all(tenantOf(scope), query.afterId ?? "", status, status, checkLimit(query.limit)).map(toRecord);
    },

    async setStatus(scope, id, status: UserState, nowMs) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      checkUserState(status);
      const changed = setStatus.get(status, checkTime("nowMs", nowMs), tenantId, id, status);
      if (changed) return toRecord(changed);
      const row = byId.get(tenantId, id);
      return row && toRecord(row);
    },

    async delete(scope, id) {
      return remove.run(tenantOf(scope), checkId("id", id)).changes > 0;
    },

    async close() {},
  };
}

function toRecord(r: Row): UserRecord {
  return {
    tenantId: r.tenant_id,
    id: r.id,
    displayName: r.display_name,
    avatarUrl: r.avatar_url,
    custom: r.custom,
    roles: JSON.parse(r.roles) as string[],
    status: r.status as UserState,
    createTimeMs: r.create_time_ms,
    updateTimeMs: r.update_time_ms,
  };
}
