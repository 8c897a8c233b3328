import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectMongo, type MongoDb } from "@caas/shared/mongo";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { cryptoCollections, migrateCryptoMongo } from "../src/adapters/crypto-mongo.js";
import { CRYPTO_SQLITE_MIGRATION_TABLE, openCryptoSqlite } from "../src/adapters/crypto-sqlite.js";
import { deviceHistoryStoreContract } from "./contract/device-history-store.contract.js";
import { keyStoreContract } from "./contract/key-store.contract.js";
import { mongoCryptoStores, sqliteCryptoStores } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-crypto-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("crypto stores on SQLite (embedded)", () => {
  keyStoreContract("sqlite", sqliteCryptoStores(dir));
  deviceHistoryStoreContract("sqlite", sqliteCryptoStores(dir));

  it("creates STRICT, tenant-led tables through the migration runner, once", async () => {
    const path = join(dir, "schema.db");
    const runs: unknown[] = [];
    for (let i = 0; i < 2; i++) (await openCryptoSqlite({ path, onMigrated: (r) => runs.push(r) })).close();
    expect(runs).toEqual([
      { from: 0, to: 1, applied: [1] },
      { from: 1, to: 1, applied: [] },
    ]);
    const db = new Database(path);
    try {
      const tables = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != '${CRYPTO_SQLITE_MIGRATION_TABLE}'`).all() as { name: string; sql: string }[];
      expect(tables.map((t) => t.name).sort()).toEqual(["device_history", "devices", "one_time_keys", "signing_keys"]);
      for (const t of tables) expect(t.sql).toMatch(/\)\s*STRICT$/);
      // Tenant data leads with tenant_id; the directory's signing key belongs to no tenant.
      for (const t of ["device_history", "devices", "one_time_keys"]) {
        for (const { name } of db.prepare("SELECT name FROM pragma_index_list(?)").all(t) as { name: string }[]) {
          expect((db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[])[0]!.name).toBe("tenant_id");
        }
      }
    } finally {
      db.close();
    }
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_crypto_stores`;

describe.skipIf(!mongoUrl)("crypto stores on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  keyStoreContract("mongodb protocol", mongoCryptoStores(mongoUrl!, dbName));
  deviceHistoryStoreContract("mongodb protocol", mongoCryptoStores(mongoUrl!, dbName));

  it("creates tenant-led indexes through the migration runner, once", async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    try {
      const db = conn.client.db(dbName) as unknown as MongoDb;
      const runs: unknown[] = [];
      for (let i = 0; i < 2; i++) await migrateCryptoMongo({ db, collectionPrefix: "fresh_", onMigrated: (r) => runs.push(r) });
      expect(runs).toEqual([
        { from: 0, to: 1, applied: [1] },
        { from: 1, to: 1, applied: [] },
      ]);
      const c = cryptoCollections("fresh_");
      for (const name of [c.devices, c.oneTimeKeys, c.claims]) {
        for (const i of await db.collection(name).indexes()) if (i.name !== "_id_") expect(Object.keys(i.key)[0]).toBe("tenantId");
      }
    } finally {
      await conn.close();
    }
  });
});
