import { DEFAULT_POLICY, type RoleGrant } from "@caas/shared/identity/policy";
import { FakeClock } from "@caas/shared/clock";
import { describe, expect, it } from "vitest";
import { TenantPolicyCache } from "../src/tenant-policy.js";

describe("TenantPolicyCache (per-tenant ABAC role grants from auth)", () => {
  function setup(grants: Record<string, readonly RoleGrant[] | undefined | Error>) {
    const clock = new FakeClock();
    const calls: string[] = [];
    const cache = new TenantPolicyCache({
      clock,
      ttlMs: 1000,
      fetch: async (t) => {
        calls.push(t);
        const g = grants[t];
        if (g instanceof Error) throw g;
        return g;
      },
    });
    return { clock, calls, cache };
  }

  it("adds a tenant's grants to the defaults and reads auth once until invalidated", async () => {
    const grants: Record<string, readonly RoleGrant[]> = { t1: [{ role: "user", actions: ["message.pin"] }] };
    const { cache, calls } = setup(grants);
    expect((await cache.lookup("t1")).tenantGrants["user"]).toEqual(["message.pin"]);
    expect((await cache.lookup("t1")).tenantGrants["moderator"]).toEqual(DEFAULT_POLICY.tenantGrants["moderator"]);
    expect(calls).toEqual(["t1"]);
    grants["t1"] = [];
    expect((await cache.lookup("t1")).tenantGrants["user"]).toEqual(["message.pin"]);
    cache.invalidate("t1");
    expect(await cache.lookup("t1")).toBe(DEFAULT_POLICY);
    expect(calls).toEqual(["t1", "t1"]);
  });

  it("reads again after the TTL (a missed event), and answers unknown tenants with the defaults", async () => {
    const { cache, calls, clock } = setup({ t1: [{ role: "support", actions: ["conversation.freeze"] }], ghost: undefined });
    await cache.lookup("t1");
    clock.advance(999);
    await cache.lookup("t1");
    clock.advance(2);
    await cache.lookup("t1");
    expect(calls).toEqual(["t1", "t1"]);
    expect(await cache.lookup("ghost")).toBe(DEFAULT_POLICY);
  });

  it("falls back to the defaults without caching when auth cannot be read (grants only add rights)", async () => {
    const grants: Record<string, readonly RoleGrant[] | Error> = { t1: new Error("auth down") };
    const { cache, calls } = setup(grants);
    expect(await cache.lookup("t1")).toBe(DEFAULT_POLICY);
    grants["t1"] = [{ role: "user", actions: ["message.pin"] }];
    expect((await cache.lookup("t1")).tenantGrants["user"]).toEqual(["message.pin"]);
    expect(calls).toEqual(["t1", "t1"]);
  });
});
