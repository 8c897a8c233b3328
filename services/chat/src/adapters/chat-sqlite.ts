import type Database from "better-sqlite3";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";
import { migrateReceiptsSqlite } from "./receipts-schema.js";
import { migrateModerationSqlite } from "./moderation-schema.js";

/**
 * The bookkeeping table of the chat schema. The event log keeps its own (`schema_migrations`) in
 * the same file, so each list of versions stays apart (see sqliteMigrationTarget).
 */
export const CHAT_SQLITE_MIGRATION_TABLE = "chat_schema_migrations";

/**
 * The chat service's SQLite schema steps (conversations, members, read states, service state).
 * Append only; never edit a released step. Keys of tenant data lead with tenant_id.
 */
export const CHAT_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "conversations, members, read states, chat state",
    up(db) {
      db.exec(`
        CREATE TABLE conversations (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          kind TEXT NOT NULL,
          title TEXT NOT NULL,
          avatar_url TEXT NOT NULL,
          custom TEXT,
          created_by TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          archived INTEGER NOT NULL DEFAULT 0,
          frozen INTEGER NOT NULL DEFAULT 0,
          join_policy TEXT NOT NULL,
          -- The pair key of DIRECT conversations; "~" + id for the others (unique, no partial index needed).
          direct_key TEXT NOT NULL,
          last_seq INTEGER NOT NULL DEFAULT 0,
          countable_seq INTEGER NOT NULL DEFAULT 0,
          activity_ms INTEGER NOT NULL,
          change_ms INTEGER NOT NULL,
          last_message_seq INTEGER NOT NULL DEFAULT 0,
          last_message TEXT,
          PRIMARY KEY (tenant_id, id),
          UNIQUE (tenant_id, direct_key)
        ) STRICT;
        CREATE INDEX conversations_activity ON conversations (tenant_id, activity_ms, id);
        CREATE INDEX conversations_change ON conversations (tenant_id, change_ms, id);
        CREATE TABLE members (
          tenant_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          role TEXT NOT NULL,
          joined_seq INTEGER NOT NULL,
          join_time_ms INTEGER NOT NULL,
          active INTEGER NOT NULL,
          left_seq INTEGER NOT NULL DEFAULT 0,
          left_time_ms INTEGER NOT NULL DEFAULT 0,
          state_seq INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, conversation_id, user_id)
        ) STRICT;
        CREATE INDEX members_by_joined ON members (tenant_id, conversation_id, active, joined_seq, user_id);
        CREATE INDEX members_by_user ON members (tenant_id, user_id, active);
        CREATE TABLE read_states (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          last_read_seq INTEGER NOT NULL,
          last_read_countable INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, user_id, conversation_id)
        ) STRICT;
        CREATE TABLE chat_state (
          name TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: "conversation settings seq and deletion, invites",
    up(db) {
      db.exec(`
        ALTER TABLE conversations ADD COLUMN settings_seq INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE conversations ADD COLUMN deleted_seq INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE invites (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          code_hash TEXT NOT NULL,
          created_by TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          expire_time_ms INTEGER NOT NULL,
          max_uses INTEGER NOT NULL,
          revoke_time_ms INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (tenant_id, id),
          UNIQUE (tenant_id, code_hash)
        ) STRICT;
        CREATE TABLE invite_uses (
          tenant_id TEXT NOT NULL,
          invite_id TEXT NOT NULL,
          slot INTEGER NOT NULL,
          user_id TEXT NOT NULL,
          use_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, invite_id, slot),
          UNIQUE (tenant_id, invite_id, user_id)
        ) STRICT;
      `);
    },
  },
  {
    version: 3,
    name: "message marks (reactions, pins, edits)",
    up(db) {
      db.exec(`
        CREATE TABLE message_marks (
          tenant_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          message_seq INTEGER NOT NULL,
          kind TEXT NOT NULL,
          key TEXT NOT NULL,
          user_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          present INTEGER NOT NULL,
          actor_id TEXT NOT NULL,
          time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, conversation_id, message_seq, kind, key, user_id)
        ) STRICT;
        CREATE INDEX message_marks_pins ON message_marks (tenant_id, conversation_id, kind, present, seq);
      `);
    },
  },
  {
    version: 4,
    name: "end-to-end encrypted conversations",
    up(db) {
      db.exec("ALTER TABLE conversations ADD COLUMN e2ee INTEGER NOT NULL DEFAULT 0;");
    },
  },
];

export interface OpenChatSqliteOptions {
  /** The database file (WAL, synchronous=NORMAL, busy_timeout), or ":memory:" in tests. */
  path: string;
  onMigrated?: (result: MigrationResult) => void;
}

/**
 * Opens chat's SQLite database and brings the chat tables to the newest schema. The caller owns
 * (and closes) the returned handle; the event log store may share it (`db` option). Several
 * handles on one file behave like several processes (WAL).
 */
export async function openChatSqlite(opts: OpenChatSqliteOptions): Promise<Database.Database> {
  const db = openSqliteDatabase(opts.path);
  try {
    // Freed space (a redacted body, an erased user's rows) is zeroed, not left in free pages.
    db.pragma("secure_delete = ON");
    const result = await runMigrations(sqliteMigrationTarget(db, CHAT_SQLITE_MIGRATION_TABLE), CHAT_SQLITE_MIGRATIONS);
    opts.onMigrated?.(result);
    await migrateReceiptsSqlite(db);
    await migrateModerationSqlite(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** JSON text of an object column, or null. */
export function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** The bound parameter of a list of ids (read with `json_each(?)`). */
export function idList(ids: string[]): string {
  return JSON.stringify(ids);
}
