import { InvalidArgumentError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { SEARCH_MAX_CONVERSATION_IDS, SEARCH_SNIPPET_LENGTH, type SearchDocument, type SearchHit, type SearchIndex, type SearchRequest } from "../../src/ports/search-index.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgedScope, type Instances } from "@caas/shared/testing";

/**
 * Two handles on one backend (two connections to one SQLite file; two clients on one
 * Elasticsearch index) that share one page-token secret.
 */
export type SearchIndexHarness = Instances<SearchIndex>;

const T0 = Date.UTC(2026, 0, 1);

/** A message document; seq doubles as the default version and orders the create times. */
function doc(conversationId: string, seq: number, text: string, o: Partial<SearchDocument> = {}): SearchDocument {
  return {
    messageId: `m-${conversationId}-${seq}`,
    conversationId,
    seq,
    version: seq,
    senderId: "u1",
    text,
    createTimeMs: T0 + seq * 1000,
    ...o,
  };
}

function req(query: string, conversationIds: readonly string[], o: Partial<SearchRequest> = {}): SearchRequest {
  return { query, conversationIds, pageSize: 20, ...o };
}

const ids = (hits: SearchHit[]) => hits.map((h) => h.messageId);
const highlighted = (h: SearchHit) => h.snippet.highlights.map((r) => h.snippet.text.slice(r.start, r.end));

/** The field names of the violations `p` is rejected with (it must be an InvalidArgumentError). */
async function violationsOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidArgumentError);
  return (err as InvalidArgumentError).violations.map((v) => v.field).sort();
}

