import type Database from "better-sqlite3";
import { AlreadyExistsError } from "@caas/shared/errors";
import type { ApiKeyListQuery, ApiKeyRecord, ApiKeyStore, RevokeMode } from "../ports/api-key-store.js";
import { isSqliteUniqueViolation } from "./auth-sqlite.js";
import { checkApiKeyRecord, checkId, checkLimit, checkRevokeMode, checkTime, tenantOf } from "./checks.js";

interface Row {
  tenant_id: string;
  id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  create_time_ms: number;
  last_used_time_ms: number;
  revoke_time_ms: number | null;
}

const COLUMNS = "tenant_id, id, name, prefix, secret_hash, create_time_ms, last_used_time_ms, revoke_time_ms";
/** Ids sort below this sentinel: the first page of a newest-first list. */
const TOP = "\u{10FFFF}";

/**
 * The embedded ApiKeyStore on the auth database (`openAuthSqlite`); the caller owns and closes
 * the database. Single machine only.
 */
export function createSqliteApiKeyStore(opts: { db: Database.Database }): ApiKeyStore {
  const { db } = opts;
  const insert = db.prepare(`INSERT INTO api_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const byId = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`);
  const page = db.prepare<[string, string, number, number, number], Row>(
    `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = ? AND id < ? AND (? = 1 OR revoke_time_ms IS NULL OR revoke_time_ms > ?)
     ORDER BY id DESC LIMIT ?`,
  );
  const active = db.prepare<[string, number], { n: number }>("SELECT count(*) AS n FROM api_keys WHERE tenant_id = ? AND (revoke_time_ms IS NULL OR revoke_time_ms > ?)");
  const revokeEarliest = db.prepare("UPDATE api_keys SET revoke_time_ms = ? WHERE id = ? AND (revoke_time_ms IS NULL OR revoke_time_ms > ?)");
  const revokeIfUnrevoked = db.prepare("UPDATE api_keys SET revoke_time_ms = ? WHERE id = ? AND revoke_time_ms IS NULL");
  const touch = db.prepare("UPDATE api_keys SET last_used_time_ms = ? WHERE id = ? AND last_used_time_ms <= ?");

  const revoke = db.transaction((id: string, atMs: number, mode: RevokeMode) => {
    const changed = (mode === "earliest" ? revokeEarliest.run(atMs, id, atMs) : revokeIfUnrevoked.run(atMs, id)).changes > 0;
    const row = byId.get(id);
    return row && { record: toRecord(row), changed };
  });

  return {
    async create(scope, record) {
      const tenantId = tenantOf(scope);
      checkApiKeyRecord(tenantId, record);
      try {
        insert.run(tenantId, record.id, record.name, record.prefix, record.secretHash, record.createTimeMs, record.lastUsedTimeMs, record.revokeTimeMs ?? null);
      } catch (err) {
        if (isSqliteUniqueViolation(err)) throw new AlreadyExistsError(`API key ${record.id} already exists`);
        throw err;
      }
    },

    async get(id) {
      const row = byId.get(checkId("id", id, 64));
      return row && toRecord(row);
    },

    async list(scope, query: ApiKeyListQuery) {
      return page.all(tenantOf(scope), query.beforeId ?? TOP, query.includeRevoked ? 1 : 0, checkTime("nowMs", query.nowMs), checkLimit(query.limit)).map(toRecord);
    },

    async countActive(scope, nowMs) {
      return active.get(tenantOf(scope), checkTime("nowMs", nowMs))!.n;
    },

    async revoke(id, atMs, mode) {
      return revoke(checkId("id", id, 64), checkTime("atMs", atMs), checkRevokeMode(mode));
    },

    async touch(id, atMs, minIntervalMs) {
      touch.run(checkTime("atMs", atMs), checkId("id", id, 64), atMs - checkTime("minIntervalMs", minIntervalMs));
    },

    async close() {},
  };
}

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    prefix: r.prefix,
    secretHash: r.secret_hash,
    createTimeMs: r.create_time_ms,
    lastUsedTimeMs: r.last_used_time_ms,
    ...(r.revoke_time_ms === null ? {} : { revokeTimeMs: r.revoke_time_ms }),
  };
}
