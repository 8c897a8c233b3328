import type Database from "better-sqlite3";
import { AlreadyExistsError } from "@caas/shared/errors";
import type { TenantChanges, TenantListQuery, TenantRecord, TenantState, TenantStore } from "../ports/tenant-store.js";
import { isSqliteUniqueViolation } from "./auth-sqlite.js";
import { checkLimit, checkTenantChanges, checkTenantRecord, checkTenantState, checkTime, tenantOf } from "./checks.js";

interface Row {
  tenant_id: string;
  name: string;
  status: string;
  settings: string;
  create_time_ms: number;
  update_time_ms: number;
  revision: number;
}

const COLUMNS = "tenant_id, name, status, settings, create_time_ms, update_time_ms, revision";

/**
 * The embedded TenantStore on the auth database (`openAuthSqlite`); the caller owns and closes
 * the database. Single machine only.
 */
export function createSqliteTenantStore(opts: { db: Database.Database }): TenantStore {
  const { db } = opts;
  const insert = db.prepare(`INSERT INTO tenants (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const byId = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM tenants WHERE tenant_id = ?`);
  const page = db.prepare<[string, string, string, number], Row>(`SELECT ${COLUMNS} FROM tenants WHERE tenant_id > ? AND (? = '' OR status = ?) ORDER BY tenant_id LIMIT ?`);
  const update = db.prepare<[string | null, string | null, string | null, number, string, number | null, number | null], Row>(
    `UPDATE tenants SET name = coalesce(?, name), settings = coalesce(?, settings), status = coalesce(?, status),
       update_time_ms = ?, revision = revision + 1
     WHERE tenant_id = ? AND (? IS NULL OR revision = ?) RETURNING ${COLUMNS}`,
  );

  return {
    async create(record) {
      checkTenantRecord(record);
      try {
        insert.run(record.id, record.name, record.status, record.settings, record.createTimeMs, record.updateTimeMs, record.revision);
      } catch (err) {
        if (isSqliteUniqueViolation(err)) throw new AlreadyExistsError(`tenant ${record.id} already exists`);
        throw err;
      }
    },

    async get(scope) {
      const row = byId.get(tenantOf(scope));
      return row && toRecord(row);
    },

    async list(query: TenantListQuery) {
      const status = query.status === undefined ? "" : checkTenantState(query.status);
      return page.all(query.afterId ?? "", status, status, checkLimit(query.limit)).map(toRecord);
    },

    async update(scope, changes: TenantChanges, nowMs, ifRevision) {
      checkTenantChanges(changes);
      const rev = ifRevision ?? null;
      const row = update.get(changes.name ?? null, changes.settings ?? null, changes.status ?? null, checkTime("nowMs", nowMs), tenantOf(scope), rev, rev);
      return row && toRecord(row);
    },

    async close() {},
  };
}

function toRecord(r: Row): TenantRecord {
  return {
    id: r.tenant_id,
    name: r.name,
    status: r.status as TenantState,
    settings: r.settings,
    createTimeMs: r.create_time_ms,
    updateTimeMs: r.update_time_ms,
    revision: r.revision,
  };
}
