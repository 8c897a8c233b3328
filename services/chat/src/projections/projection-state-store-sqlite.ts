import type Database from "better-sqlite3";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";
import { checkId, checkLimit, checkSeq, tenantOf } from "../adapters/checks.js";
import type { ConversationRef, ProjectionStateStore } from "./projection-state-store.js";

/** The projector's own migration list, apart from the chat tables' (other features add those). */
export const PROJECTION_SQLITE_MIGRATION_TABLE = "projection_schema_migrations";

const MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "projection positions and version",
    up(db) {
      db.exec(`
        CREATE TABLE projection_positions (
          tenant_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, conversation_id)
        ) STRICT;
        CREATE TABLE projection_state (
          name TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
];

/**
 * The embedded-mode ProjectionStateStore, in chat's SQLite file (it reads the conversations
 * table to enumerate conversations for a full rebuild). Single machine only.
 */
export async function createSqliteProjectionStateStore(opts: { db: Database.Database; onMigrated?: (r: MigrationResult) => void }): Promise<ProjectionStateStore> {
  const { db } = opts;
  opts.onMigrated?.(await runMigrations(sqliteMigrationTarget(db, PROJECTION_SQLITE_MIGRATION_TABLE), MIGRATIONS));
  const get = db.prepare<[string, string], { seq: number }>("SELECT seq FROM projection_positions WHERE tenant_id = ? AND conversation_id = ?");
  const advance = db.prepare<[string, string, number]>(
    `INSERT INTO projection_positions (tenant_id, conversation_id, seq) VALUES (?, ?, ?)
     ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > projection_positions.seq`,
  );
  const moveExisting = db.prepare<[number, string, string, number]>("UPDATE projection_positions SET seq = ? WHERE tenant_id = ? AND conversation_id = ? AND seq < ?");
  const reset = db.prepare<[string, string]>("DELETE FROM projection_positions WHERE tenant_id = ? AND conversation_id = ?");
  const version = db.prepare<[], { value: number }>("SELECT value FROM projection_state WHERE name = 'version'");
  const setVersion = db.prepare<[number]>("INSERT INTO projection_state (name, value) VALUES ('version', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  const scan = db.prepare<[string, string, string, number], { tenant_id: string; id: string }>(
    `SELECT tenant_id, id FROM conversations WHERE deleted_seq = 0 AND (tenant_id > ? OR (tenant_id = ? AND id > ?)) ORDER BY tenant_id, id LIMIT ?`,
  );
  return {
    async position(scope, conversationId) {
      return get.get(tenantOf(scope), checkId("conversationId", conversationId))?.seq ?? 0;
    },
    async advance(scope, conversationId, seq) {
      advance.run(tenantOf(scope), checkId("conversationId", conversationId), checkSeq("seq", seq));
    },
    async moveExisting(scope, conversationId, seq) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkSeq("seq", seq);
      if (moveExisting.run(seq, tenantId, conversationId, seq).changes > 0) return true;
      return get.get(tenantId, conversationId) !== undefined;
    },
    async reset(scope, conversationId) {
      reset.run(tenantOf(scope), checkId("conversationId", conversationId));
    },
    async version() {
      return version.get()?.value ?? 0;
    },
    async setVersion(v) {
      setVersion.run(checkSeq("version", v));
    },
    async conversations(after: ConversationRef | undefined, limit) {
      const rows = scan.all(after?.tenantId ?? "", after?.tenantId ?? "", after?.conversationId ?? "", checkLimit(limit));
      return rows.map((r) => ({ tenantId: r.tenant_id, conversationId: r.id }));
    },
    async close() {},
  };
}
