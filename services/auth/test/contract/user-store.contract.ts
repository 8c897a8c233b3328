import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UserProfile } from "../../src/ports/user-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const forged = { tenantId: "forged" } as never;

function profile(id: string, o: Partial<UserProfile> = {}): UserProfile {
  return { id, displayName: `User ${id}`, avatarUrl: "", custom: "", roles: [], ...o };
}

/** The UserStore contract, run against every adapter. */
export function userStoreContract(name: string, open: OpenInstances): void {
  describe(`UserStore contract: ${name}`, () => {
    let s: Instances;
    let scope: TenantScope;
    beforeEach(async () => {
      s = await open();
      scope = freshTenantScope();
    });
    afterEach(async () => {
      await s.close();
    });

    it("creates on the first upsert and replaces the profile after, keeping status and create time", async () => {
      const first = await s.a.users.upsert(scope, profile("alice", { roles: ["member"], custom: '{"plan":"pro"}', avatarUrl: "https://x.test/a.png" }), 1000);
      expect(first).toEqual({
        created: true,
        user: {
          tenantId: scope.tenantId,
          id: "alice",
          displayName: "User alice",
          avatarUrl: "https://x.test/a.png",
          custom: '{"plan":"pro"}',
          roles: ["member"],
          status: "active",
          createTimeMs: 1000,
          updateTimeMs: 1000,
        },
      });
      await s.b.users.setStatus(scope, "alice", "deactivated", 1500);
      const second = await s.b.users.upsert(scope, profile("alice", { displayName: "Alice", roles: ["admin", "member"] }), 2000);
      expect(second).toEqual({
        created: false,
        user: {
          tenantId: scope.tenantId,
          id: "alice",
          displayName: "Alice",
          avatarUrl: "",
          custom: "",
          roles: ["admin", "member"],
          status: "deactivated",
          createTimeMs: 1000,
          updateTimeMs: 2000,
        },
      });
      expect(await s.a.users.get(scope, "alice")).toEqual(second.user);
    });

    it("creates a new id once when two instances upsert it at the same time", async () => {
      const results = await Promise.all([s.a.users.upsert(scope, profile("bob", { displayName: "from a" }), 1000), s.b.users.upsert(scope, profile("bob", { displayName: "from b" }), 1000)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(["from a", "from b"]).toContain((await s.a.users.get(scope, "bob"))?.displayName);
      expect(await s.a.users.list(scope, { limit: 10 })).toHaveLength(1);
    });

    it("createIfAbsent creates a new id once and leaves an existing user (profile and status) as it is, per tenant", async () => {
      const raced = await Promise.all([s.a.users.createIfAbsent(scope, profile("eve"), 1000), s.b.users.createIfAbsent(scope, profile("eve"), 1000)]);
      expect(raced.filter((r) => r.created)).toHaveLength(1);
      expect(raced[0].user).toMatchObject({ id: "eve", status: "active", createTimeMs: 1000, tenantId: scope.tenantId });
      await s.a.users.upsert(scope, profile("fay", { displayName: "Fay", roles: ["admin"] }), 1000);
      await s.a.users.setStatus(scope, "fay", "deactivated", 1500);
      const kept = await s.b.users.createIfAbsent(scope, profile("fay"), 2000);
      expect(kept.created).toBe(false);
      expect(kept.user).toMatchObject({ displayName: "Fay", roles: ["admin"], status: "deactivated", updateTimeMs: 1500 });
      const other = freshTenantScope();
      expect((await s.a.users.createIfAbsent(other, profile("fay"), 3000)).created).toBe(true);
      expect((await s.b.users.get(scope, "fay"))?.status).toBe("deactivated");
      await expect(s.a.users.createIfAbsent(forged, profile("x"), 1000)).rejects.toThrow();
    });

    it("lists in id order with a keyset and a status filter", async () => {
      for (const id of ["d", "a", "c", "e", "b"]) await s.a.users.upsert(scope, profile(id), 1000);
      await s.a.users.setStatus(scope, "c", "deactivated", 2000);
      const page1 = await s.b.users.list(scope, { limit: 2 });
      expect(page1.map((u) => u.id)).toEqual(["a", "b"]);
      const page2 = await s.b.users.list(scope, { limit: 10, afterId: "b" });
      expect(page2.map((u) => u.id)).toEqual(["c", "d", "e"]);
      expect((await s.b.users.list(scope, { limit: 10, status: "deactivated" })).map((u) => u.id)).toEqual(["c"]);
      expect((await s.b.users.list(scope, { limit: 10, status: "active", afterId: "a" })).map((u) => u.id)).toEqual(["b", "d", "e"]);
    });

    it("sets the status idempotently and deletes, after which the id can be created again", async () => {
      await s.a.users.upsert(scope, profile("carol"), 1000);
      const off = await s.b.users.setStatus(scope, "carol", "deactivated", 2000);
      expect(off).toMatchObject({ status: "deactivated", updateTimeMs: 2000 });
      expect(await s.a.users.setStatus(scope, "carol", "deactivated", 3000)).toMatchObject({ status: "deactivated", updateTimeMs: 2000 });
      expect(await s.a.users.setStatus(scope, "carol", "active", 4000)).toMatchObject({ status: "active", updateTimeMs: 4000 });
      expect(await s.a.users.setStatus(scope, "nobody", "active", 4000)).toBeUndefined();
      expect(await s.b.users.delete(scope, "carol")).toBe(true);
      expect(await s.a.users.get(scope, "carol")).toBeUndefined();
      expect(await s.a.users.delete(scope, "carol")).toBe(false);
      expect((await s.a.users.upsert(scope, profile("carol"), 5000)).created).toBe(true);
    });

    it("keeps tenants apart: one user id in two tenants is two users, and no scope reaches the other's", async () => {
      const other = freshTenantScope();
      await s.a.users.upsert(scope, profile("same", { displayName: "Mine" }), 1000);
      await s.a.users.upsert(other, profile("same", { displayName: "Theirs" }), 1000);
      await s.a.users.upsert(other, profile("only-theirs"), 1000);
      expect((await s.b.users.get(scope, "same"))?.displayName).toBe("Mine");
      expect(await s.b.users.get(scope, "only-theirs")).toBeUndefined();
      expect(await s.b.users.setStatus(scope, "only-theirs", "deactivated", 2000)).toBeUndefined();
      expect(await s.b.users.delete(scope, "only-theirs")).toBe(false);
      expect((await s.b.users.list(scope, { limit: 10 })).map((u) => u.id)).toEqual(["same"]);
      expect(await s.a.users.get(other, "only-theirs")).toMatchObject({ status: "active", tenantId: other.tenantId });
      await s.b.users.delete(scope, "same");
      expect((await s.a.users.get(other, "same"))?.displayName).toBe("Theirs");
    });

    it("refuses forged scopes and bad profiles", async () => {
      await expect(s.a.users.upsert(forged, profile("x"), 1)).rejects.toThrow(TypeError);
      await expect(s.a.users.get(forged, "x")).rejects.toThrow(TypeError);
      await expect(s.a.users.list(forged, { limit: 1 })).rejects.toThrow(TypeError);
      await expect(s.a.users.delete(forged, "x")).rejects.toThrow(TypeError);
      await expect(s.a.users.upsert(scope, profile(""), 1)).rejects.toThrow(RangeError);
      await expect(s.a.users.upsert(scope, profile("x", { roles: [""] }), 1)).rejects.toThrow(RangeError);
      await expect(s.a.users.setStatus(scope, "x", "banned" as never, 1)).rejects.toThrow(RangeError);
      expect(await s.a.users.list(scope, { limit: 10 })).toEqual([]);
    });
  });
}