/** The `SearchIndex` contract (ports/search-index.ts), run against every adapter. */
export function searchIndexContract(name: string, factory: () => Promise<SearchIndexHarness>): void {
  describe(`SearchIndex contract: ${name}`, () => {
    let h: SearchIndexHarness | undefined;
    let s: SearchIndex;
    beforeEach(async () => {
      h = await factory();
      s = h.a;
    });
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    async function put(scope: TenantScope, docs: SearchDocument[]) {
      const result = await s.index(scope, docs);
      await s.refresh(scope);
      return result;
    }

    it("finds a word case-insensitively, with its highlight and the message's fields", async () => {
      const scope = freshTenantScope();
      expect(await put(scope, [doc("c1", 1, "Hello World from the lab"), doc("c1", 2, "nothing to see", { senderId: "u2" })])).toEqual({ indexed: 2, stale: 0 });
      for (const query of ["world", "WORLD", "  wOrLd "]) {
        const page = await s.search(scope, req(query, ["c1"]));
        expect(page.nextPageToken).toBe("");
        expect(page.hits).toHaveLength(1);
        const [hit] = page.hits;
        expect(hit).toMatchObject({ messageId: "m-c1-1", conversationId: "c1", seq: 1, senderId: "u1", createTimeMs: T0 + 1000 });
        expect(hit!.score).toBeGreaterThan(0);
        expect(hit!.snippet.text).toBe("Hello World from the lab");
        expect(hit!.snippet.highlights).toEqual([{ start: 6, end: 11 }]);
      }
    });

    it("needs every word, as whole words, and treats query syntax as text", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "the quick brown fox"), doc("c1", 2, "a quick lunch"), doc("c1", 3, "slow brown bear")]);
      expect(ids((await s.search(scope, req("quick", ["c1"]))).hits).sort()).toEqual(["m-c1-1", "m-c1-2"]);
      expect(ids((await s.search(scope, req("brown quick", ["c1"]))).hits)).toEqual(["m-c1-1"]);
      expect((await s.search(scope, req("qui", ["c1"]))).hits).toEqual([]);
      expect((await s.search(scope, req("quick zebra", ["c1"]))).hits).toEqual([]);
      // Quotes, operators and wildcards are words to match, not syntax (and never an error).
      expect((await s.search(scope, req('"brown" -fox* (NEAR bear', ["c1"]))).hits).toEqual([]);
      expect(ids((await s.search(scope, req('"quick" fox* ', ["c1"]))).hits)).toEqual(["m-c1-1"]);
      const both = (await s.search(scope, req("brown fox", ["c1"]))).hits[0]!;
      expect(highlighted(both)).toEqual(["brown", "fox"]);
    });

    it("searches only the conversations it is given (the caller's ACL)", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "secret plan"), doc("c2", 1, "secret recipe"), doc("c3", 1, "secret garden")]);
      expect(ids((await s.search(scope, req("secret", ["c1"]))).hits)).toEqual(["m-c1-1"]);
      expect(ids((await s.search(scope, req("secret", ["c3", "c1", "c3"]))).hits).sort()).toEqual(["m-c1-1", "m-c3-1"]);
      expect((await s.search(scope, req("secret", ["c4"]))).hits).toEqual([]);
    });

    it("never shows, matches or removes another tenant's documents, even with equal ids", async () => {
      const tenantA = freshTenantScope();
      const tenantB = freshTenantScope();
      await put(tenantA, [doc("c1", 1, "alpha launch codes"), doc("c1", 2, "alpha team")]);
      expect((await s.search(tenantB, req("alpha", ["c1"]))).hits).toEqual([]);
      // Tenant B writes the same message and conversation ids with other text, and a stale version.
      expect(await put(tenantB, [doc("c1", 1, "beta launch", { version: 1 })])).toEqual({ indexed: 1, stale: 0 });
      expect(ids((await s.search(tenantB, req("launch", ["c1"]))).hits)).toEqual(["m-c1-1"]);
      expect(highlighted((await s.search(tenantB, req("launch", ["c1"]))).hits[0]!)).toEqual(["launch"]);
      expect((await s.search(tenantB, req("alpha", ["c1"]))).hits).toEqual([]);
      expect((await s.search(tenantB, req("launch", ["c1"]))).hits[0]!.snippet.text).toBe("beta launch");
      await s.remove(tenantB, ["m-c1-1", "m-c1-2"]);
      await s.removeConversation(tenantB, "c1");
      await s.refresh(tenantB);
      expect(ids((await s.search(tenantA, req("alpha", ["c1"]))).hits).sort()).toEqual(["m-c1-1", "m-c1-2"]);
      expect((await s.search(tenantA, req("alpha launch", ["c1"]))).hits[0]!.snippet.text).toBe("alpha launch codes");
      expect((await s.search(tenantB, req("launch", ["c1"]))).hits).toEqual([]);
    });

    it("keeps tenants and conversations apart for a caller in many conversations too", async () => {
      const tenantA = freshTenantScope();
      const tenantB = freshTenantScope();
      const many = Array.from({ length: 40 }, (_, i) => `c${i}`);
      await put(
        tenantA,
        many.map((c) => doc(c, 1, `shared word ${c}`)),
      );
      await put(
        tenantB,
        many.map((c) => doc(c, 1, `shared word ${c}`)),
      );
      await put(tenantA, [doc("outside", 1, "shared word outside")]);
      const hits = (await s.search(tenantA, req("shared word", many, { pageSize: 100 }))).hits;
      expect(hits).toHaveLength(40);
      expect(new Set(hits.map((h) => h.conversationId))).toEqual(new Set(many));
      const other = (await s.search(tenantB, req("outside", [...many, "outside"]))).hits;
      expect(other).toEqual([]);
    });

    it("upserts by messageId: a newer version replaces the text", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "see you at noon")]);
      expect(await put(scope, [doc("c1", 1, "see you at midnight", { version: 5 })])).toEqual({ indexed: 1, stale: 0 });
      expect((await s.search(scope, req("noon", ["c1"]))).hits).toEqual([]);
      const [hit] = (await s.search(scope, req("midnight", ["c1"]))).hits;
      expect(hit).toMatchObject({ messageId: "m-c1-1", seq: 1, createTimeMs: T0 + 1000 });
      expect(hit!.snippet.text).toBe("see you at midnight");
    });

    it("ignores a version that is not newer (replays and out-of-order edits), counting it stale", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "draft one"), doc("c1", 1, "final three", { version: 3 })]);
      expect(await put(scope, [doc("c1", 1, "middle two", { version: 2 }), doc("c1", 1, "draft one")])).toEqual({ indexed: 0, stale: 2 });
      expect(await put(scope, [doc("c1", 1, "final three again", { version: 3 })])).toEqual({ indexed: 0, stale: 1 });
      expect((await s.search(scope, req("middle", ["c1"]))).hits).toEqual([]);
      expect((await s.search(scope, req("draft", ["c1"]))).hits).toEqual([]);
      expect((await s.search(scope, req("again", ["c1"]))).hits).toEqual([]);
      expect((await s.search(scope, req("final", ["c1"]))).hits[0]!.snippet.text).toBe("final three");
    });

    it("keeps a redacted tombstone unsearchable and older states from resurrecting the message", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "regrettable words"), doc("c1", 2, "fine words")]);
      expect(await put(scope, [doc("c1", 1, "", { version: 7, redacted: true })])).toEqual({ indexed: 1, stale: 0 });
      expect(ids((await s.search(scope, req("words", ["c1"]))).hits)).toEqual(["m-c1-2"]);
      expect(await put(scope, [doc("c1", 1, "regrettable words edited", { version: 4 })])).toEqual({ indexed: 0, stale: 1 });
      expect((await s.search(scope, req("regrettable", ["c1"]))).hits).toEqual([]);
    });

    it("removes messages by id, idempotently, leaving the others", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "erase me please"), doc("c1", 2, "keep me please"), doc("c2", 1, "erase me too")]);
      await s.remove(scope, ["m-c1-1", "m-c2-1", "never-indexed"]);
      await s.remove(scope, ["m-c1-1"]);
      await s.remove(scope, []);
      await s.refresh(scope);
      expect(ids((await s.search(scope, req("me", ["c1", "c2"]))).hits)).toEqual(["m-c1-2"]);
      expect((await s.search(scope, req("erase", ["c1", "c2"]))).hits).toEqual([]);
    });

    it("removes a whole conversation, including writes not yet refreshed", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "project kickoff"), doc("c1", 2, "project status"), doc("c2", 1, "project budget")]);
      await s.index(scope, [doc("c1", 3, "project retro")]);
      await s.removeConversation(scope, "c1");
      await s.removeConversation(scope, "c1");
      await s.removeConversation(scope, "never-existed");
      await s.refresh(scope);
      expect(ids((await s.search(scope, req("project", ["c1", "c2"]))).hits)).toEqual(["m-c2-1"]);
    });

    it("filters by sender and by send time (after inclusive, before exclusive)", async () => {
      const scope = freshTenantScope();
      await put(scope, [
        doc("c1", 1, "status report", { senderId: "ann" }),
        doc("c1", 2, "status update", { senderId: "bob" }),
        doc("c1", 3, "status quo", { senderId: "ann" }),
        doc("c1", 4, "status check", { senderId: "ann" }),
      ]);
      expect(ids((await s.search(scope, req("status", ["c1"], { senderIds: ["ann"] }))).hits).sort()).toEqual(["m-c1-1", "m-c1-3", "m-c1-4"]);
      const window = { sentAfterMs: T0 + 2000, sentBeforeMs: T0 + 4000 };
      expect(ids((await s.search(scope, req("status", ["c1"], window))).hits).sort()).toEqual(["m-c1-2", "m-c1-3"]);
      expect(ids((await s.search(scope, req("status", ["c1"], { ...window, senderIds: ["ann"] }))).hits)).toEqual(["m-c1-3"]);
      expect(ids((await s.search(scope, req("status", ["c1"], { sentAfterMs: T0 + 4000 }))).hits)).toEqual(["m-c1-4"]);
      expect(ids((await s.search(scope, req("status", ["c1"], { sentBeforeMs: T0 + 2000 }))).hits)).toEqual(["m-c1-1"]);
    });

    it("filters by several senders, and by a seq bound per conversation (a former member's history)", async () => {
      const scope = freshTenantScope();
      await put(scope, [
        doc("c1", 1, "memo one", { senderId: "ann" }),
        doc("c1", 2, "memo two", { senderId: "bob" }),
        doc("c1", 3, "memo three", { senderId: "cid" }),
        doc("c2", 1, "memo four", { senderId: "ann" }),
        doc("c2", 5, "memo five", { senderId: "bob" }),
      ]);
      const found = async (o: Partial<SearchRequest>) => ids((await s.search(scope, req("memo", ["c1", "c2"], o))).hits).sort();
      expect(await found({ senderIds: ["ann", "bob", "ann"] })).toEqual(["m-c1-1", "m-c1-2", "m-c2-1", "m-c2-5"]);
      // c1 up to seq 2, c2 unbounded; a bound of 0 hides the whole conversation.
      expect(await found({ maxSeqs: { c1: 2 } })).toEqual(["m-c1-1", "m-c1-2", "m-c2-1", "m-c2-5"]);
      expect(await found({ maxSeqs: { c1: 2, c2: 4 } })).toEqual(["m-c1-1", "m-c1-2", "m-c2-1"]);
      expect(await found({ maxSeqs: { c1: 0, c2: 5 }, senderIds: ["bob"] })).toEqual(["m-c2-5"]);
    });

    it("orders by relevance, then newest first, then message id", async () => {
      const scope = freshTenantScope();
      const filler = "with a great many other words around it so that the match is diluted";
      await put(scope, [doc("c1", 1, "kiwi"), doc("c1", 2, `kiwi ${filler}`), doc("c1", 3, "kiwi"), doc("c2", 3, "kiwi"), doc("c1", 4, "banana bread")]);
      const hits = (await s.search(scope, req("kiwi", ["c1", "c2"]))).hits;
      // Equal scores (same text): newer first; equal times: higher message id first.
      expect(ids(hits)).toEqual(["m-c2-3", "m-c1-3", "m-c1-1", "m-c1-2"]);
      expect(hits[0]!.score).toBe(hits[2]!.score);
      expect(hits[2]!.score).toBeGreaterThan(hits[3]!.score);
    });

    it("pages through every hit exactly once, in order, whatever the page size", async () => {
      const scope = freshTenantScope();
      const docs = Array.from({ length: 11 }, (_, i) => doc(i % 2 ? "c1" : "c2", i + 1, i % 3 ? "pager message" : "pager pager message"));
      await put(scope, [...docs, doc("c3", 1, "pager elsewhere")]);
      const all = (await s.search(scope, req("pager", ["c1", "c2"], { pageSize: 100 }))).hits;
      expect(all).toHaveLength(11);
      const seen: SearchHit[] = [];
      let pageToken = "";
      const sizes: number[] = [];
      for (const pageSize of [4, 2, 3, 5, 5]) {
        const page = await s.search(scope, req("pager", ["c2", "c1"], { pageSize, pageToken }));
        seen.push(...page.hits);
        sizes.push(page.hits.length);
        pageToken = page.nextPageToken;
        if (!pageToken) break;
      }
      expect(sizes).toEqual([4, 2, 3, 2]);
      expect(ids(seen)).toEqual(ids(all));
      expect(new Set(ids(seen)).size).toBe(11);
      const exact = await s.search(scope, req("pager", ["c1", "c2"], { pageSize: 11 }));
      expect(exact.nextPageToken).toBe("");
    });

    it("refuses a page token of another tenant, another query, or altered", async () => {
      const scope = freshTenantScope();
      const other = freshTenantScope();
      const docs = [1, 2, 3].map((i) => doc("c1", i, "token test"));
      await put(scope, docs);
      await put(other, docs);
      const { nextPageToken } = await s.search(scope, req("token", ["c1"], { pageSize: 1, senderIds: ["u1"] }));
      expect(nextPageToken).not.toBe("");
      const again = { pageSize: 1, senderIds: ["u1"], pageToken: nextPageToken };
      expect((await s.search(scope, req("token", ["c1"], { ...again, pageSize: 2 }))).hits).toHaveLength(2);
      for (const [tenant, query, extra] of [
        [other, "token", {}],
        [scope, "test", {}],
        [scope, "token test", {}],
        [scope, "token", { conversationIds: ["c1", "c2"] }],
        [scope, "token", { senderIds: ["u1", "u2"] }],
        [scope, "token", { maxSeqs: { c1: 2 } }],
        [scope, "token", { sentBeforeMs: T0 + 10_000 }],
        [scope, "token", { pageToken: nextPageToken.replace(/^./, (ch) => (ch === "A" ? "B" : "A")) }],
        [scope, "token", { pageToken: "garbage" }],
      ] as const) {
        expect(await violationsOf(s.search(tenant, req(query, ["c1"], { ...again, ...extra })))).toEqual(["page_token"]);
      }
    });

    it("rejects bad search input with field violations", async () => {
      const scope = freshTenantScope();
      const c = ["c1"];
      expect(await violationsOf(s.search(scope, req("", c)))).toEqual(["query"]);
      expect(await violationsOf(s.search(scope, req("   ", c)))).toEqual(["query"]);
      expect(await violationsOf(s.search(scope, req("?! -- **", c)))).toEqual(["query"]);
      expect(await violationsOf(s.search(scope, req("x".repeat(257), c)))).toEqual(["query"]);
      expect(await violationsOf(s.search(scope, req(Array(33).fill("w").join(" "), c)))).toEqual(["query"]);
      expect(await violationsOf(s.search(scope, req("ok", [])))).toEqual(["conversation_ids"]);
      const tooMany = Array.from({ length: SEARCH_MAX_CONVERSATION_IDS + 1 }, (_, i) => `c${i}`);
      expect(await violationsOf(s.search(scope, req("ok", tooMany)))).toEqual(["conversation_ids"]);
      expect(await violationsOf(s.search(scope, req("ok", ["c1", ""])))).toEqual(["conversation_ids"]);
      for (const pageSize of [0, 101, 1.5, Number.NaN]) {
        expect(await violationsOf(s.search(scope, req("ok", c, { pageSize })))).toEqual(["page_size"]);
      }
      expect(await violationsOf(s.search(scope, req("ok", c, { senderIds: [""] })))).toEqual(["sender_ids"]);
      expect(await violationsOf(s.search(scope, req("ok", c, { senderIds: [] })))).toEqual(["sender_ids"]);
      expect(await violationsOf(s.search(scope, req("ok", c, { senderIds: Array.from({ length: 21 }, (_, i) => `u${i}`) })))).toEqual(["sender_ids"]);
      expect(await violationsOf(s.search(scope, req("ok", c, { maxSeqs: { elsewhere: 3 } })))).toEqual(["max_seqs"]);
      expect(await violationsOf(s.search(scope, req("ok", c, { maxSeqs: { [c[0]!]: -1 } })))).toEqual(["max_seqs"]);
      expect(await violationsOf(s.search(scope, req("ok", c, { sentAfterMs: 5, sentBeforeMs: 5 })))).toEqual(["sent_before_ms"]);
      expect(await violationsOf(s.search(scope, req("ok", c, { sentAfterMs: -1 })))).toEqual(["sent_after_ms"]);
      expect(await violationsOf(s.search(scope, req("", [], { pageSize: 0 })))).toEqual(["conversation_ids", "page_size", "query"]);
      // The largest allowed request is fine.
      const maxIds = tooMany.slice(0, SEARCH_MAX_CONVERSATION_IDS);
      expect((await s.search(scope, req("ok", maxIds, { pageSize: 100 }))).hits).toEqual([]);
    });

    it("refuses forged scopes and malformed documents (programming errors)", async () => {
      const scope = freshTenantScope();
      await expect(s.search(forgedScope, req("x", ["c1"]))).rejects.toThrow(TypeError);
      await expect(s.index(forgedScope, [doc("c1", 1, "x")])).rejects.toThrow(TypeError);
      await expect(s.remove(forgedScope, ["m"])).rejects.toThrow(TypeError);
      await expect(s.removeConversation(forgedScope, "c1")).rejects.toThrow(TypeError);
      for (const bad of [
        doc("c1", 1, "x", { messageId: "" }),
        doc("c1", 1, "x", { conversationId: "c".repeat(129) }),
        doc("c1", 2, "x", { version: 1 }),
        doc("c1", 0, "x"),
        doc("c1", 1, "x", { version: 1.5 }),
        doc("c1", 1, "x", { createTimeMs: -1 }),
        doc("c1", 1, "x".repeat(65_537)),
      ]) {
        await expect(s.index(scope, [doc("c1", 9, "good"), bad])).rejects.toThrow(RangeError);
      }
      await expect(
        s.index(
          scope,
          Array.from({ length: 1001 }, (_, i) => doc("c1", i + 1, "x")),
        ),
      ).rejects.toThrow(RangeError);
      await expect(s.remove(scope, [""])).rejects.toThrow(RangeError);
      await s.refresh(scope);
      expect((await s.search(scope, req("good", ["c1"]))).hits).toEqual([]);
    });

    it("folds diacritics both ways and highlights the original text", async () => {
      // Elasticsearch's standard analyzer does not fold diacritics (asciifolding lives in the
      // analysis-common module); its adapter indexes a folded copy, so both adapters agree.
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "Meet me at the Café Müller"), doc("c1", 2, "a naive idea"), doc("c1", 3, "cafe au lait")]);
      for (const query of ["cafe", "CAFÉ", "café"]) {
        expect(ids((await s.search(scope, req(query, ["c1"]))).hits).sort()).toEqual(["m-c1-1", "m-c1-3"]);
      }
      expect(ids((await s.search(scope, req("naïve", ["c1"]))).hits)).toEqual(["m-c1-2"]);
      const [hit] = (await s.search(scope, req("muller cafe", ["c1"]))).hits;
      expect(hit!.snippet.text).toBe("Meet me at the Café Müller");
      expect(highlighted(hit!)).toEqual(["Café", "Müller"]);
      // Text is stored NFC: a decomposed "é" is found and highlighted as one character.
      await put(scope, [doc("c1", 4, "re\u0301sume\u0301 attached")]);
      const [resume] = (await s.search(scope, req("resume", ["c1"]))).hits;
      expect(highlighted(resume!)).toEqual(["résumé"]);
    });

    it("cuts a long message to a snippet around the first match", async () => {
      const scope = freshTenantScope();
      const before = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
      const after = Array.from({ length: 60 }, (_, i) => `tail${i}`).join(" ");
      await put(scope, [doc("c1", 1, `${before} needle 🎯 ${after} needle`)]);
      const [hit] = (await s.search(scope, req("needle", ["c1"]))).hits;
      const { text } = hit!.snippet;
      expect(text.startsWith("…word")).toBe(true);
      expect(text.endsWith("…")).toBe(true);
      expect(text.length).toBeLessThanOrEqual(SEARCH_SNIPPET_LENGTH + 2);
      expect(text).toContain("needle 🎯 tail0");
      expect(highlighted(hit!)).toEqual(["needle"]);
    });

    it("is shared by the instances on one backend", async () => {
      const scope = freshTenantScope();
      const { a, b } = h!;
      await a.index(scope, [doc("c1", 1, "written by instance a")]);
      await b.refresh(scope);
      expect(ids((await b.search(scope, req("instance", ["c1"]))).hits)).toEqual(["m-c1-1"]);
      await b.remove(scope, ["m-c1-1"]);
      await a.refresh(scope);
      expect((await a.search(scope, req("instance", ["c1"]))).hits).toEqual([]);
    });
  });
}
