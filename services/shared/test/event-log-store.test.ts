import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { RUN_PREFIX, infraEnv } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { connectMongo, type MongoConnection, type MongoDb } from "../src/adapters/mongo-client.js";
import { FakeClock } from "../src/clock.js";
import { scopeFromVerifiedClaims } from "../src/tenant-scope.js";
import { createMongoEventLogStore } from "../src/eventlog/event-log-store-mongo.js";
import { createSqliteEventLogStore } from "../src/eventlog/event-log-store-sqlite.js";
import type { EventLogStore } from "../src/eventlog/event-log-store.js";
import type { MigrationResult } from "../src/migrations.js";
import { eventLogBatchContract } from "./contract/event-log-batch.contract.js";
import { eventLogStoreContract, type OpenEventLogStore } from "./contract/event-log-store.contract.js";

const dir = mkdtempSync(join(tmpdir(), "caas-eventlog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Makes a store's close() also release what was opened for it. */
function closing(store: EventLogStore, release: () => Promise<void> | void): EventLogStore {
  return {
    ...store,
    close: async () => {
      await store.close();
      await release();
    },
  };
}

// Every instance is its own connection to one file, like two processes (WAL allows it).
const sqlitePath = join(dir, "chat.db");
const openSqlite: OpenEventLogStore = (opts) => createSqliteEventLogStore({ path: sqlitePath, ...opts });
eventLogStoreContract("sqlite (embedded)", openSqlite);
eventLogBatchContract("sqlite (embedded)", openSqlite);

describe("sqlite event log store", () => {
  it("creates STRICT tables and tenant-led indexes through the migration runner", async () => {
    const path = join(dir, "fresh.db");
    const runs: MigrationResult[] = [];
    const store = await createSqliteEventLogStore({ path, clock: new FakeClock(), onMigrated: (r) => runs.push(r) });
    await store.close();
    expect(runs).toEqual([{ from: 0, to: 1, applied: [1] }]);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      const table = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'event_log'").get() as { sql: string };
      expect(table.sql).toMatch(/\)\s*STRICT$/);
      const indexes = db.prepare("SELECT name FROM pragma_index_list('event_log') ORDER BY name").all() as { name: string }[];
      const columns = indexes.map(({ name }) => (db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[]).map((c) => c.name));
      expect(columns.sort()).toEqual([
        ["tenant_id", "conversation_id", "actor_id", "client_message_id"],
        ["tenant_id", "conversation_id", "seq"],
        ["tenant_id", "conversation_id", "seq"],
      ]);
      expect(db.prepare("SELECT version FROM schema_migrations").all()).toEqual([{ version: 1 }]);
    } finally {
      db.close();
    }
  });

  it("fsyncs each group commit (synchronous=FULL) by default and leaves the connection's NORMAL to the other stores", async () => {
    for (const sync of ["full", "normal"] as const) {
      const statements: string[] = [];
      const db = new Database(join(dir, `sync-${sync}.db`), { verbose: (sql) => statements.push(String(sql)) });
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      const store = await createSqliteEventLogStore({ db, clock: new FakeClock(), ...(sync === "full" ? {} : { sync }) });
      statements.length = 0;
      const scope = scopeFromVerifiedClaims({ tenant: "t1" });
      const append = (n: number) =>
        store.append(scope, { conversationId: "c1", eventId: `e${n}`, actorId: "u1", clientMessageId: `m${n}`, payloadHash: "h", countable: true, encode: () => new Uint8Array([n]) });
      // Two appends in one tick: one group commit.
      await Promise.all([append(1), append(2)]);
      const pragmas = statements.filter((s) => s.startsWith("PRAGMA"));
      const inserts = statements.filter((s) => s.startsWith("INSERT"));
      expect(inserts).toHaveLength(2);
      if (sync === "full") {
        expect(pragmas).toEqual(["PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL"]);
        expect(statements.indexOf(pragmas[0]!)).toBeLessThan(statements.indexOf(inserts[0]!));
        expect(statements.lastIndexOf(pragmas[1]!)).toBeGreaterThan(statements.lastIndexOf(inserts[1]!));
      } else {
        expect(pragmas).toEqual([]);
      }
      expect(db.pragma("synchronous", { simple: true })).toBe(1);
      await store.close();
      db.close();
    }
  });

  it("runs on a database owned by the caller and leaves it open", async () => {
    const db = new Database(":memory:");
    const store = await createSqliteEventLogStore({ db, clock: new FakeClock() });
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare("SELECT count(*) AS n FROM event_log").get()).toEqual({ n: 0 });
    db.close();
    await expect(createSqliteEventLogStore({ clock: new FakeClock() })).rejects.toThrow(/exactly one/);
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_eventlog`;

describe.skipIf(!mongoUrl)("mongo event log store", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  // Every instance gets its own MongoClient, like two chat processes.
  const openMongo: OpenEventLogStore = async (opts) => {
    const conn = await connectMongo(mongoUrl!, dbName, { appName: "eventlog-contract" });
    try {
      return closing(await createMongoEventLogStore({ db: conn.db, ...opts }), () => conn.close());
    } catch (err) {
      await conn.close();
      throw err;
    }
  };
  eventLogStoreContract("mongodb protocol (cluster; FerretDB here)", openMongo);
  eventLogBatchContract("mongodb protocol (cluster; FerretDB here)", openMongo);

  it("abandons an append whose caller leaves while the head is read, before its insert: nothing is written", async () => {
    const conn: MongoConnection = await connectMongo(mongoUrl!, dbName);
    try {
      // The caller goes away during the reads that find the head (an overloaded server answers
      // them slowly), after the append's turn in its lane has come.
      const leaving = new AbortController();
      let armed = false;
      const db: MongoDb = {
        collection: (name, o) =>
          new Proxy(conn.db.collection(name, o), {
            get(target, prop) {
              const v: unknown = Reflect.get(target, prop);
              if (typeof v !== "function") return v;
              return (...args: unknown[]) => {
                if (armed && (prop === "find" || prop === "findOne")) leaving.abort();
                return (v as (...a: unknown[]) => unknown).apply(target, args);
              };
            },
          }),
      };
      const store = await createMongoEventLogStore({ db, collectionPrefix: "abandon_", clock: new FakeClock() });
      const scope = scopeFromVerifiedClaims({ tenant: `t-abandon-${Date.now()}` });
      const conversationId = `c-${Date.now()}`;
      const append = (clientMessageId: string, signal?: AbortSignal) =>
        store.append(scope, {
          conversationId,
          eventId: `e-${clientMessageId}`,
          actorId: "u1",
          clientMessageId,
          payloadHash: "h",
          countable: true,
          ...(signal ? { signal } : {}),
          encode: () => new TextEncoder().encode(clientMessageId),
        });
      armed = true;
      await expect(append("m-1", leaving.signal)).rejects.toMatchObject({ code: Code.Canceled });
      armed = false;
      expect(await store.read(scope, conversationId, 0, 10)).toEqual([]);
      // The retry commits it once.
      expect((await append("m-1")).kind).toBe("appended");
      expect((await store.read(scope, conversationId, 0, 10)).map((e) => [e.seq, e.clientMessageId])).toEqual([[1, "m-1"]]);
      await store.close();
    } finally {
      await conn.close();
    }
  });

  it("creates its unique indexes through the migration runner, once", async () => {
    const conn: MongoConnection = await connectMongo(mongoUrl!, dbName);
    try {
      const runs: MigrationResult[] = [];
      const open = () => createMongoEventLogStore({ db: conn.db, collectionPrefix: "fresh_", clock: new FakeClock(), onMigrated: (r) => runs.push(r) });
      await (await open()).close();
      await (await open()).close();
      expect(runs).toEqual([
        { from: 0, to: 1, applied: [1] },
        { from: 1, to: 1, applied: [] },
      ]);
      const indexes = await conn.db.collection("fresh_event_log").indexes();
      const shape = indexes.map((i) => [i.name, Object.keys(i.key), i.unique === true]).sort();
      expect(shape).toEqual([
        ["_id_", ["_id"], false],
        ["outbox", ["published", "tenantId", "conversationId", "seq"], false],
        ["tenant_conversation_actor_client_message_id", ["tenantId", "conversationId", "actorId", "clientMessageId"], true],
        ["tenant_conversation_seq", ["tenantId", "conversationId", "seq"], true],
      ]);
    } finally {
      await conn.close();
    }
  });
});
