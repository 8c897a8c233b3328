import type Database from "better-sqlite3";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";

/** The bookkeeping table of the crypto schema. */
export const CRYPTO_SQLITE_MIGRATION_TABLE = "crypto_schema_migrations";

/** The crypto service's SQLite schema steps. Append only; keys of tenant data lead with tenant_id. */
export const CRYPTO_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "devices, one-time prekeys, device-list history, directory signing key",
    up(db) {
      // One-time prekeys stay after their claim (claimed = 1, public key cleared) so a replayed
      // upload of a used id is recognised; they go with their device registration.
      db.exec(`
        CREATE TABLE devices (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          device_id INTEGER NOT NULL,
          generation TEXT NOT NULL,
          registration_id INTEGER NOT NULL,
          identity_key BLOB NOT NULL,
          signed_key_id INTEGER NOT NULL,
          signed_public BLOB NOT NULL,
          signed_signature BLOB NOT NULL,
          previous_key_id INTEGER,
          previous_public BLOB,
          previous_signature BLOB,
          previous_expire_ms INTEGER,
          kyber_key_id INTEGER NOT NULL,
          kyber_public BLOB NOT NULL,
          kyber_signature BLOB NOT NULL,
          create_time_ms INTEGER NOT NULL,
          update_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, user_id, device_id)
        ) STRICT;
        CREATE TABLE one_time_keys (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          device_id INTEGER NOT NULL,
          generation TEXT NOT NULL,
          key_id INTEGER NOT NULL,
          public_key BLOB,
          claimed INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (tenant_id, user_id, device_id, generation, key_id)
        ) STRICT;
        CREATE INDEX one_time_keys_unclaimed ON one_time_keys (tenant_id, user_id, device_id, generation, claimed, key_id);
        CREATE TABLE device_history (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          change BLOB NOT NULL,
          signature BLOB NOT NULL,
          key_id TEXT NOT NULL,
          PRIMARY KEY (tenant_id, user_id, seq)
        ) STRICT;
        CREATE TABLE signing_keys (
          name TEXT NOT NULL PRIMARY KEY,
          key_id TEXT NOT NULL,
          private_der BLOB NOT NULL,
          public_key BLOB NOT NULL
        ) STRICT;
      `);
    },
  },
];

/** Opens (creating and migrating) crypto's SQLite file. */
export async function openCryptoSqlite(opts: { path: string; onMigrated?: (result: MigrationResult) => void }): Promise<Database.Database> {
  const db = openSqliteDatabase(opts.path);
  try {
    const result = await runMigrations(sqliteMigrationTarget(db, CRYPTO_SQLITE_MIGRATION_TABLE), CRYPTO_SQLITE_MIGRATIONS);
    opts.onMigrated?.(result);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
