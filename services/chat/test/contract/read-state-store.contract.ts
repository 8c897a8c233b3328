import { newId, type TenantScope } from "@caas/shared";
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
      expect(await store.advance(scope, at(3, 2))).toEqual({ conversationId: conv, userId: "ann", lastReadSeq: 3, lastReadCountable: 2, updateTimeMs: T0 + 3 });
      expect(await inst.b.readStates.advance(scope, at(2, 1))).toMatchObject({ lastReadSeq: 3, lastReadCountable: 2, updateTimeMs: T0 + 3 });
      expect(await store.advance(scope, at(3, 3))).toMatchObject({ lastReadSeq: 3, lastReadCountable: 2 });
      expect(await store.advance(scope, at(9, 4))).toMatchObject({ lastReadSeq: 9, lastReadCountable: 4 });
      expect(await inst.b.readStates.get(scope, conv, "ann")).toMatchObject({ lastReadSeq: 9 });
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
      expect(mine.map((r) => [r.conversationId, r.lastReadSeq]).sort()).toEqual([[conv, 1], [other, 4]].sort());
      expect(await store.ofUser(scope, "ann", [])).toEqual([]);
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
