import type Database from "better-sqlite3";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";

/** The bookkeeping table of the compliance schema. */
export const COMPLIANCE_SQLITE_MIGRATION_TABLE = "compliance_schema_migrations";

/** The compliance service's SQLite schema steps. Append only; keys of tenant data lead with tenant_id. */
export const COMPLIANCE_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "audit records, checkpoints and signing keys",
    up(db) {
      // The primary key claims a position; the unique source index makes appends exactly once.
      db.exec(`
        CREATE TABLE audit_events (
          tenant_id TEXT NOT NULL,
          position INTEGER NOT NULL,
          source_event_id TEXT NOT NULL,
          source TEXT NOT NULL,
          event_time_ms INTEGER NOT NULL,
          actor_kind INTEGER NOT NULL,
          actor_id TEXT NOT NULL,
          action TEXT NOT NULL,
          target_type TEXT NOT NULL,
          target_id TEXT NOT NULL,
          target_conversation_id TEXT NOT NULL,
          outcome INTEGER NOT NULL,
          correlation_id TEXT NOT NULL,
          details TEXT NOT NULL,
          record_time_ms INTEGER NOT NULL,
          hash BLOB NOT NULL,
          PRIMARY KEY (tenant_id, position)
        ) STRICT;
        CREATE UNIQUE INDEX audit_events_source ON audit_events (tenant_id, source_event_id);
        CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, position);
        CREATE INDEX audit_events_action ON audit_events (tenant_id, action, position);
        CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, position);
        CREATE TABLE audit_checkpoints (
          tenant_id TEXT NOT NULL,
          position INTEGER NOT NULL,
          head_hash BLOB NOT NULL,
          create_time_ms INTEGER NOT NULL,
          key_id TEXT NOT NULL,
          signature BLOB NOT NULL,
          PRIMARY KEY (tenant_id, position)
        ) STRICT;
        CREATE TABLE audit_keys (
          key_id TEXT NOT NULL PRIMARY KEY,
          public_key BLOB NOT NULL,
          sealed_private_key BLOB NOT NULL,
          create_time_ms INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: "privacy jobs",
    up(db) {
      // open_key is "<kind>|<user>" while a job is unfinished and "done|<id>" after: one unfinished job per user and kind.
      db.exec(`
        CREATE TABLE privacy_jobs (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          kind TEXT NOT NULL,
          user_id TEXT NOT NULL,
          state TEXT NOT NULL,
          steps TEXT NOT NULL,
          error TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          complete_time_ms INTEGER NOT NULL,
          open_key TEXT NOT NULL,
          PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE UNIQUE INDEX privacy_jobs_open ON privacy_jobs (tenant_id, open_key);
        CREATE INDEX privacy_jobs_user ON privacy_jobs (tenant_id, kind, user_id, create_time_ms);
        CREATE INDEX privacy_jobs_unfinished ON privacy_jobs (state, create_time_ms);
      `);
    },
  },
  {
    version: 3,
    name: "retention policies and legal holds",
    up(db) {
      // conversation_id "" is the tenant's own policy; active_key is "<kind>|<target>" while a hold is active and "released|<id>" after.
      db.exec(`
        CREATE TABLE retention_policies (
          tenant_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          message_max_age_ms INTEGER NOT NULL,
          media_max_age_ms INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, conversation_id)
        ) STRICT;
        CREATE TABLE legal_holds (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          kind TEXT NOT NULL,
          target_id TEXT NOT NULL,
          reason TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          release_time_ms INTEGER NOT NULL,
          active_key TEXT NOT NULL,
          PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE UNIQUE INDEX legal_holds_active ON legal_holds (tenant_id, active_key);
        CREATE INDEX legal_holds_time ON legal_holds (tenant_id, create_time_ms);
      `);
    },
  },
  {
    version: 4,
    name: "export archive expiry",
    up(db) {
      // expire_time_ms: when a succeeded export's archive is deleted (0: not yet set); export_max_age_ms: a tenant's own archive lifetime (0: the platform default).
      db.exec(`
        ALTER TABLE privacy_jobs ADD COLUMN expire_time_ms INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE privacy_jobs ADD COLUMN delete_reason TEXT NOT NULL DEFAULT '';
        CREATE INDEX privacy_jobs_expiry ON privacy_jobs (state, expire_time_ms);
        ALTER TABLE retention_policies ADD COLUMN export_max_age_ms INTEGER NOT NULL DEFAULT 0;
      `);
    },
  },
  {
    version: 5,
    name: "audit pseudonyms",
    up(db) {
      // subject_form is part of a record's canonical bytes (0 for the records made before).
      // audit_subjects holds the only link from a pseudonym to a user: erasure deletes the row. It is
      // keyed by a keyed hash of the user id; the id itself is in no index, whose interior pages
      // could keep a copy of a deleted key.
      db.exec(`
        ALTER TABLE audit_events ADD COLUMN subject_form INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE audit_subjects (
          tenant_id TEXT NOT NULL,
          subject TEXT NOT NULL,
          user_id TEXT NOT NULL,
          pseudonym TEXT NOT NULL,
          key BLOB NOT NULL,
          create_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, subject)
        ) STRICT;
        CREATE UNIQUE INDEX audit_subjects_pseudonym ON audit_subjects (tenant_id, pseudonym);
        CREATE TABLE audit_erased_subjects (
          tenant_id TEXT NOT NULL,
          subject TEXT NOT NULL,
          erase_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, subject)
        ) STRICT;
      `);
    },
  },
];

/** Opens (creating and migrating) compliance's SQLite file. */
export async function openComplianceSqlite(opts: { path: string; onMigrated?: (result: MigrationResult) => void }): Promise<Database.Database> {
  const db = openSqliteDatabase(opts.path);
  try {
    // Freed cells and pages are zeroed: a deleted pseudonym link leaves no user id in free space.
    db.pragma("secure_delete = ON");
    const result = await runMigrations(sqliteMigrationTarget(db, COMPLIANCE_SQLITE_MIGRATION_TABLE), COMPLIANCE_SQLITE_MIGRATIONS);
    opts.onMigrated?.(result);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
