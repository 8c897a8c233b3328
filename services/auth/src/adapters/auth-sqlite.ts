import type Database from "better-sqlite3";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";

/**
 * The auth service's SQLite schema steps, one list for its one database file (every auth store
 * shares it). Append only, never edit a released step. Every table of tenant data has a primary
 * key led by tenant_id; `api_keys` also has a platform-unique index on the key id, because admin
 * RPCs and presented secrets name a key by id alone.
 */
export const AUTH_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "tenants, api keys, users, signing keys, auth state",
    up(db) {
      db.exec(`
        CREATE TABLE tenants (
          tenant_id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          status TEXT NOT NULL,
          settings TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          revision INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE api_keys (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          name TEXT NOT NULL,
          prefix TEXT NOT NULL,
          secret_hash TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          last_used_time_ms INTEGER NOT NULL DEFAULT 0,
          revoke_time_ms INTEGER,
          PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE UNIQUE INDEX api_keys_id ON api_keys (id);
        CREATE TABLE users (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          display_name TEXT NOT NULL,
          avatar_url TEXT NOT NULL,
          custom TEXT NOT NULL,
          roles TEXT NOT NULL,
          status TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE TABLE signing_keys (
          kid TEXT PRIMARY KEY,
          alg TEXT NOT NULL,
          public_jwk TEXT NOT NULL,
          encrypted_private_key BLOB NOT NULL,
          create_time_ms INTEGER NOT NULL,
          activate_time_ms INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE auth_state (
          name TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: "sessions and refresh tokens",
    up(db) {
      db.exec(`
        CREATE TABLE sessions (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          device_id TEXT NOT NULL,
          device_name TEXT NOT NULL,
          scopes TEXT NOT NULL,
          mfa_satisfied INTEGER NOT NULL,
          create_time_ms INTEGER NOT NULL,
          last_seen_time_ms INTEGER NOT NULL,
          expire_time_ms INTEGER NOT NULL,
          revoke_time_ms INTEGER,
          revoke_reason TEXT,
          PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE INDEX sessions_user_seen ON sessions (tenant_id, user_id, last_seen_time_ms DESC, id DESC);
        CREATE TABLE refresh_tokens (
          tenant_id TEXT NOT NULL,
          hash TEXT NOT NULL,
          session_id TEXT NOT NULL,
          expire_time_ms INTEGER NOT NULL,
          used_time_ms INTEGER,
          PRIMARY KEY (tenant_id, hash)
        ) STRICT;
      `);
    },
  },
  {
    version: 3,
    name: "password logins and TOTP",
    up(db) {
      db.exec(`
        CREATE TABLE passwords (
          tenant_id TEXT NOT NULL,
          login TEXT NOT NULL,
          user_id TEXT NOT NULL,
          hash TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, login)
        ) STRICT;
        CREATE INDEX passwords_user ON passwords (tenant_id, user_id);
        CREATE TABLE totp (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          sealed_secret TEXT NOT NULL,
          enabled INTEGER NOT NULL,
          recovery_hashes TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, user_id)
        ) STRICT;
        CREATE TABLE totp_claims (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          use_key TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, user_id, use_key)
        ) STRICT;
      `);
    },
  },
  {
    version: 4,
    name: "revocations for ListRevocations",
    up(db) {
      // Platform-wide (verifiers read every tenant's entries), ordered by the UUIDv7 id.
      db.exec(`
        CREATE TABLE revocations (
          id TEXT NOT NULL PRIMARY KEY,
          kind TEXT NOT NULL,
          tenant_id TEXT NOT NULL,
          subject_id TEXT NOT NULL,
          revoke_time_ms INTEGER NOT NULL,
          expire_time_ms INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX revocations_expiry ON revocations (expire_time_ms);
      `);
    },
  },
];

/** The auth database file and a hook for the migration result. */
export interface OpenAuthSqliteOptions {
  /** The database file (embedded mode: `<dataDir>/auth.db`). */
  path: string;
  /** Told what the migration run did (for the startup log). */
  onMigrated?: (result: MigrationResult) => void;
}

/**
 * Opens the auth database (WAL, synchronous=NORMAL, busy_timeout) and brings it to the newest
 * schema. The caller owns the handle and closes it after the stores built on it. Single machine
 * only; several connections to one file (processes, test instances) are fine under WAL.
 */
export async function openAuthSqlite(opts: OpenAuthSqliteOptions): Promise<Database.Database> {
  const db = openSqliteDatabase(opts.path);
  try {
    const result = await runMigrations(sqliteMigrationTarget(db), AUTH_SQLITE_MIGRATIONS);
    opts.onMigrated?.(result);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** True for SQLite's UNIQUE / PRIMARY KEY violation. */
export function isSqliteUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}
