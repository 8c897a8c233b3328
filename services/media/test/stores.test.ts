import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectMongo, type MongoDb } from "@caas/shared/mongo";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { runMigrations, sqliteMigrationTarget } from "@caas/shared/migrations";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { mediaCollections, migrateMediaMongo } from "../src/adapters/media-mongo.js";
import { MEDIA_SQLITE_MIGRATION_TABLE, MEDIA_SQLITE_MIGRATIONS, openMediaSqlite } from "../src/adapters/media-sqlite.js";
import { createSqliteMediaStore } from "../src/adapters/media-store-sqlite.js";
import { mediaStoreContract } from "./contract/media-store.contract.js";
import { mongoMediaStores, sqliteMediaStores } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-media-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("media store on SQLite (embedded)", () => {
  mediaStoreContract("sqlite", sqliteMediaStores(dir));

  it("creates STRICT, tenant-led tables through the migration runner, once, and refuses newer files", async () => {
    const path = join(dir, "schema.db");
    const runs: unknown[] = [];
    for (let i = 0; i < 2; i++) (await openMediaSqlite({ path, onMigrated: (r) => runs.push(r) })).close();
    expect(runs).toEqual([
      { from: 0, to: 3, applied: [1, 2, 3] },
      { from: 3, to: 3, applied: [] },
    ]);
    const db = new Database(path);
    try {
      const tables = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != '${MEDIA_SQLITE_MIGRATION_TABLE}'`).all() as { name: string; sql: string }[];
      expect(tables.map((t) => t.name).sort()).toEqual(["media", "media_links"]);
      for (const t of tables) expect(t.sql).toMatch(/\)\s*STRICT$/);
      for (const t of ["media", "media_links"]) {
        for (const { name } of db.prepare("SELECT name FROM pragma_index_list(?)").all(t) as { name: string }[]) {
          // The sweeper's index is the one that reads across tenants (oldest open uploads first).
          if (name === "media_open_uploads") continue;
          expect((db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[])[0]!.name).toBe("tenant_id");
        }
      }
      db.prepare(`INSERT INTO ${MEDIA_SQLITE_MIGRATION_TABLE} (version, name, applied_at) VALUES (99, 'future', 'x')`).run();
    } finally {
      db.close();
    }
    await expect(openMediaSqlite({ path })).rejects.toThrow(/older release/);
  });

  it("upgrades a version-1 file: READY media keep their bytes at the upload key, which the sweeper leaves alone", async () => {
    const path = join(dir, "v1.db");
    const v1 = openSqliteDatabase(path);
    await runMigrations(sqliteMigrationTarget(v1, MEDIA_SQLITE_MIGRATION_TABLE), MEDIA_SQLITE_MIGRATIONS.slice(0, 1));
    const insert = v1.prepare(
      "INSERT INTO media (tenant_id, id, owner_id, name, mime_type, max_bytes, size_bytes, state, create_time_ms, ready_time_ms) VALUES ('t1', ?, 'alice', 'a.png', 'image/png', 10, ?, ?, 1, ?)",
    );
    insert.run("m-ready", 5, "ready", 2);
    insert.run("m-pending", 0, "pending", 0);
    v1.close();
    const db = await openMediaSqlite({ path });
    try {
      const store = createSqliteMediaStore({ db });
      const open = await store.uploadsToSweep({ createdBefore: 10, limit: 10 });
      expect(open.map((u) => u.record.id)).toEqual(["m-pending"]);
      expect(open[0]!.record.blobKey).toBe("");
      const ready = db.prepare("SELECT blob_key, upload_open FROM media WHERE id = 'm-ready'").get();
      expect(ready).toEqual({ blob_key: "media/m-ready", upload_open: 0 });
    } finally {
      db.close();
    }
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_media_stores`;

describe.skipIf(!mongoUrl)("media store on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  mediaStoreContract("mongodb protocol", mongoMediaStores(mongoUrl!, dbName));

  it("creates tenant-led indexes through the migration runner, once", async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    try {
      const db = conn.client.db(dbName) as unknown as MongoDb;
      const runs: unknown[] = [];
      for (let i = 0; i < 2; i++) await migrateMediaMongo({ db, collectionPrefix: "fresh_", onMigrated: (r) => runs.push(r) });
      expect(runs).toEqual([
        { from: 0, to: 3, applied: [1, 2, 3] },
        { from: 3, to: 3, applied: [] },
      ]);
      const indexes = await db.collection(mediaCollections("fresh_").links).indexes();
      expect(indexes.map((i) => i.name).sort()).toEqual(["_id_", "tenant_conversation_media", "tenant_media_conversation"]);
      for (const i of indexes) if (i.name !== "_id_") expect(Object.keys(i.key)[0]).toBe("tenantId");
      // The sweeper's index, the one read across tenants.
      const mediaIndexes = await db.collection(mediaCollections("fresh_").media).indexes();
      expect(mediaIndexes.find((i) => i.name === "open_uploads")?.key).toEqual({ uploadOpen: 1, createTimeMs: 1, tenantId: 1, id: 1 });
    } finally {
      await conn.close();
    }
  });
});
