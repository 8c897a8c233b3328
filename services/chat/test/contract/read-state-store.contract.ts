import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ReadStateStore } from "../../src/ports/read-state-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

/** The ReadStateStore and ChatStateStore contracts, run against every adapter. */
export function readStateStoreContract(name: string, open: OpenInstances): void {
  describe(`ReadStateStore contract: ${name}`, () => {
    let inst: Instances;
    let store: ReadStateStore;
    let scope: TenantScope;
    let conv: string;
    const at = (seq: number, countableSeq = seq, userId = "ann") => ({ conversationId: conv, userId, seq, countableSeq, timeMs: T0 + seq });

    beforeEach(async () => {
      inst = await open();
      store = inst.a.readStates;
      scope = freshTenantScope();
      conv = newId();
    });
    afterEach(() => inst.close());

    it("creates the position and only ever moves it forward", async () => {
      expect(await store.get(scope, conv, "ann")).toBeUndefined();
      expect(await store.advance(scope, at(3, 2))).toEqual({ conversationId: conv, userId: "ann", lastReadSeq: 3, lastReadCountable: 2, lastDeliveredSeq: 0, updateTimeMs: T0 + 3 });
      expect(await inst.b.readStates.advance(scope, at(2, 1))).toMatchObject({ lastReadSeq: 3, lastReadCountable: 2, updateTimeMs: T0 + 3 });
      expect(await store.advance(scope, at(3, 3))).toMatchObject({ lastReadSeq: 3, lastReadCountable: 2 });
      expect(await store.advance(scope, at(9, 4))).toMatchObject({ lastReadSeq: 9, lastReadCountable: 4 });
      expect(await inst.b.readStates.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 9 });
    });

    it("moveRead moves like advance, reading nothing back", async () => {
      await store.moveRead(scope, at(4, 3));
      expect(await store.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 4, lastReadCountable: 3, updateTimeMs: T0 + 4 });
      await inst.b.readStates.moveRead(scope, at(2, 1));
      await store.moveRead(scope, at(4, 4));
      expect(await inst.b.readStates.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 4, lastReadCountable: 3 });
      await Promise.all([7, 5, 9, 6].map((s, i) => (i % 2 === 0 ? store : inst.b.readStates).moveRead(scope, at(s))));
      expect(await store.advance(scope, at(8))).toMatchObject({ lastReadSeq: 9, lastReadCountable: 9 });
      await expect(store.moveRead(scope, { ...at(1), seq: -1 })).rejects.toThrow(RangeError);
    });

    it("takes the moves of one tick together: each lands, a repeated one too, and a refused one fails alone", async () => {
      await store.moveRead(scope, at(5, 5, "bea"));
      const users = ["ann", "bea", "cid", "dan"];
      const moves = [...users.map((u, i) => store.moveRead(scope, at(5 + i, 5, u))), store.moveRead(scope, at(5, 5, "bea")), store.moveRead(scope, { ...at(1, 1, "eve"), timeMs: -1 })];
      const settled = await Promise.allSettled(moves);
      expect(settled.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected"]);
      const states = await Promise.all(users.map((u) => inst.b.readStates.get(scope, conv, u)));
      expect(states.map((r) => r?.lastReadSeq)).toEqual([5, 6, 7, 8]);
      expect(await store.get(scope, conv, "eve")).toBeUndefined();
    });

    it("ends at the highest seq under concurrent moves from two instances", async () => {
      const seqs = [5, 2, 9, 7, 1, 8, 3];
      await Promise.all(seqs.map((s, i) => (i % 2 === 0 ? store : inst.b.readStates).advance(scope, at(s))));
      expect(await store.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 9, lastReadCountable: 9 });
    });

    it("reads a user's positions in several conversations", async () => {
      const other = newId();
      await store.advance(scope, at(1));
      await store.advance(scope, { ...at(4), conversationId: other });
      await store.advance(scope, at(2, 2, "bob"));
      const mine = await store.ofUser(scope, "ann", [conv, other, newId()]);
      expect(mine.map((r) => [r.conversationId, r.lastReadSeq]).sort()).toEqual(
        [
          [conv, 1],
          [other, 4],
        ].sort(),
      );
      expect(await store.ofUser(scope, "ann", [])).toEqual([]);
    });

    it("forgets a user's read and delivery positions in the named conversations only, and only in its tenant", async () => {
      const other = newId();
      const kept = newId();
      const otherTenant = freshTenantScope();
      await store.advance(scope, at(3));
      await store.advanceDelivered(scope, { conversationId: other, userId: "ann", seq: 2, timeMs: T0 });
      await store.advance(scope, { ...at(1), conversationId: kept });
      await store.advance(scope, at(2, 2, "bob"));
      await store.advance(otherTenant, at(4));
      expect(await store.forget(scope, "ann", [conv, other])).toBe(2);
      expect(await inst.b.readStates.ofUser(scope, "ann", [conv, other, kept])).toMatchObject([{ conversationId: kept, lastReadSeq: 1 }]);
      expect(await store.get(scope, conv, "bob")).toMatchObject({ lastReadSeq: 2 });
      expect(await store.get(otherTenant, conv, "ann")).toMatchObject({ lastReadSeq: 4 });
      expect(await store.forget(scope, "ann", [conv, other])).toBe(0);
      expect(await store.forget(scope, "ann", [])).toBe(0);
    });

    it("keeps tenants apart", async () => {
      const other = freshTenantScope();
      await store.advance(scope, at(5));
      expect(await store.get(other, conv, "ann")).toBeUndefined();
      expect(await store.ofUser(other, "ann", [conv])).toEqual([]);
      expect(await store.advance(other, at(1))).toMatchObject({ lastReadSeq: 1 });
      expect(await store.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 5 });
    });

    it("refuses arguments every adapter refuses", async () => {
      await expect(store.get({ tenantId: scope.tenantId } as TenantScope, conv, "ann")).rejects.toThrow(TypeError);
      await expect(store.advance(scope, { ...at(1), seq: -1 })).rejects.toThrow(RangeError);
      await expect(store.advance(scope, { ...at(1), userId: "" })).rejects.toThrow(RangeError);
      await expect(store.advanceDelivered(scope, { conversationId: conv, userId: "ann", seq: 1.5, timeMs: T0 })).rejects.toThrow(RangeError);
      await expect(store.advanceDelivered({ tenantId: scope.tenantId } as TenantScope, { conversationId: conv, userId: "ann", seq: 1, timeMs: T0 })).rejects.toThrow(TypeError);
      await expect(store.ofConversation(scope, conv, { limit: 0 })).rejects.toThrow(RangeError);
    });

    const delivered = (seq: number, userId = "ann", timeMs = T0 + 100 + seq) => ({ conversationId: conv, userId, seq, timeMs });

    it("moves the delivery marker forward only, apart from the read marker", async () => {
      expect(await store.advanceDelivered(scope, delivered(4))).toEqual({ conversationId: conv, userId: "ann", lastReadSeq: 0, lastReadCountable: 0, lastDeliveredSeq: 4, updateTimeMs: T0 + 104 });
      expect(await inst.b.readStates.advanceDelivered(scope, delivered(2))).toMatchObject({ lastDeliveredSeq: 4, updateTimeMs: T0 + 104 });
      // The read marker moves on its own and leaves the delivery marker where it is.
      expect(await store.advance(scope, at(3, 2))).toMatchObject({ lastReadSeq: 3, lastReadCountable: 2, lastDeliveredSeq: 4 });
      expect(await store.advanceDelivered(scope, delivered(9))).toMatchObject({ lastReadSeq: 3, lastDeliveredSeq: 9, updateTimeMs: T0 + 109 });
      expect(await store.advance(scope, at(2, 1))).toMatchObject({ lastReadSeq: 3, lastDeliveredSeq: 9 });
      expect(await inst.b.readStates.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 3, lastDeliveredSeq: 9 });
      expect((await store.ofUser(scope, "ann", [conv]))[0]).toMatchObject({ lastReadSeq: 3, lastDeliveredSeq: 9 });
    });

    it("ends at the highest delivery seq under concurrent moves from two instances", async () => {
      const seqs = [5, 2, 9, 7, 1, 8, 3];
      await Promise.all(seqs.map((s, i) => (i % 2 === 0 ? store : inst.b.readStates).advanceDelivered(scope, delivered(s))));
      expect(await store.get(scope, conv, "ann")).toMatchObject({ lastDeliveredSeq: 9, lastReadSeq: 0 });
    });

    it("lists a conversation's rows by user, paged, and those changed after a time", async () => {
      await store.advance(scope, { ...at(2, 2, "cid"), timeMs: T0 + 10 });
      await store.advance(scope, { ...at(5, 4, "ann"), timeMs: T0 + 20 });
      await store.advanceDelivered(scope, delivered(7, "bob", T0 + 30));
      await store.advance(scope, { ...at(9, 9, "dan"), conversationId: newId() });
      const all = await store.ofConversation(scope, conv, { limit: 10 });
      expect(all.map((r) => [r.userId, r.lastReadSeq, r.lastDeliveredSeq])).toEqual([
        ["ann", 5, 0],
        ["bob", 0, 7],
        ["cid", 2, 0],
      ]);
      expect((await inst.b.readStates.ofConversation(scope, conv, { limit: 2 })).map((r) => r.userId)).toEqual(["ann", "bob"]);
      expect((await store.ofConversation(scope, conv, { afterUserId: "bob", limit: 2 })).map((r) => r.userId)).toEqual(["cid"]);
      expect((await store.ofConversation(scope, conv, { changedAfterMs: T0 + 10, limit: 10 })).map((r) => r.userId)).toEqual(["ann", "bob"]);
      // A delivery move counts as a change of the row.
      await store.advanceDelivered(scope, delivered(3, "cid", T0 + 40));
      expect((await store.ofConversation(scope, conv, { changedAfterMs: T0 + 30, limit: 10 })).map((r) => [r.userId, r.lastReadSeq, r.lastDeliveredSeq])).toEqual([["cid", 2, 3]]);
      expect(await store.ofConversation(freshTenantScope(), conv, { limit: 10 })).toEqual([]);
    });

    it("keeps delivery markers of tenants apart", async () => {
      const other = freshTenantScope();
      await store.advanceDelivered(scope, delivered(5));
      expect(await store.get(other, conv, "ann")).toBeUndefined();
      expect(await store.advanceDelivered(other, delivered(1))).toMatchObject({ lastDeliveredSeq: 1 });
      expect(await store.get(scope, conv, "ann")).toMatchObject({ lastDeliveredSeq: 5 });
    });
  });

  describe(`ChatStateStore contract: ${name}`, () => {
    it("keeps the first value of a name, also when two instances put at once", async () => {
      const inst = await open();
      try {
        const name = `secret-${newId()}`;
        const [x, y] = await Promise.all([inst.a.state.putIfAbsent(name, "one", T0), inst.b.state.putIfAbsent(name, "two", T0)]);
        expect(x).toBe(y);
        expect(await inst.a.state.putIfAbsent(name, "three", T0)).toBe(x);
      } finally {
        await inst.close();
      }
    });
  });
}
