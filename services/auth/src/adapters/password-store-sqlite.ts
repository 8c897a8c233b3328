import type Database from "better-sqlite3";
import type { PasswordRecord, PasswordStore } from "../ports/password-store.js";
import { isSqliteUniqueViolation } from "./auth-sqlite.js";
import { checkId, checkPasswordRecord, tenantOf } from "./checks.js";

interface Row {
  tenant_id: string;
  login: string;
  user_id: string;
  hash: string;
  create_time_ms: number;
}

/**
 * The embedded PasswordStore on the auth database (`openAuthSqlite`): table `passwords`, primary
 * key (tenant_id, login), so a taken login is a constraint violation, and an index on
 * (tenant_id, user_id). Single machine only.
 */
export function createSqlitePasswordStore(opts: { db: Database.Database }): PasswordStore {
  const { db } = opts;
  const insert = db.prepare("INSERT INTO passwords (tenant_id, login, user_id, hash, create_time_ms) VALUES (?, ?, ?, ?, ?)");
  const byLogin = db.prepare<[string, string], Row>("SELECT tenant_id, login, user_id, hash, create_time_ms FROM passwords WHERE tenant_id = ? AND login = ?");
  const byUser = db.prepare<[string, string], { one: number }>("SELECT 1 AS one FROM passwords WHERE tenant_id = ? AND user_id = ? LIMIT 1");
  const ofUser = db.prepare<[string, string], Row>("SELECT tenant_id, login, user_id, hash, create_time_ms FROM passwords WHERE tenant_id = ? AND user_id = ? ORDER BY login");
  const removeUser = db.prepare<[string, string]>("DELETE FROM passwords WHERE tenant_id = ? AND user_id = ?");
  return {
    async ofUser(scope, userId) {
      return ofUser
        .all(tenantOf(scope), checkId("userId", userId))
        .map((r): PasswordRecord => ({ tenantId: r.tenant_id, login: r.login, userId: r.user_id, hash: r.hash, createTimeMs: r.create_time_ms }));
    },

    async removeUser(scope, userId) {
      return removeUser.run(tenantOf(scope), checkId("userId", userId)).changes;
    },

    async hasLogin(scope, userId) {
      return byUser.get(tenantOf(scope), checkId("userId", userId)) !== undefined;
    },

    async create(scope, r) {
      const tenantId = tenantOf(scope);
      checkPasswordRecord(tenantId, r);
      try {
        insert.run(tenantId, r.login, r.userId, r.hash, r.createTimeMs);
        return true;
      } catch (err) {
        if (isSqliteUniqueViolation(err)) return false;
        throw err;
      }
    },

    async getByLogin(scope, login) {
      const row = byLogin.get(tenantOf(scope), checkId("login", login, 300));
      return row && { tenantId: row.tenant_id, login: row.login, userId: row.user_id, hash: row.hash, createTimeMs: row.create_time_ms };
    },

    async close() {},
  };
}
