import type { TenantScope } from "../tenant-scope.js";

/**
 * A limit, as a token bucket (`capacity` tokens, refilled continuously at `refillPerSec`) or as
 * "`limit` per `windowMs`", which is the bucket `{ capacity: limit, refillPerSec: limit /
 * windowMs * 1000 }`: a burst of `limit`, then one more every `windowMs / limit` (a smooth
 * window, not a fixed one that resets on the minute). Both numbers must be positive.
 */
export type RateRule = { readonly capacity: number; readonly refillPerSec: number } | { readonly limit: number; readonly windowMs: number };

/** The answer to one `take`. */
export interface RateDecision {
  /** Whether the tokens were taken. */
  allowed: boolean;
  /** Whole tokens left in the bucket after this call (a refused call takes none). */
  remaining: number;
  /**
   * 0 when allowed; otherwise how long until `cost` tokens are available again, rounded up to
   * the next millisecond. Retrying earlier is refused. The caller maps a refusal to
   * `ResourceExhaustedError(message, retryAfterMs)`.
   */
  retryAfterMs: number;
}

/**
 * Per-tenant token buckets (DESIGN "Rate limits per user and per tenant per action").
 *
 * `key` names the bucket within the tenant; callers compose it from the action and the subject,
 * e.g. `upload:user:<userId>` or `search:tenant` for a tenant-wide limit. The same key under
 * two tenants is two buckets.
 *
 * Atomicity: each `take` is one atomic read-refill-take on its bucket, also across instances on
 * a shared backend, so N concurrent takes on a bucket with C tokens allow exactly min(N, C).
 *
 * Idempotency: none; every call that is allowed consumes tokens. A refused call consumes
 * nothing. A bucket that is left alone refills to `capacity` and is then forgotten (a missing
 * bucket is a full one), so keys need no cleanup.
 *
 * The rule is passed on every call rather than stored: if it changes, the existing bucket keeps
 * its tokens (capped to the new capacity) and refills at the new rate.
 */
export interface RateLimiter {
  /**
   * Takes `cost` tokens (default 1, a positive number no larger than the capacity; a larger cost
   * could never succeed and is a `RangeError`, like a non-positive rule).
   */
  take(scope: TenantScope, key: string, rule: RateRule, cost?: number): Promise<RateDecision>;
}
