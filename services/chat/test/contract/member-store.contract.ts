import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MemberStore, NewMember } from "../../src/ports/member-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

/** The MemberStore contract, run against every adapter. */
export function memberStoreContract(name: string, open: OpenInstances): void {
  describe(`MemberStore contract: ${name}`, () => {
    let inst: Instances;
    let store: MemberStore;
    let scope: TenantScope;
    let conv: string;
    const member = (userId: string, o: Partial<NewMember> = {}): NewMember => ({ conversationId: conv, userId, role: "member", joinedSeq: 1, joinTimeMs: T0, ...o });

    beforeEach(async () => {
      inst = await open();
      store = inst.a.members;
      scope = freshTenantScope();
      conv = newId();
    });
    afterEach(() => inst.close());

    it("joins idempotently: an active row is returned unchanged", async () => {
      const row = await store.join(scope, member("ann", { role: "owner" }));
      expect(row).toEqual({ ...member("ann", { role: "owner" }), active: true, leftSeq: 0, leftTimeMs: 0, stateSeq: 1 });
      expect(await inst.b.members.join(scope, member("ann", { role: "admin", joinedSeq: 7 }))).toEqual(row);
      expect(await store.get(scope, conv, "ann")).toEqual(row);
      expect(await store.get(scope, conv, "bob")).toBeUndefined();
    });

    it("ends a membership at its event's seq, once, and ignores older events", async () => {
      await store.join(scope, member("ann", { joinedSeq: 3 }));
      expect(await store.leave(scope, conv, "ann", 2, T0 + 2)).toBe(false);
      expect(await inst.b.members.leave(scope, conv, "ann", 5, T0 + 5)).toBe(true);
      expect(await store.leave(scope, conv, "ann", 6, T0 + 6)).toBe(false);
      expect(await store.get(scope, conv, "ann")).toMatchObject({ active: false, leftSeq: 5, leftTimeMs: T0 + 5, stateSeq: 5, joinedSeq: 3 });
      expect(await store.leave(scope, conv, "nobody", 9, T0)).toBe(false);
    });

    it("reactivates a former member only for a newer join", async () => {
      await store.join(scope, member("ann", { joinedSeq: 2 }));
      await store.leave(scope, conv, "ann", 4, T0 + 4);
      expect(await store.join(scope, member("ann", { joinedSeq: 3 }))).toMatchObject({ active: false, leftSeq: 4 });
      expect(await store.join(scope, member("ann", { joinedSeq: 8, role: "admin", joinTimeMs: T0 + 8 }))).toEqual({
        ...member("ann", { joinedSeq: 8, role: "admin", joinTimeMs: T0 + 8 }),
        active: true,
        leftSeq: 0,
        leftTimeMs: 0,
        stateSeq: 8,
      });
    });

    it("changes roles in seq order, for active members only", async () => {
      await store.join(scope, member("ann", { joinedSeq: 2 }));
      expect(await store.setRole(scope, conv, "ann", "admin", 5)).toBe(true);
      expect(await inst.b.members.setRole(scope, conv, "ann", "member", 4)).toBe(false);
      expect((await store.get(scope, conv, "ann"))?.role).toBe("admin");
      await store.leave(scope, conv, "ann", 6, T0);
      expect(await store.setRole(scope, conv, "ann", "owner", 7)).toBe(false);
      expect(await store.setRole(scope, conv, "bob", "owner", 7)).toBe(false);
    });

    it("lists and counts active members in (joinedSeq, userId) order with a keyset", async () => {
      await store.join(scope, member("cid", { joinedSeq: 1, role: "owner" }));
      await store.join(scope, member("bob", { joinedSeq: 2 }));
      await store.join(scope, member("ann", { joinedSeq: 2, role: "admin" }));
      await store.join(scope, member("dan", { joinedSeq: 4 }));
      await store.join(scope, member("eve", { joinedSeq: 5 }));
      await store.leave(scope, conv, "dan", 6, T0);
      const all = await store.list(scope, conv, { limit: 10 });
      expect(all.map((m) => m.userId)).toEqual(["cid", "ann", "bob", "eve"]);
      const page = await store.list(scope, conv, { limit: 2, after: { joinedSeq: 2, userId: "ann" } });
      expect(page.map((m) => m.userId)).toEqual(["bob", "eve"]);
      expect((await store.list(scope, conv, { limit: 10, role: "owner" })).map((m) => m.userId)).toEqual(["cid"]);
      expect(await store.count(scope, conv)).toBe(4);
      expect(await inst.b.members.count(scope, conv, "member")).toBe(2);
      expect(await store.count(scope, newId())).toBe(0);
      expect((await store.getMany(scope, conv, ["dan", "ann", "zed"])).map((m) => [m.userId, m.active]).sort()).toEqual([
        ["ann", true],
        ["dan", false],
      ]);
    });

    it("counts the active members of many conversations in one call, 0 for empty or unknown ones, per tenant", async () => {
      const [c1, c2, c3] = [newId(), newId(), newId()];
      for (const u of ["ann", "bob", "cid"]) await store.join(scope, { ...member(u), conversationId: c1 });
      await store.join(scope, { ...member("ann"), conversationId: c2 });
      await store.join(scope, { ...member("bob"), conversationId: c2 });
      await store.leave(scope, c2, "bob", 3, T0);
      await store.join(scope, { ...member("ann"), conversationId: c3 });
      await store.leave(scope, c3, "ann", 3, T0);
      const unknown = newId();
      const counts = await inst.b.members.countMany(scope, [c1, c2, c3, unknown]);
      expect([...counts.entries()].sort()).toEqual(
        [
          [c1, 3],
          [c2, 1],
          [c3, 0],
          [unknown, 0],
        ].sort(),
      );
      expect(await store.countMany(scope, [])).toEqual(new Map());
      const other = freshTenantScope();
      expect([...(await store.countMany(other, [c1, c2])).values()]).toEqual([0, 0]);
      await expect(
        store.countMany(
          scope,
          Array.from({ length: 1001 }, () => newId()),
        ),
      ).rejects.toThrow(RangeError);
    });

    it("lists a user's memberships: active ones, and former ones that ended after a time", async () => {
      const [c1, c2, c3] = [newId(), newId(), newId()];
      await store.join(scope, { ...member("ann"), conversationId: c1 });
      await store.join(scope, { ...member("ann"), conversationId: c2 });
      await store.join(scope, { ...member("ann"), conversationId: c3 });
      await store.join(scope, { ...member("bob"), conversationId: c1 });
      await store.leave(scope, c2, "ann", 2, T0 + 100);
      await store.leave(scope, c3, "ann", 2, T0 + 300);
      const ids = async (o?: { leftAfterMs?: number }) => (await store.ofUser(scope, "ann", o)).map((m) => m.conversationId).sort();
      expect(await ids()).toEqual([c1]);
      expect(await ids({ leftAfterMs: T0 + 200 })).toEqual([c1, c3].sort());
      expect(await ids({ leftAfterMs: 0 })).toEqual([c1, c2, c3].sort());
    });

    it("keeps one row when two instances join the same user at once", async () => {
      const rows = await Promise.all([store.join(scope, member("ann", { joinedSeq: 3 })), inst.b.members.join(scope, member("ann", { joinedSeq: 4 }))]);
      expect(rows[0]).toEqual(rows[1]);
      expect(await store.count(scope, conv)).toBe(1);
    });

    it("keeps tenants apart", async () => {
      const other = freshTenantScope();
      await store.join(scope, member("ann"));
      expect(await store.get(other, conv, "ann")).toBeUndefined();
      expect(await store.getMany(other, conv, ["ann"])).toEqual([]);
      expect(await store.list(other, conv, { limit: 10 })).toEqual([]);
      expect(await store.count(other, conv)).toBe(0);
      expect(await store.ofUser(other, "ann")).toEqual([]);
      expect(await store.leave(other, conv, "ann", 9, T0)).toBe(false);
      expect(await store.setRole(other, conv, "ann", "owner", 9)).toBe(false);
      expect(await store.get(scope, conv, "ann")).toMatchObject({ active: true, role: "member" });
    });

    it("refuses arguments every adapter refuses", async () => {
      await expect(store.get({ tenantId: scope.tenantId } as TenantScope, conv, "ann")).rejects.toThrow(TypeError);
      await expect(store.join(scope, member("a|b"))).rejects.toThrow(RangeError);
      await expect(store.join(scope, member("ann", { joinedSeq: 0 }))).rejects.toThrow(RangeError);
      await expect(store.join(scope, member("ann", { role: "king" as never }))).rejects.toThrow(RangeError);
      await expect(store.leave(scope, conv, "ann", 0, T0)).rejects.toThrow(RangeError);
      await expect(store.list(scope, conv, { limit: 1001 })).rejects.toThrow(RangeError);
    });
  });
}
