import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectMongo } from "@caas/shared/mongo";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { ChatMongoDb } from "../src/adapters/chat-mongo.js";
import { openChatSqlite } from "../src/adapters/chat-sqlite.js";
import { migrateModerationMongo, moderationCollections, MODERATION_SQLITE_MIGRATION_TABLE } from "../src/adapters/moderation-schema.js";
import { blockStoreContract } from "./contract/block-store.contract.js";
import { moderationStoreContract } from "./contract/moderation-store.contract.js";
import { mongoInstances, sqliteInstances } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-moderation-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("moderation stores on SQLite (embedded)", () => {
  const open = sqliteInstances(dir);
  moderationStoreContract("sqlite", open);
  blockStoreContract("sqlite", open);

  it("creates STRICT, tenant-led tables through a migration list of its own", async () => {
    const path = join(dir, "schema.db");
    (await openChatSqlite({ path })).close();
    (await openChatSqlite({ path })).close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare(`SELECT version FROM ${MODERATION_SQLITE_MIGRATION_TABLE}`).all()).toEqual([{ version: 1 }]);
      for (const table of ["moderation", "blocks"]) {
        const sql = (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string }).sql;
        expect(sql).toMatch(/PRIMARY KEY \(tenant_id,/);
        expect(sql).toMatch(/\)\s*STRICT$/);
      }
    } finally {
      db.close();
    }
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_moderation`;

describe.skipIf(!mongoUrl)("moderation stores on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  const open = mongoInstances(mongoUrl!, dbName);
  moderationStoreContract("mongodb protocol", open);
  blockStoreContract("mongodb protocol", open);

  it("creates tenant-led indexes once", async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    try {
      const db = conn.client.db(dbName) as ChatMongoDb;
      const runs = [await migrateModerationMongo(db, "fresh_"), await migrateModerationMongo(db, "fresh_")];
      expect(runs).toEqual([
        { from: 0, to: 1, applied: [1] },
        { from: 1, to: 1, applied: [] },
      ]);
      const c = moderationCollections("fresh_");
      for (const col of [c.moderation, c.blocks]) {
        const indexes = (await db.collection(col).indexes()).filter((i) => i.name !== "_id_");
        expect(indexes).toHaveLength(1);
        expect(Object.keys(indexes[0]!.key)[0]).toBe("tenantId");
      }
    } finally {
      await conn.close();
    }
  });
});
