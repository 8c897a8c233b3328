import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectMongo } from "@caas/shared/mongo";
import { FakeClock } from "@caas/shared/clock";
import type { MigrationResult } from "@caas/shared/migrations";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { chatCollections, migrateChatMongo, type ChatMongoDb } from "../src/adapters/chat-mongo.js";
import { CHAT_SQLITE_MIGRATION_TABLE, openChatSqlite } from "../src/adapters/chat-sqlite.js";
import { receiptCollections, RECEIPTS_SQLITE_MIGRATION_TABLE } from "../src/adapters/receipts-schema.js";
import { openChatStores } from "../src/chat-stores.js";
import { PROJECTION_SQLITE_MIGRATION_TABLE } from "../src/projections/projection-state-store-sqlite.js";
import { conversationStoreContract } from "./contract/conversation-store.contract.js";
import { inviteStoreContract } from "./contract/invite-store.contract.js";
import { memberStoreContract } from "./contract/member-store.contract.js";
import { messageMarkStoreContract } from "./contract/message-mark-store.contract.js";
import { readStateStoreContract } from "./contract/read-state-store.contract.js";
import { mentionStoreContract } from "./contract/mention-store.contract.js";
import { mongoInstances, sqliteInstances } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("chat stores on SQLite (embedded)", () => {
  const open = sqliteInstances(dir);
  conversationStoreContract("sqlite", open);
  memberStoreContract("sqlite", open);
  readStateStoreContract("sqlite", open);
  mentionStoreContract("sqlite", open);
  inviteStoreContract("sqlite", open);
  messageMarkStoreContract("sqlite", open);

  it("creates STRICT, tenant-led tables next to the event log in one file, each with its own migration table", async () => {
    const path = join(dir, "schema.db");
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const stores = await openChatStores(
        { kind: "sqlite", path },
        { clock: new FakeClock(), logger: { info: (r: MigrationResult, msg: string) => runs.push(`${msg} ${JSON.stringify(r)}`) } as never },
      );
      await stores.close();
    }
    expect(runs).toEqual([
      'chat schema migrated {"from":0,"to":4,"applied":[1,2,3,4]}',
      'event log schema migrated {"from":0,"to":1,"applied":[1]}',
      'chat projections schema migrated {"from":0,"to":1,"applied":[1]}',
      'chat schema migrated {"from":4,"to":4,"applied":[]}',
      'event log schema migrated {"from":1,"to":1,"applied":[]}',
      'chat projections schema migrated {"from":1,"to":1,"applied":[]}',
    ]);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%schema_migrations'").all() as { name: string; sql: string }[];
      expect(tables.map((t) => t.name).sort()).toEqual([
        "blocks",
        "chat_state",
        "conversations",
        "data_keys",
        "event_log",
        "invite_uses",
        "invites",
        "members",
        "mentions",
        "message_marks",
        "moderation",
        "projection_positions",
        "projection_state",
        "read_states",
        "reencryption_runs",
      ]);
      for (const t of tables) expect(t.sql).toMatch(/\)\s*STRICT$/);
      const leading = (table: string) =>
        (db.prepare("SELECT name FROM pragma_index_list(?)").all(table) as { name: string }[]).map(
          ({ name }) => (db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[])[0]!.name,
        );
      for (const t of ["conversations", "members", "read_states", "invites", "invite_uses", "message_marks", "mentions", "moderation", "blocks", "projection_positions"])
        expect(new Set(leading(t))).toEqual(new Set(["tenant_id"]));
      expect(db.prepare(`SELECT version FROM ${PROJECTION_SQLITE_MIGRATION_TABLE}`).all()).toEqual([{ version: 1 }]);
      expect(db.prepare(`SELECT version FROM ${RECEIPTS_SQLITE_MIGRATION_TABLE}`).all()).toEqual([{ version: 1 }]);
      expect(db.prepare(`SELECT version FROM ${CHAT_SQLITE_MIGRATION_TABLE}`).all()).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }]);
      expect(db.prepare("SELECT version FROM schema_migrations").all()).toEqual([{ version: 1 }]);
    } finally {
      db.close();
    }
  });

  it("refuses to open a file written by a newer release", async () => {
    const path = join(dir, "newer.db");
    (await openChatSqlite({ path })).close();
    const db = new Database(path);
    db.prepare(`INSERT INTO ${CHAT_SQLITE_MIGRATION_TABLE} (version, name, applied_at) VALUES (99, 'future', 'x')`).run();
    db.close();
    await expect(openChatSqlite({ path })).rejects.toThrow(/older release/);
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_stores`;

describe.skipIf(!mongoUrl)("chat stores on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  const open = mongoInstances(mongoUrl!, dbName);
  conversationStoreContract("mongodb protocol", open);
  memberStoreContract("mongodb protocol", open);
  readStateStoreContract("mongodb protocol", open);
  mentionStoreContract("mongodb protocol", open);
  inviteStoreContract("mongodb protocol", open);
  messageMarkStoreContract("mongodb protocol", open);

  it("creates tenant-led indexes through the migration runner, once", async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    try {
      const db = conn.client.db(dbName) as ChatMongoDb;
      const runs: MigrationResult[] = [];
      for (let i = 0; i < 2; i++) await migrateChatMongo({ db, collectionPrefix: "fresh_", onMigrated: (r) => runs.push(r) });
      expect(runs).toEqual([
        { from: 0, to: 3, applied: [1, 2, 3] },
        { from: 3, to: 3, applied: [] },
      ]);
      const c = chatCollections("fresh_");
      const conversations = await db.collection(c.conversations).indexes();
      expect(conversations.find((i) => i.name === "tenant_direct_key")).toMatchObject({ key: { tenantId: 1, directKey: 1 }, unique: true });
      expect((await db.collection(c.inviteUses).indexes()).find((i) => i.name === "tenant_invite_user")).toMatchObject({ unique: true });
      expect((await db.collection(c.marks).indexes()).map((i) => i.name).sort()).toEqual(["_id_", "tenant_conversation_kind_seq", "tenant_conversation_message"]);
      const r = receiptCollections("fresh_");
      expect((await db.collection(r.mentions).indexes()).map((i) => i.name).sort()).toEqual(["_id_", "tenant_conversation_seq", "tenant_user_conversation_seq"]);
      expect(await db.collection(r.migrations).countDocuments()).toBe(1);
      for (const col of [c.conversations, c.members, c.readStates, c.invites, c.inviteUses, c.marks, r.deliveryStates, r.mentions]) {
        for (const i of await db.collection(col).indexes()) if (i.name !== "_id_") expect(Object.keys(i.key)[0]).toBe("tenantId");
      }
    } finally {
      await conn.close();
    }
  });
});
