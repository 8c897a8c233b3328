import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectMongo } from "@caas/shared/mongo";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe } from "vitest";
import type { ChatMongoDb } from "../src/adapters/chat-mongo.js";
import { openChatSqlite } from "../src/adapters/chat-sqlite.js";
import { createMongoDataKeyStore } from "../src/adapters/data-key-store-mongo.js";
import { createSqliteDataKeyStore } from "../src/adapters/data-key-store-sqlite.js";
import { dataKeyStoreContract } from "./contract/data-key-store.contract.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-data-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describe("data keys on SQLite (embedded)", () => {
  dataKeyStoreContract("sqlite", async () => {
    const path = join(dir, `keys-${files++}.db`);
    const [da, db] = [await openChatSqlite({ path }), await openChatSqlite({ path })];
    const [a, b] = [await createSqliteDataKeyStore({ db: da }), await createSqliteDataKeyStore({ db: db })];
    return { a, b, close: async () => void (da.close(), db.close()) };
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_data_keys`;

describe.skipIf(!mongoUrl)("data keys on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });
  let prefixes = 0;
  dataKeyStoreContract("mongodb protocol", async () => {
    const collectionPrefix = `k${prefixes++}_`;
    const [ca, cb] = [await connectMongo(mongoUrl!, dbName), await connectMongo(mongoUrl!, dbName)];
    const a = await createMongoDataKeyStore({ db: ca.db as ChatMongoDb, collectionPrefix });
    const b = await createMongoDataKeyStore({ db: cb.db as ChatMongoDb, collectionPrefix });
    return { a, b, close: async () => void (await Promise.all([ca.close(), cb.close()])) };
  });
});
