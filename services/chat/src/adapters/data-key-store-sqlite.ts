import type Database from "better-sqlite3";
import { runMigrations, sqliteMigrationTarget, type Migration } from "@caas/shared/migrations";
import type { DataKeyStore, StoredDataKey, StoredReencryption } from "../ports/data-key-store.js";
import { checkId } from "./checks.js";

/** Bookkeeping table of the data-key schema in chat's SQLite file (a migration list of its own). */
const MIGRATION_TABLE = "chat_data_key_schema_migrations";

const MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "per-tenant data keys",
    up(db) {
      db.exec(`
        CREATE TABLE data_keys (
          tenant_id TEXT NOT NULL,
          key_id TEXT NOT NULL,
          generation INTEGER NOT NULL,
          wrapped BLOB NOT NULL,
          kek_id TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, key_id)
        ) STRICT;
        CREATE UNIQUE INDEX data_keys_generation ON data_keys (tenant_id, generation);
      `);
    },
  },
  {
    version: 2,
    name: "re-encryption runs",
    up(db) {
      db.exec(`
        CREATE TABLE reencryption_runs (
          tenant_id TEXT PRIMARY KEY,
          key_id TEXT NOT NULL,
          state TEXT NOT NULL,
          scanned INTEGER NOT NULL,
          resealed INTEGER NOT NULL,
          unreadable INTEGER NOT NULL,
          cursor TEXT NOT NULL,
          start_ms INTEGER NOT NULL,
          end_ms INTEGER NOT NULL,
          error TEXT NOT NULL
        ) STRICT;
        CREATE INDEX reencryption_runs_state ON reencryption_runs (state);
      `);
    },
  },
];

interface RunRow {
  tenant_id: string;
  key_id: string;
  state: StoredReencryption["state"];
  scanned: number;
  resealed: number;
  unreadable: number;
  cursor: string;
  start_ms: number;
  end_ms: number;
  error: string;
}

function runOf(r: RunRow | undefined): StoredReencryption | undefined {
  if (!r) return undefined;
  const { tenant_id, key_id, state, scanned, resealed, unreadable, cursor, start_ms, end_ms, error } = r;
  return { tenantId: tenant_id, keyId: key_id, state, scanned, resealed, unreadable, cursor, startMs: start_ms, endMs: end_ms, error };
}

interface Row {
  tenant_id: string;
  key_id: string;
  generation: number;
  wrapped: Buffer;
  kek_id: string;
  create_time_ms: number;
}

/**
 * The embedded DataKeyStore: table `data_keys` of chat's SQLite file, which runs with
 * secure_delete, so a destroyed key's bytes are zeroed in the file; the WAL keeps them until the
 * next checkpoint (chat's `scrub` truncates it after a shredding). Single machine only.
 */
export async function createSqliteDataKeyStore(opts: { db: Database.Database }): Promise<DataKeyStore> {
  const { db } = opts;
  await runMigrations(sqliteMigrationTarget(db, MIGRATION_TABLE), MIGRATIONS);
  const current = db.prepare<[string], Row>("SELECT * FROM data_keys WHERE tenant_id = ? ORDER BY generation DESC LIMIT 1");
  const get = db.prepare<[string, string], Row>("SELECT * FROM data_keys WHERE tenant_id = ? AND key_id = ?");
  const insert = db.prepare("INSERT INTO data_keys (tenant_id, key_id, generation, wrapped, kek_id, create_time_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  const overwrite = db.prepare("UPDATE data_keys SET wrapped = zeroblob(length(wrapped)) WHERE tenant_id = ?");
  const remove = db.prepare("DELETE FROM data_keys WHERE tenant_id = ?");
  const saveRun = db.prepare(
    `INSERT INTO reencryption_runs (tenant_id, key_id, state, scanned, resealed, unreadable, cursor, start_ms, end_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (tenant_id) DO UPDATE SET key_id = excluded.key_id, state = excluded.state, scanned = excluded.scanned, resealed = excluded.resealed,
       unreadable = excluded.unreadable, cursor = excluded.cursor, start_ms = excluded.start_ms, end_ms = excluded.end_ms, error = excluded.error`,
  );
  const getRun = db.prepare<[string], RunRow>("SELECT * FROM reencryption_runs WHERE tenant_id = ?");
  const running = db.prepare<[number], RunRow>("SELECT * FROM reencryption_runs WHERE state = 'running' ORDER BY start_ms LIMIT ?");
  const destroy = db.transaction((tenantId: string) => {
    overwrite.run(tenantId);
    return remove.run(tenantId).changes;
  });
  return {
    async current(tenantId) {
      return keyOf(current.get(checkId("tenantId", tenantId)));
    },
    async get(tenantId, keyId) {
      return keyOf(get.get(checkId("tenantId", tenantId), checkId("keyId", keyId)));
    },
    async insert(k) {
      return insert.run(checkId("tenantId", k.tenantId), checkId("keyId", k.keyId), k.generation, Buffer.from(k.wrapped), k.kekId, k.createTimeMs).changes === 1;
    },
    async destroyAll(tenantId) {
      return destroy.immediate(checkId("tenantId", tenantId));
    },
    async saveRun(r) {
      saveRun.run(checkId("tenantId", r.tenantId), checkId("keyId", r.keyId), r.state, r.scanned, r.resealed, r.unreadable, r.cursor, r.startMs, r.endMs, r.error);
    },
    async run(tenantId) {
      return runOf(getRun.get(checkId("tenantId", tenantId)));
    },
    async runningRuns(limit) {
      return running.all(limit).map((r) => runOf(r)!);
    },
    async close() {},
  };
}

function keyOf(r: Row | undefined): StoredDataKey | undefined {
  if (!r) return undefined;
  return { tenantId: r.tenant_id, keyId: r.key_id, generation: r.generation, wrapped: new Uint8Array(r.wrapped), kekId: r.kek_id, createTimeMs: r.create_time_ms };
}
