import { InvalidArgumentError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { SEARCH_INDEX_SCHEMA_VERSION, type SearchDocument, type SearchHit, type SearchIndex, type SearchRequest } from "../../src/ports/search-index.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SearchIndexHarness } from "./search-index.contract.js";

const T0 = Date.UTC(2026, 0, 1);

function doc(conversationId: string, seq: number, text: string, o: Partial<SearchDocument> = {}): SearchDocument {
  return { messageId: `m-${conversationId}-${seq}`, conversationId, seq, version: seq, senderId: "u1", text, createTimeMs: T0 + seq * 1000, ...o };
}

const req = (query: string, conversationIds: readonly string[], o: Partial<SearchRequest> = {}): SearchRequest => ({ query, conversationIds, pageSize: 20, ...o });
const ids = (hits: SearchHit[]) => hits.map((h) => h.messageId);

/**
 * The `SearchIndex` contract for the attachment filter, the two orders, the schema-upgrade write
 * rule and the schema figures (ports/search-index.ts), run against every adapter.
 */
export function searchIndexOrderContract(name: string, factory: () => Promise<SearchIndexHarness>): void {
  describe(`SearchIndex contract (filters, order, schema): ${name}`, () => {
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

    async function put(scope: TenantScope, docs: SearchDocument[], upgrade = false) {
      const result = await s.index(scope, docs, { upgrade });
      await s.refresh(scope);
      return result;
    }

    it("filters by attachments: with, without, or either", async () => {
      const scope = freshTenantScope();
      await put(scope, [doc("c1", 1, "photo of the cat", { hasAttachments: true }), doc("c1", 2, "no photo today"), doc("c1", 3, "photo again", { hasAttachments: false })]);
      expect(ids((await s.search(scope, req("photo", ["c1"], { hasAttachments: true }))).hits)).toEqual(["m-c1-1"]);
      expect(ids((await s.search(scope, req("photo", ["c1"], { hasAttachments: false }))).hits).sort()).toEqual(["m-c1-2", "m-c1-3"]);
      expect((await s.search(scope, req("photo", ["c1"]))).hits).toHaveLength(3);
      // A tombstone never keeps the flag, and never matches.
      await put(scope, [doc("c1", 1, "", { version: 9, redacted: true, hasAttachments: true })]);
      expect((await s.search(scope, req("photo", ["c1"], { hasAttachments: true }))).hits).toEqual([]);
    });

    it("orders newest first when asked, whatever the relevance, and pages in that order", async () => {
      const scope = freshTenantScope();
      const filler = "with a great many other words around it so that the match is diluted";
      await put(scope, [doc("c1", 1, "kiwi kiwi kiwi"), doc("c1", 2, `kiwi ${filler}`), doc("c2", 3, "kiwi"), doc("c1", 4, `kiwi ${filler} too`), doc("c1", 5, "banana")]);
      const byRelevance = ids((await s.search(scope, req("kiwi", ["c1", "c2"]))).hits);
      expect(byRelevance[byRelevance.length - 1]).not.toBe("m-c1-1");
      const newest = (await s.search(scope, req("kiwi", ["c1", "c2"], { order: "newest" }))).hits;
      expect(ids(newest)).toEqual(["m-c1-4", "m-c2-3", "m-c1-2", "m-c1-1"]);
      expect(newest.every((hit) => Number.isFinite(hit.score))).toBe(true);
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await s.search(scope, req("kiwi", ["c1", "c2"], { order: "newest", pageSize: 3, pageToken }));
        seen.push(...ids(page.hits));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(seen).toEqual(ids(newest));
    });

    it("binds page tokens to the order and the attachment filter", async () => {
      const scope = freshTenantScope();
      await put(
        scope,
        Array.from({ length: 4 }, (_, i) => doc("c1", i + 1, "token test", { hasAttachments: i % 2 === 0 })),
      );
      const { nextPageToken } = await s.search(scope, req("token", ["c1"], { pageSize: 1 }));
      expect(nextPageToken).not.toBe("");
      for (const other of [{ order: "newest" as const }, { hasAttachments: true }, { hasAttachments: false }]) {
        await expect(s.search(scope, req("token", ["c1"], { pageSize: 1, pageToken: nextPageToken, ...other }))).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      const bad = await s.search(scope, req("token", ["c1"], { order: "sideways" as never })).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(InvalidArgumentError);
      expect((bad as InvalidArgumentError).violations.map((v) => v.field)).toEqual(["order"]);
    });

    it("an upgrade may rewrite an equal version but never a lower one", async () => {
      const scope = freshTenantScope();
      expect(await put(scope, [doc("c1", 1, "first words"), doc("c1", 2, "", { version: 5, redacted: true })])).toEqual({ indexed: 2, stale: 0 });
      // A lower version is stale even as an upgrade: a rebuild never resurrects a deleted message.
      expect(await put(scope, [doc("c1", 2, "back from the dead")], true)).toEqual({ indexed: 0, stale: 1 });
      expect((await s.search(scope, req("dead", ["c1"]))).hits).toEqual([]);
      const equal = await put(scope, [doc("c1", 1, "first words")], true);
      expect(equal.indexed + equal.stale).toBe(1);
      expect(ids((await s.search(scope, req("first", ["c1"]))).hits)).toEqual(["m-c1-1"]);
      const status = await s.schemaStatus();
      expect(status.oldestVersion).toBe(SEARCH_INDEX_SCHEMA_VERSION);
      expect(status.documents).toBeGreaterThanOrEqual(2);
      expect(status.currentDocuments).toBe(status.documents);
      expect(await s.tenantsBelowSchema(10)).not.toContain(scope.tenantId);
      await expect(s.tenantsBelowSchema(0)).rejects.toBeInstanceOf(RangeError);
    });
  });
}
