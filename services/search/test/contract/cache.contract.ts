import type { Cache } from "../../src/ports/cache.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgedScope, type Instances, type TestTime } from "@caas/shared/testing";

export interface CacheHarness extends Instances<Cache> {
  time: TestTime;
}

/** The `Cache` contract (ports/cache.ts), run against every adapter. */
export function cacheContract(name: string, factory: () => Promise<CacheHarness>): void {
  describe(`Cache contract: ${name}`, () => {
    let h: CacheHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.close();
    });

    it("misses, then round-trips JSON values, keeping null distinct from a miss", async () => {
      const scope = freshTenantScope();
      expect(await h.a.get(scope, "k")).toBeUndefined();
      const values: Record<string, unknown> = {
        object: { id: "c1", members: ["u1", "u2"], nested: { n: 1.5, ok: true } },
        array: [1, "two", null, { three: 3 }],
        string: "héllo ✓ \u0000 end",
        number: -42.25,
        zero: 0,
        false: false,
        null: null,
      };
      for (const [key, value] of Object.entries(values)) await h.a.set(scope, key, value, 60_000);
      for (const [key, value] of Object.entries(values)) expect(await h.a.get(scope, key)).toEqual(value);
      expect(await h.a.get(scope, "null")).toBeNull();
    });

    it("returns a fresh copy with JSON semantics", async () => {
      const scope = freshTenantScope();
      const value = { at: new Date(0), gone: undefined, list: [1] };
      await h.a.set(scope, "k", value, 60_000);
      value.list.push(2);
      const read = await h.a.get<{ at: string; list: number[] }>(scope, "k");
      expect(read).toEqual({ at: "1970-01-01T00:00:00.000Z", list: [1] });
      expect(read).not.toHaveProperty("gone");
      read!.list.push(3);
      expect(await h.a.get(scope, "k")).toEqual({ at: "1970-01-01T00:00:00.000Z", list: [1] });
    });

    it("expires an entry after its TTL", async () => {
      const scope = freshTenantScope();
      await h.a.set(scope, "short", "v", 250);
      await h.a.set(scope, "long", "w", 60_000);
      expect(await h.a.get(scope, "short")).toBe("v");
      await h.time.elapse(300);
      expect(await h.a.get(scope, "short")).toBeUndefined();
      expect(await h.a.getMany(scope, ["short", "long"])).toEqual([undefined, "w"]);
    });

    it("replaces the value and the TTL on a second set", async () => {
      const scope = freshTenantScope();
      await h.a.set(scope, "k", "first", 250);
      await h.a.set(scope, "k", "second", 60_000);
      await h.time.elapse(300);
      expect(await h.a.get(scope, "k")).toBe("second");
    });

    it("getMany answers in key order, with misses and duplicates", async () => {
      const scope = freshTenantScope();
      await h.a.set(scope, "a", 1, 60_000);
      await h.a.set(scope, "c", { three: 3 }, 60_000);
      expect(await h.a.getMany(scope, ["c", "missing", "a", "c"])).toEqual([{ three: 3 }, undefined, 1, { three: 3 }]);
      expect(await h.a.getMany(scope, [])).toEqual([]);
    });

    it("deletes one or many keys, idempotently", async () => {
      const scope = freshTenantScope();
      for (const k of ["a", "b", "c"]) await h.a.set(scope, k, k, 60_000);
      await h.a.delete(scope, "a");
      await h.a.delete(scope, ["b", "missing"]);
      await h.a.delete(scope, "a");
      await h.a.delete(scope, []);
      expect(await h.a.getMany(scope, ["a", "b", "c"])).toEqual([undefined, undefined, "c"]);
    });

    it("is shared by the instances on one backend (an invalidation is seen everywhere)", async () => {
      const scope = freshTenantScope();
      await h.a.set(scope, "policy:u1", { role: "admin" }, 60_000);
      expect(await h.b.get(scope, "policy:u1")).toEqual({ role: "admin" });
      await h.b.delete(scope, "policy:u1");
      expect(await h.a.get(scope, "policy:u1")).toBeUndefined();
    });

    it("never lets the same key of two tenants collide", async () => {
      const tenantA = freshTenantScope();
      const tenantB = freshTenantScope();
      await h.a.set(tenantA, "conv:1", { owner: "a" }, 60_000);
      expect(await h.a.get(tenantB, "conv:1")).toBeUndefined();
      expect(await h.b.getMany(tenantB, ["conv:1"])).toEqual([undefined]);
      await h.b.set(tenantB, "conv:1", { owner: "b" }, 60_000);
      expect(await h.a.get(tenantA, "conv:1")).toEqual({ owner: "a" });
      await h.a.delete(tenantB, "conv:1");
      expect(await h.b.get(tenantA, "conv:1")).toEqual({ owner: "a" });
      expect(await h.b.get(tenantB, "conv:1")).toBeUndefined();
    });

    it("refuses bad keys, values and TTLs, storing nothing", async () => {
      const scope = freshTenantScope();
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(h.a.set(scope, "k", "v", ttl)).rejects.toThrow(RangeError);
      }
      for (const value of [undefined, () => 1, 10n, circular, "x".repeat(70_000)]) {
        await expect(h.a.set(scope, "k", value, 60_000)).rejects.toThrow(RangeError);
      }
      for (const key of ["", "k".repeat(513)]) {
        await expect(h.a.set(scope, key, "v", 60_000)).rejects.toThrow(RangeError);
        await expect(h.a.get(scope, key)).rejects.toThrow(RangeError);
      }
      expect(await h.a.get(scope, "k")).toBeUndefined();
      await expect(h.a.get(forgedScope, "k")).rejects.toThrow(TypeError);
      await expect(h.a.set(forgedScope, "k", "v", 60_000)).rejects.toThrow(TypeError);
    });
  });
}
