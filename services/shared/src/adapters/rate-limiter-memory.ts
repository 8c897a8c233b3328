import { systemClock, type Clock } from "../clock.js";
import type { RateLimiter } from "../ports/rate-limiter.js";
import { checkCost, checkName, tenantOf, toBucket } from "./checks.js";
import { takeTokens } from "./rate-limiter-bucket.js";

export interface MemoryRateLimiterOptions {
  clock?: Clock;
  /** How often (by the clock) a take also drops buckets that have refilled. Default 1 min. */
  sweepIntervalMs?: number;
}

interface Bucket {
  tokens: number;
  updatedAtMs: number;
  /** When the bucket is full again, after which it is the same as no bucket. */
  fullAtMs: number;
}

/**
 * The embedded-mode `RateLimiter`: token buckets in a map of this process, timed by the injected
 * clock. Single process only: two processes would each allow the full rate. A take is atomic
 * because it runs synchronously on the one event loop. Refilled buckets are swept out at most
 * once per `sweepIntervalMs`.
 */
export function createMemoryRateLimiter(opts: MemoryRateLimiterOptions = {}): RateLimiter {
  const clock = opts.clock ?? systemClock;
  const sweepIntervalMs = opts.sweepIntervalMs ?? 60_000;
  // "tenant NUL key": tenant ids cannot contain NUL, so two tenants never share a bucket.
  const buckets = new Map<string, Bucket>();
  let lastSweepMs = clock.nowMs();

  return {
    async take(scope, key, rule, cost = 1) {
      const k = `${tenantOf(scope)}\u0000${checkName("rate limit key", key, 512)}`;
      const { capacity, refillPerSec } = toBucket(rule);
      checkCost(cost, capacity);
      const nowMs = clock.nowMs();
      if (nowMs - lastSweepMs >= sweepIntervalMs) {
        lastSweepMs = nowMs;
        for (const [bk, b] of buckets) if (nowMs >= b.fullAtMs) buckets.delete(bk);
      }
      const { tokens, msUntilFull, decision } = takeTokens({ capacity, refillPerSec, cost, nowMs, prev: buckets.get(k) });
      // A full bucket is the same as none (as in Redis, where its key expires).
      if (msUntilFull <= 0) buckets.delete(k);
      else buckets.set(k, { tokens, updatedAtMs: nowMs, fullAtMs: nowMs + msUntilFull });
      return decision;
    },
  };
}
