import type Database from "better-sqlite3";

/** One schema step. Versions are positive, unique and applied in ascending order, once each. */
export interface Migration<Db> {
  version: number;
  name: string;
  up(db: Db): void | Promise<void>;
}

/** Where a store records which migrations ran (a table in SQLite, a collection in MongoDB). */
export interface MigrationTarget<Db> {
  db: Db;
  /** Versions already applied. */
  applied(): Promise<number[]>;
  /** Runs `m.up` and records it, atomically where the store allows it. */
  apply(m: Migration<Db>): Promise<void>;
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Brings a store up to the newest migration. Refuses a store that has a version this code does
 * not know (a newer release wrote it: downgrades are not supported) and a migration list whose
 * versions are not strictly increasing.
 */
export async function runMigrations<Db>(target: MigrationTarget<Db>, migrations: Migration<Db>[]): Promise<MigrationResult> {
  for (let i = 0; i < migrations.length; i++) {
    const m = migrations[i]!;
    if (!Number.isInteger(m.version) || m.version <= 0) throw new Error(`migration ${m.name}: version must be a positive integer`);
    if (i > 0 && m.version <= migrations[i - 1]!.version) throw new Error(`migration ${m.name}: versions must be strictly increasing`);
  }
  const done = new Set(await target.applied());
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...done].filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new Error(`store has migrations ${unknown.join(", ")} that this release does not know: refusing to run an older release on newer data`);
  }
  const from = Math.max(0, ...done);
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await target.apply(m);
    applied.push(m.version);
  }
  return { from, to: Math.max(from, ...applied), applied };
}

/**
 * Migration bookkeeping in a `schema_migrations` table; each step runs in one transaction.
 * `table` names another bookkeeping table, so a store that shares a database file with others
 * (each running its own migration list) keeps its versions apart from theirs.
 */
export function sqliteMigrationTarget(db: Database.Database, table = "schema_migrations"): MigrationTarget<Database.Database> {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) throw new RangeError(`invalid migration table name ${JSON.stringify(table)}`);
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);
  return {
    db,
    applied: async () => (db.prepare(`SELECT version FROM ${table} ORDER BY version`).all() as { version: number }[]).map((r) => r.version),
    apply: async (m) => {
      const tx = db.transaction(() => {
        const r = m.up(db);
        if (r instanceof Promise) throw new Error(`migration ${m.name}: SQLite migrations must be synchronous`);
        db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`).run(m.version, m.name, new Date().toISOString());
      });
      tx();
    },
  };
}
