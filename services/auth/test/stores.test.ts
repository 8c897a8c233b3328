import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectMongo } from "@caas/shared/mongo";
import type { MigrationResult } from "@caas/shared/migrations";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { authCollections, migrateAuthMongo, type AuthMongoDb } from "../src/adapters/auth-mongo.js";
import { openAuthSqlite } from "../src/adapters/auth-sqlite.js";
import { apiKeyStoreContract } from "./contract/api-key-store.contract.js";
import { authStateStoreContract } from "./contract/auth-state-store.contract.js";
import { passwordStoreContract } from "./contract/password-store.contract.js";
import { totpStoreContract } from "./contract/totp-store.contract.js";
import { sessionStoreContract } from "./contract/session-store.contract.js";
import { signingKeyStoreContract } from "./contract/signing-key-store.contract.js";
import { tenantStoreContract } from "./contract/tenant-store.contract.js";
import { userStoreContract } from "./contract/user-store.contract.js";
import { revocationStoreContract } from "./contract/revocation-store.contract.js";
import { mongoInstances, sqliteInstances } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-auth-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("auth stores on SQLite (embedded)", () => {
  const open = sqliteInstances(dir);
  tenantStoreContract("sqlite", open);
  apiKeyStoreContract("sqlite", open);
  userStoreContract("sqlite", open);
  signingKeyStoreContract("sqlite", open);
  authStateStoreContract("sqlite", open);
  sessionStoreContract("sqlite", open);
  passwordStoreContract("sqlite", open);
  totpStoreContract("sqlite", open);
  revocationStoreContract("sqlite", open);

  it("creates STRICT tables whose keys lead with tenant_id, through the migration runner, once", async () => {
    const path = join(dir, "schema.db");
    const runs: MigrationResult[] = [];
    (await openAuthSqlite({ path, onMigrated: (r) => runs.push(r) })).close();
    (await openAuthSqlite({ path, onMigrated: (r) => runs.push(r) })).close();
    expect(runs).toEqual([
      { from: 0, to: 4, applied: [1, 2, 3, 4] },
      { from: 4, to: 4, applied: [] },
    ]);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'schema_%'").all() as { name: string; sql: string }[];
      expect(tables.map((t) => t.name).sort()).toEqual(["api_keys", "auth_state", "passwords", "refresh_tokens", "revocations", "sessions", "signing_keys", "tenants", "totp", "totp_claims", "users"]);
      for (const t of tables) expect(t.sql).toMatch(/\)\s*STRICT$/);
      const indexColumns = (table: string) =>
        (db.prepare("SELECT name FROM pragma_index_list(?) ORDER BY name").all(table) as { name: string }[]).map(({ name }) => ({
          name,
          columns: (db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[]).map((c) => c.name),
        }));
      // Tenant data: every key leads with tenant_id, except the platform-unique API key id.
      expect(indexColumns("users").map((i) => i.columns)).toEqual([["tenant_id", "id"]]);
      expect(indexColumns("tenants").map((i) => i.columns)).toEqual([["tenant_id"]]);
      expect(indexColumns("sessions").map((i) => i.columns)).toEqual([
        ["tenant_id", "user_id", "last_seen_time_ms", "id"],
        ["tenant_id", "id"],
      ]);
      expect(indexColumns("refresh_tokens").map((i) => i.columns)).toEqual([["tenant_id", "hash"]]);
      expect(indexColumns("passwords").map((i) => i.columns)).toEqual([
        ["tenant_id", "user_id"],
        ["tenant_id", "login"],
      ]);
      expect(indexColumns("totp").map((i) => i.columns)).toEqual([["tenant_id", "user_id"]]);
      expect(indexColumns("totp_claims").map((i) => i.columns)).toEqual([["tenant_id", "user_id", "use_key"]]);
      // Platform-wide deny-set entries (every tenant's, for verifiers): ordered by id, swept by expiry.
      expect(indexColumns("revocations").map((i) => i.columns)).toEqual([["expire_time_ms"], ["id"]]);
      expect(indexColumns("api_keys")).toEqual([
        { name: "api_keys_id", columns: ["id"] },
        { name: "sqlite_autoindex_api_keys_1", columns: ["tenant_id", "id"] },
      ]);
    } finally {
      db.close();
    }
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_auth`;

describe.skipIf(!mongoUrl)("auth stores on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  const open = mongoInstances(mongoUrl!, dbName);
  tenantStoreContract("mongodb", open);
  apiKeyStoreContract("mongodb", open);
  userStoreContract("mongodb", open);
  signingKeyStoreContract("mongodb", open);
  authStateStoreContract("mongodb", open);
  sessionStoreContract("mongodb", open);
  passwordStoreContract("mongodb", open);
  totpStoreContract("mongodb", open);
  revocationStoreContract("mongodb", open);

  it("creates indexes led by tenantId through the migration runner, once", async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    try {
      const db = conn.client.db(dbName) as AuthMongoDb;
      const runs: MigrationResult[] = [];
      await migrateAuthMongo({ db, collectionPrefix: "schema_", onMigrated: (r) => runs.push(r) });
      await migrateAuthMongo({ db, collectionPrefix: "schema_", onMigrated: (r) => runs.push(r) });
      expect(runs).toEqual([
        { from: 0, to: 3, applied: [1, 2, 3] },
        { from: 3, to: 3, applied: [] },
      ]);
      const c = authCollections("schema_");
      const shape = async (name: string) => (await db.collection(name).indexes()).map((i) => [i.name, Object.keys(i.key)]).sort();
      expect(await shape(c.users)).toEqual([
        ["_id_", ["_id"]],
        ["tenant_id", ["tenantId", "id"]],
      ]);
      expect(await shape(c.apiKeys)).toEqual([
        ["_id_", ["_id"]],
        ["tenant_id_desc", ["tenantId", "id"]],
      ]);
      expect(await shape(c.sessions)).toEqual([
        ["_id_", ["_id"]],
        ["tenant_user_seen", ["tenantId", "userId", "lastSeenTimeMs", "id"]],
      ]);
    } finally {
      await conn.close();
    }
  });
});
