import type { RateDecision, RateLimiter, RateRule } from "@caas/shared/rate-limiting";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgedScope, type Instances, type TestTime } from "@caas/shared/testing";

export interface RateLimiterHarness extends Instances<RateLimiter> {
  /** Fake time for the memory adapter; real waiting for Redis, which uses its server clock. */
  time: TestTime;
}

/** A refill so slow that no token comes back during a test (one per 1000 s). */
const NO_REFILL = 0.001;

/** The `RateLimiter` contract (ports/rate-limiter.ts), run against every adapter. */
export function rateLimiterContract(name: string, factory: () => Promise<RateLimiterHarness>): void {
  describe(`RateLimiter contract: ${name}`, () => {
    let h: RateLimiterHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.close();
    });

    async function takeN(limiter: RateLimiter, n: number, ...args: Parameters<RateLimiter["take"]>) {
      const out: RateDecision[] = [];
      for (let i = 0; i < n; i++) out.push(await limiter.take(...args));
      return out;
    }

    it("allows up to the capacity, then refuses with the time until the next token", async () => {
      const scope = freshTenantScope();
      const rule: RateRule = { capacity: 5, refillPerSec: 1 };
      const allowed = await takeN(h.a, 5, scope, "send:u1", rule);
      expect(allowed.map((d) => [d.allowed, d.remaining, d.retryAfterMs])).toEqual([
        [true, 4, 0],
        [true, 3, 0],
        [true, 2, 0],
        [true, 1, 0],
        [true, 0, 0],
      ]);
      const refused = await h.a.take(scope, "send:u1", rule);
      expect(refused).toMatchObject({ allowed: false, remaining: 0 });
      // One token per second; a few ms of real time may have refilled a little of it.
      expect(refused.retryAfterMs).toBeGreaterThan(900);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
    });

    it("refills at the configured rate, up to the capacity only", async () => {
      const scope = freshTenantScope();
      // One token per 500 ms: the Redis adapter runs on the server's real clock, and a loaded
      // machine can spend tens of milliseconds between two takes (at 50 ms a token, CI on Node 24
      // once saw a third take refilled).
      const rule: RateRule = { capacity: 2, refillPerSec: 2 };
      await takeN(h.a, 2, scope, "typing:u1", rule);
      const refused = await h.a.take(scope, "typing:u1", rule);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
      await h.time.elapse(refused.retryAfterMs);
      expect(await h.a.take(scope, "typing:u1", rule)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await h.a.take(scope, "typing:u1", rule)).allowed).toBe(false);
      await h.time.elapse(2_000); // four tokens' worth, but the bucket holds two
      const full = await takeN(h.a, 3, scope, "typing:u1", rule);
      expect(full.map((d) => d.allowed)).toEqual([true, true, false]);
      expect(full[0]!.remaining).toBe(1);
    });

    it("treats limit per window as a bucket refilling limit/window", async () => {
      const scope = freshTenantScope();
      const rule: RateRule = { limit: 3, windowMs: 300 };
      const got = await takeN(h.a, 4, scope, "upload:u1", rule);
      expect(got.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(got[3]!.retryAfterMs).toBeGreaterThan(50);
      expect(got[3]!.retryAfterMs).toBeLessThanOrEqual(100);
    });

    it("takes a cost of several tokens, and a refused take consumes nothing", async () => {
      const scope = freshTenantScope();
      const rule: RateRule = { capacity: 5, refillPerSec: 1 };
      expect(await h.a.take(scope, "bulk", rule, 3)).toMatchObject({ allowed: true, remaining: 2, retryAfterMs: 0 });
      const refused = await h.a.take(scope, "bulk", rule, 3);
      expect(refused).toMatchObject({ allowed: false, remaining: 2 });
      expect(refused.retryAfterMs).toBeGreaterThan(900);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
      expect(await h.a.take(scope, "bulk", rule, 2)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("stays exact under 50 concurrent takes from two instances", async () => {
      const scope = freshTenantScope();
      const rule: RateRule = { capacity: 20, refillPerSec: NO_REFILL };
      const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? h.a : h.b).take(scope, "search:tenant", rule)));
      const allowed = decisions.filter((d) => d.allowed);
      expect(allowed).toHaveLength(20);
      expect(allowed.map((d) => d.remaining).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      for (const d of decisions.filter((x) => !x.allowed)) {
        expect(d.remaining).toBe(0);
        expect(d.retryAfterMs).toBeGreaterThan(900_000);
      }
    });

    it("caps the tokens when the rule shrinks", async () => {
      const scope = freshTenantScope();
      expect(await h.a.take(scope, "k", { capacity: 10, refillPerSec: NO_REFILL })).toMatchObject({ remaining: 9 });
      expect(await h.b.take(scope, "k", { capacity: 3, refillPerSec: NO_REFILL })).toMatchObject({ allowed: true, remaining: 2 });
    });

    it("keeps separate buckets per key and per tenant", async () => {
      const tenantA = freshTenantScope();
      const tenantB = freshTenantScope();
      const rule: RateRule = { capacity: 2, refillPerSec: NO_REFILL };
      await takeN(h.a, 2, tenantA, "send:u1", rule);
      expect((await h.a.take(tenantA, "send:u1", rule)).allowed).toBe(false);
      expect(await h.b.take(tenantB, "send:u1", rule)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await h.b.take(tenantA, "send:u2", rule)).toMatchObject({ allowed: true, remaining: 1 });
      expect((await h.b.take(tenantA, "send:u1", rule)).allowed).toBe(false);
    });

    it("refuses impossible costs, bad rules, bad keys and forged scopes", async () => {
      const scope = freshTenantScope();
      const rule: RateRule = { capacity: 5, refillPerSec: 1 };
      for (const cost of [0, -1, 6, Number.NaN]) {
        await expect(h.a.take(scope, "k", rule, cost)).rejects.toThrow(RangeError);
      }
      const badRules = [
        { capacity: 0, refillPerSec: 1 },
        { capacity: 5, refillPerSec: 0 },
        { capacity: 5, refillPerSec: -1 },
        { limit: 10, windowMs: 0 },
        { limit: Number.POSITIVE_INFINITY, windowMs: 1000 },
      ];
      for (const bad of badRules) await expect(h.a.take(scope, "k", bad)).rejects.toThrow(RangeError);
      await expect(h.a.take(scope, "", rule)).rejects.toThrow(RangeError);
      await expect(h.a.take(forgedScope, "k", rule)).rejects.toThrow(TypeError);
      // Nothing above took a token.
      expect(await h.a.take(scope, "k", rule)).toMatchObject({ allowed: true, remaining: 4 });
    });
  });
}
