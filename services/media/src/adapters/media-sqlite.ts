import type Database from "better-sqlite3";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";

/** The bookkeeping table of the media schema. */
export const MEDIA_SQLITE_MIGRATION_TABLE = "media_schema_migrations";

/** The media service's SQLite schema steps. Append only; keys of tenant data lead with tenant_id. */
export const MEDIA_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "media records and conversation links",
    up(db) {
      db.exec(`
        CREATE TABLE media (
          tenant_id TEXT NOT NULL,
          id TEXT NOT NULL,
          owner_id TEXT NOT NULL,
          name TEXT NOT NULL,
          mime_type TEXT NOT NULL,
          max_bytes INTEGER NOT NULL,
          size_bytes INTEGER NOT NULL DEFAULT 0,
          state TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          ready_time_ms INTEGER NOT NULL DEFAULT 0,
          delete_time_ms INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE TABLE media_links (
          tenant_id TEXT NOT NULL,
          media_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          link_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, media_id, conversation_id)
        ) STRICT;
        CREATE INDEX media_links_conversation ON media_links (tenant_id, conversation_id, media_id);
      `);
    },
  },
  {
    version: 2,
    name: "write-once blob keys of READY media; the upload sweeper's open-upload index",
    up(db) {
      // READY rows from version 1 keep their bytes at the upload key: that is their blob key, and
      // the sweeper must leave it alone (closed). The sweep index is the one index not led by
      // tenant_id: the sweeper alone reads across tenants, oldest first.
      db.exec(`
        ALTER TABLE media ADD COLUMN blob_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE media ADD COLUMN upload_open INTEGER NOT NULL DEFAULT 1;
        UPDATE media SET blob_key = 'media/' || id, upload_open = 0 WHERE state = 'ready';
        CREATE INDEX media_open_uploads ON media (create_time_ms, tenant_id, id) WHERE upload_open = 1;
      `);
    },
  },
  {
    version: 3,
    name: "records by owner (data-subject exports and erasures)",
    up(db) {
      db.exec("CREATE INDEX media_owner ON media (tenant_id, owner_id, id)");
    },
  },
];

/** Opens (creating and migrating) media's SQLite file. */
export async function openMediaSqlite(opts: { path: string; onMigrated?: (result: MigrationResult) => void }): Promise<Database.Database> {
  const db = openSqliteDatabase(opts.path);
  try {
    const result = await runMigrations(sqliteMigrationTarget(db, MEDIA_SQLITE_MIGRATION_TABLE), MEDIA_SQLITE_MIGRATIONS);
    opts.onMigrated?.(result);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
