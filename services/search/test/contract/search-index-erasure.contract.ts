import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SearchDocument, SearchIndex } from "../../src/ports/search-index.js";
import type { SearchIndexHarness } from "./search-index.contract.js";

const T0 = Date.UTC(2026, 0, 1);

function doc(conversationId: string, seq: number, senderId: string, text: string): SearchDocument {
  return { messageId: `m-${conversationId}-${seq}`, conversationId, seq, version: seq, senderId, text, createTimeMs: T0 + seq * 1000 };
}

/** `SearchIndex.removeSender` (data-subject erasure) and `removeTenant` (tenant deletion), run against every adapter. */
export function searchIndexErasureContract(name: string, factory: () => Promise<SearchIndexHarness>): void {
  describe(`SearchIndex erasure contract: ${name}`, () => {
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

    it("removes a sender's documents in batches, tombstones included, and nobody else's nor another tenant's", async () => {
      const scope = freshTenantScope();
      const other = freshTenantScope();
      const docs = [1, 2, 3, 4, 5].map((seq) => doc("c1", seq, seq % 2 === 1 ? "ann" : "bob", `report number ${seq}`));
      await s.index(scope, [...docs, doc("c2", 1, "ann", "report elsewhere")]);
      await s.index(scope, [{ ...doc("c2", 2, "ann", ""), redacted: true }]);
      await s.index(other, [doc("c1", 1, "ann", "report of the other tenant")]);
      await s.refresh(scope);
      await s.refresh(other);
      // Five of ann's documents (one a tombstone): batches of two until a short one.
      const batches: number[] = [];
      for (let n = 2; n === 2;) batches.push((n = await h!.b.removeSender(scope, "ann", 2)));
      expect(batches).toEqual([2, 2, 1]);
      expect(await s.removeSender(scope, "ann", 10)).toBe(0);
      expect(await s.removeSender(scope, "nobody", 10)).toBe(0);
      await s.refresh(scope);
      expect((await s.search(scope, { query: "report", conversationIds: ["c1", "c2"], pageSize: 20 })).hits.map((x) => x.messageId).sort()).toEqual(["m-c1-2", "m-c1-4"]);
      expect((await s.search(other, { query: "report", conversationIds: ["c1"], pageSize: 20 })).hits.map((x) => x.messageId)).toEqual(["m-c1-1"]);
      await expect(s.removeSender(scope, "ann", 0)).rejects.toThrow(RangeError);
    });

    it("removes a whole tenant's documents in batches, tombstones included, and no other tenant's", async () => {
      const scope = freshTenantScope();
      const other = freshTenantScope();
      await s.index(scope, [doc("c1", 1, "ann", "ledger one"), doc("c1", 2, "bob", "ledger two"), doc("c2", 1, "cyd", "ledger three")]);
      await s.index(scope, [{ ...doc("c2", 2, "ann", ""), redacted: true }]);
      await s.index(other, [doc("c1", 1, "ann", "ledger of the other tenant")]);
      await s.refresh(scope);
      await s.refresh(other);
      const batches: number[] = [];
      for (let n = 3; n === 3;) batches.push((n = await h!.b.removeTenant(scope, 3)));
      expect(batches).toEqual([3, 1]);
      expect(await s.removeTenant(scope, 10)).toBe(0);
      await s.refresh(scope);
      expect((await s.search(scope, { query: "ledger", conversationIds: ["c1", "c2"], pageSize: 20 })).hits).toEqual([]);
      expect((await s.search(other, { query: "ledger", conversationIds: ["c1"], pageSize: 20 })).hits.map((x) => x.messageId)).toEqual(["m-c1-1"]);
      await expect(s.removeTenant(scope, 0)).rejects.toThrow(RangeError);
    });

    it("leaves the documents of kept conversations (legal holds), however many there are", async () => {
      const scope = freshTenantScope();
      const held = [1, 2, 3, 4].map((seq) => doc("held", seq, "ann", `memo number ${seq}`));
      await s.index(scope, [...held, doc("c1", 1, "ann", "memo free"), doc("c2", 1, "ann", "memo loose"), doc("held", 9, "bob", "memo of bob")]);
      await s.refresh(scope);
      // Batches of two never fill up with the four kept documents: both free ones go.
      const batches: number[] = [];
      for (let n = 2; n === 2;) batches.push((n = await s.removeSender(scope, "ann", 2, ["held"])));
      expect(batches).toEqual([2, 0]);
      await s.refresh(scope);
      expect((await s.search(scope, { query: "memo", conversationIds: ["held", "c1", "c2"], pageSize: 20 })).hits.map((x) => x.messageId).sort()).toEqual(
        ["m-held-1", "m-held-2", "m-held-3", "m-held-4", "m-held-9"].sort(),
      );
    });
  });
}
