import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { FakeClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import { createSqliteEventLogStore } from "@caas/shared/eventing/log-sqlite";
import { runMigrations, sqliteMigrationTarget, type MigrationResult } from "@caas/shared/migrations";
import { createElasticsearchSearchIndex, elasticsearchSearchIndexNames } from "../src/adapters/search-index-elasticsearch.js";
import { SEARCH_INDEX_MIGRATION_TABLE, SEARCH_INDEX_SQLITE_MIGRATIONS, createSqliteSearchIndex } from "../src/adapters/search-index-sqlite.js";
import { RUN_PREFIX, freshTenantScope, infraEnv } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { buildSnippet, foldDiacritics, parseMarked } from "../src/adapters/search-index-support.js";
import { searchIndexContract } from "./contract/search-index.contract.js";
import { searchIndexOrderContract } from "./contract/search-index-order.contract.js";
import { searchIndexErasureContract } from "./contract/search-index-erasure.contract.js";

const pageTokens = new PageTokenCodec(Buffer.from("search-index-test-secret"));
const dir = mkdtempSync(join(tmpdir(), "caas-search-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Two connections to one file, like two processes (WAL allows it).
const sqlitePath = join(dir, "search.db");
const sqliteHarness = async () => {
  const open = () => createSqliteSearchIndex({ path: sqlitePath, clock: new FakeClock(), pageTokens });
  const a = await open();
  const b = await open();
  return {
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
};
searchIndexContract("sqlite fts5 (embedded)", sqliteHarness);
searchIndexOrderContract("sqlite fts5 (embedded)", sqliteHarness);
searchIndexErasureContract("sqlite fts5 (embedded)", sqliteHarness);

describe("sqlite search index", () => {
  it("keeps its migrations in its own table, so it can share a file with other stores", async () => {
    const path = join(dir, "shared.db");
    const runs: MigrationResult[] = [];
    const events = await createSqliteEventLogStore({ path, clock: new FakeClock() });
    const open = () => createSqliteSearchIndex({ path, clock: new FakeClock(), pageTokens, onMigrated: (r) => runs.push(r) });
    await (await open()).close();
    await (await open()).close();
    await events.close();
    expect(runs).toEqual([
      { from: 0, to: 3, applied: [1, 2, 3] },
      { from: 3, to: 3, applied: [] },
    ]);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare(`SELECT version, name FROM ${SEARCH_INDEX_MIGRATION_TABLE}`).all()).toEqual([
        { version: 1, name: "search index" },
        { version: 2, name: "attachments flag and document schema version" },
        { version: 3, name: "documents by sender (data-subject erasure)" },
      ]);
      expect(db.prepare("SELECT version FROM schema_migrations").all()).toEqual([{ version: 1 }]);
      const table = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'search_message'").get() as { sql: string };
      expect(table.sql).toMatch(/\)\s*STRICT$/);
      const indexes = db.prepare("SELECT name FROM pragma_index_list('search_message')").all() as { name: string }[];
      const columns = indexes.map(({ name }) => (db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[]).map((c) => c.name));
      expect(columns.sort()).toEqual([
        ["schema_version", "tenant_id"],
        ["tenant_id", "conversation_id"],
        ["tenant_id", "message_id"],
        ["tenant_id", "sender_id"],
      ]);
    } finally {
      db.close();
    }
  });

  it("runs on a database owned by the caller and leaves it open; stamps rows with the clock", async () => {
    const db = new Database(":memory:");
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    const index = await createSqliteSearchIndex({ db, clock, pageTokens });
    const scope = freshTenantScope();
    await index.index(scope, [{ messageId: "m1", conversationId: "c1", seq: 1, version: 1, senderId: "u1", text: "hi", createTimeMs: 5 }]);
    await index.close();
    await index.close();
    expect(db.open).toBe(true);
    expect(db.prepare("SELECT tenant_id, indexed_time_ms FROM search_message").all()).toEqual([{ tenant_id: scope.tenantId, indexed_time_ms: clock.nowMs() }]);
    db.close();
    await expect(index.search(scope, { query: "hi", conversationIds: ["c1"], pageSize: 1 })).rejects.toThrow(/closed/);
    await expect(createSqliteSearchIndex({ clock, pageTokens })).rejects.toThrow(/exactly one/);
  });

  it("rebuilds documents of an older schema on upgrade writes only, tenant by tenant", async () => {
    const db = new Database(":memory:");
    await runMigrations(sqliteMigrationTarget(db, SEARCH_INDEX_MIGRATION_TABLE), SEARCH_INDEX_SQLITE_MIGRATIONS.slice(0, 1));
    const [a, b] = [freshTenantScope(), freshTenantScope()];
    const insert = db.prepare(
      "INSERT INTO search_message (tenant_id, message_id, conversation_id, seq, version, sender_id, create_time_ms, redacted, indexed_time_ms) VALUES (?, 'm1', 'c1', 1, 1, 'u1', 5, 0, 0)",
    );
    for (const t of [a, b]) {
      const { lastInsertRowid } = insert.run(t.tenantId);
      db.prepare("INSERT INTO search_message_fts (rowid, text, acl) VALUES (?, 'shared words', '')").run(lastInsertRowid);
    }
    const index = await createSqliteSearchIndex({ db, clock: new FakeClock(), pageTokens });
    expect(await index.schemaStatus()).toEqual({ documents: 2, currentDocuments: 0, oldestVersion: 1 });
    expect(await index.tenantsBelowSchema(10)).toEqual([a.tenantId, b.tenantId].sort());
    const state = { messageId: "m1", conversationId: "c1", seq: 1, version: 1, senderId: "u1", text: "shared words", createTimeMs: 5, hasAttachments: true };
    expect(await index.index(a, [state])).toEqual({ indexed: 0, stale: 1 });
    expect(await index.index(a, [state], { upgrade: true })).toEqual({ indexed: 1, stale: 0 });
    expect(await index.index(a, [state], { upgrade: true })).toEqual({ indexed: 0, stale: 1 });
    expect(await index.tenantsBelowSchema(10)).toEqual([b.tenantId]);
    expect(await index.schemaStatus()).toEqual({ documents: 2, currentDocuments: 1, oldestVersion: 1 });
    // The other tenant's document is untouched: no attachment flag there.
    const withFiles = (scope: typeof a) => index.search(scope, { query: "shared", conversationIds: ["c1"], pageSize: 5, hasAttachments: true });
    expect((await withFiles(a)).hits.map((h) => h.messageId)).toEqual(["m1"]);
    expect((await withFiles(b)).hits).toEqual([]);
    await index.close();
    db.close();
  });

  it("finds the same hits over many conversations whether they hold most of the file or a small share of it", async () => {
    // Over 16 conversations the adapter picks its plan by their share of the file: the words
    // alone while they hold most of it, their ACL tokens in the match once they hold little.
    const db = new Database(":memory:");
    const index = await createSqliteSearchIndex({ db, clock: new FakeClock(), pageTokens });
    const [a, b] = [freshTenantScope(), freshTenantScope()];
    const ids = Array.from({ length: 24 }, (_, i) => `c${i}`);
    const doc = (conversationId: string, n: number, text: string) => ({ messageId: `${conversationId}-m${n}`, conversationId, seq: n, version: n, senderId: "u1", text, createTimeMs: n });
    for (const scope of [a, b]) {
      // The same conversation ids and words in both tenants; every conversation has a message
      // with the word and one without.
      await index.index(
        scope,
        ids.flatMap((c, i) => [doc(c, 1, `needle ${"hay ".repeat(i)}`), doc(c, 2, "only hay")]),
      );
    }
    const searched = ids.slice(0, 20);
    const expected = searched.map((c) => `${c}-m1`).sort();
    const find = async () => (await index.search(a, { query: "needle", conversationIds: searched, pageSize: 50 })).hits.map((h) => h.messageId);
    const mostOfFile = await find();
    expect([...mostOfFile].sort()).toEqual(expected);
    // Many more rows with the word, in other conversations of both tenants.
    for (const scope of [a, b]) {
      await index.index(
        scope,
        Array.from({ length: 400 }, (_, i) => doc(`other${i}`, 1, "needle elsewhere")),
      );
    }
    const smallShare = await find();
    expect(smallShare).toEqual(mostOfFile);
    expect((await index.search(b, { query: "needle", conversationIds: searched, pageSize: 50 })).hits.map((h) => h.messageId).sort()).toEqual(expected);
    await index.close();
    db.close();
  });

  it("refuses a migration table name that is not an identifier", () => {
    expect(() => sqliteMigrationTarget(new Database(":memory:"), "x; DROP TABLE y")).toThrow(RangeError);
  });
});

describe("search snippets", () => {
  it("folds diacritics without moving offsets", () => {
    expect(foldDiacritics("Café Müller, naïve 🎯 Ångström")).toBe("Cafe Muller, naive 🎯 Angstrom");
    for (const s of ["e\u0301", "ﬁ", "ß", "😀x"]) expect(foldDiacritics(s)).toHaveLength(s.length);
  });

  it("reads marked text into ranges and keeps a short text whole", () => {
    const { text, ranges } = parseMarked("a \u0002bc\u0003\u0002d\u0003 e \u0002f\u0003");
    expect(text).toBe("a bcd e f");
    expect(ranges).toEqual([
      { start: 2, end: 5 },
      { start: 8, end: 9 },
    ]);
    expect(buildSnippet(text, ranges)).toEqual({ text, highlights: ranges });
  });

  it("never splits a surrogate pair at either end", () => {
    const text = `${"🎯".repeat(50)} needle ${"🎯".repeat(100)}`;
    const at = text.indexOf("needle");
    const { text: cut, highlights } = buildSnippet(text, [{ start: at, end: at + 6 }]);
    expect(cut).toBe(Buffer.from(cut, "utf8").toString("utf8")); // a lone surrogate would become U+FFFD
    expect(highlights.map((r) => cut.slice(r.start, r.end))).toEqual(["needle"]);
  });
});

const esUrl = infraEnv("CAAS_ELASTICSEARCH_URL");

/** The part of GET _index_template this test reads. */
interface IndexTemplates {
  index_templates: { index_template: { index_patterns: string[]; template: { mappings: { dynamic: string; _routing: unknown; properties: Record<string, unknown> } } } }[];
}

describe.skipIf(!esUrl)("elasticsearch search index", () => {
  const indexPrefix = `${RUN_PREFIX.toLowerCase()}_search_`;
  const names = elasticsearchSearchIndexNames(indexPrefix);
  // Raw JSON of the REST API (the official client is imported by the adapter only).
  const es = async <T = unknown>(path: string, init?: RequestInit): Promise<T> => (await fetch(`${esUrl}/${path}`, init)).json() as Promise<T>;

  afterAll(async () => {
    await es(names.index, { method: "DELETE" });
    await es(`_index_template/${names.template}`, { method: "DELETE" });
  });

  // Two clients on one index, like two search service instances.
  const esHarness = async () => {
    const open = () => createElasticsearchSearchIndex({ node: esUrl!, indexPrefix, pageTokens, replicas: 0 });
    const a = await open();
    const b = await open();
    return {
      a,
      b,
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  };
  searchIndexContract("elasticsearch (cluster)", esHarness);
  searchIndexOrderContract("elasticsearch (cluster)", esHarness);
  searchIndexErasureContract("elasticsearch (cluster)", esHarness);

  it("puts a composable template with explicit mappings; one shared index routed by tenant", async () => {
    const index = await createElasticsearchSearchIndex({ node: esUrl!, indexPrefix, pageTokens, replicas: 0 });
    try {
      const body = await es<IndexTemplates>(`_index_template/${names.template}`);
      const template = body.index_templates[0]!.index_template;
      expect(template.index_patterns).toEqual([`${indexPrefix}messages-*`]);
      const { mappings } = template.template;
      expect(mappings.dynamic).toBe("strict");
      expect(mappings._routing).toEqual({ required: true });
      expect(mappings.properties).toMatchObject({
        tenant_id: { type: "keyword" },
        message_id: { type: "keyword" },
        conversation_id: { type: "keyword" },
        seq: { type: "long" },
        create_time: { type: "date" },
        text: { type: "text", analyzer: "standard" },
      });
      const scope = freshTenantScope();
      await index.index(scope, [{ messageId: "m1", conversationId: "c1", seq: 1, version: 3, senderId: "u1", text: "Routed", createTimeMs: 5 }]);
      const got = await es(`${names.index}/_doc/${scope.tenantId}:m1?routing=${scope.tenantId}`);
      expect(got).toMatchObject({ _version: 3, _routing: scope.tenantId, _source: { tenant_id: scope.tenantId, message_id: "m1", text: "Routed" } });
    } finally {
      await index.close();
    }
  });

  it("rebuilds documents written before the schema version was stamped, on upgrade writes only", async () => {
    const index = await createElasticsearchSearchIndex({ node: esUrl!, indexPrefix, pageTokens, replicas: 0 });
    try {
      const [a, b] = [freshTenantScope(), freshTenantScope()];
      // Documents as the first schema wrote them: no schema_version, no has_attachments.
      for (const t of [a, b]) {
        const source = { tenant_id: t.tenantId, message_id: "m1", conversation_id: "c1", sender_id: "u1", seq: 1, create_time: 5, redacted: false, text: "older words", text_folded: "older words" };
        await es(`${names.index}/_doc/${t.tenantId}:m1?routing=${t.tenantId}&version=1&version_type=external&refresh=true`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(source),
        });
      }
      expect(await index.tenantsBelowSchema(1000)).toEqual(expect.arrayContaining([a.tenantId, b.tenantId]));
      expect((await index.schemaStatus()).oldestVersion).toBe(1);
      const state = { messageId: "m1", conversationId: "c1", seq: 1, version: 1, senderId: "u1", text: "older words", createTimeMs: 5, hasAttachments: true };
      expect(await index.index(a, [state])).toEqual({ indexed: 0, stale: 1 });
      expect(await index.index(a, [state], { upgrade: true })).toEqual({ indexed: 1, stale: 0 });
      await index.refresh(a);
      const below = await index.tenantsBelowSchema(1000);
      expect(below).toContain(b.tenantId);
      expect(below).not.toContain(a.tenantId);
      const withFiles = (scope: typeof a) => index.search(scope, { query: "older", conversationIds: ["c1"], pageSize: 5, hasAttachments: true });
      expect((await withFiles(a)).hits.map((h) => h.messageId)).toEqual(["m1"]);
      expect((await withFiles(b)).hits).toEqual([]);
      // Clean up so other tests of this run see only current documents.
      await index.remove(b, ["m1"]);
      await index.remove(a, ["m1"]);
    } finally {
      await index.close();
    }
  });
});
