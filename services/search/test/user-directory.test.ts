import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectMongo } from "@caas/shared/mongo";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import { RUN_PREFIX, infraEnv, twoMongoInstances } from "@caas/shared/testing";
import { afterAll, describe } from "vitest";
import { createMongoUserDirectory, migrateDirectoryMongo, type DirectoryMongoDb } from "../src/adapters/user-directory-mongo.js";
import { createSqliteUserDirectory } from "../src/adapters/user-directory-sqlite.js";
import type { UserDirectory } from "../src/ports/user-directory.js";
import { userDirectoryContract } from "./contract/user-directory.contract.js";

const dir = mkdtempSync(join(tmpdir(), "caas-directory-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

userDirectoryContract("sqlite (embedded)", async () => {
  const path = join(dir, `directory-${Date.now()}-${Math.random().toString(36).slice(2)}.db`);
  const dbs = [openSqliteDatabase(path), openSqliteDatabase(path)];
  const [a, b] = [await createSqliteUserDirectory({ db: dbs[0]! }), await createSqliteUserDirectory({ db: dbs[1]! })];
  return {
    a,
    b,
    close: async () => {
      for (const db of dbs) db.close();
    },
  };
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_search_directory`;

describe.skipIf(!mongoUrl)("user directory on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });
  userDirectoryContract(
    "mongodb protocol",
    twoMongoInstances<DirectoryMongoDb, UserDirectory>({
      url: mongoUrl!,
      dbName,
      name: "search",
      migrate: (db, prefix) => migrateDirectoryMongo(db, prefix),
      make: (db, prefix) => createMongoUserDirectory({ db, prefix }),
    }),
  );
});
