import type { RateRule } from "../ports/rate-limiter.js";
import { isTenantScope, type TenantScope } from "../tenant-scope.js";

/*
 * Argument checks shared by the adapters of one port, so every adapter refuses exactly the same
 * inputs (the contract suites check that). A bad argument is a programming error: RangeError.
 */

/**
 * The tenant id of a real `TenantScope`. The type already demands one; this also refuses a
 * plain `{ tenantId }` smuggled past it with a cast.
 */
export function tenantOf(scope: TenantScope): string {
  if (!isTenantScope(scope)) throw new TypeError("a TenantScope is required");
  return scope.tenantId;
}

/** A page size: an integer in 1..`max` (default 1000). */
export function checkLimit(limit: unknown, max = 1000): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new RangeError(`limit must be an integer in 1..${max}, got ${String(limit)}`);
  }
  return limit;
}

/** A time in epoch milliseconds: a non-negative safe integer. */
export function checkTime(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be epoch milliseconds, got ${String(value)}`);
  return value;
}

/** A key, channel or id: a non-empty string of at most `max` characters. */
export function checkName(what: string, value: unknown, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new RangeError(`${what} must be a string of 1-${max} characters`);
  }
  return value;
}

/** A TTL: a positive safe integer number of milliseconds. */
export function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive integer, got ${String(ttlMs)}`);
  }
  return ttlMs;
}

/** The JSON text of a cache value, refusing what JSON cannot carry and what exceeds `maxBytes`. */
export function encodeJson(value: unknown, maxBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new RangeError(`cache value is not JSON-serializable: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new RangeError("cache value is not JSON-serializable");
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new RangeError(`cache value of ${bytes} bytes exceeds the ${maxBytes}-byte maximum`);
  return text;
}

/** The token-bucket form of a rule: both numbers finite and positive. */
export function toBucket(rule: RateRule): { capacity: number; refillPerSec: number } {
  const bucket = "capacity" in rule ? { capacity: rule.capacity, refillPerSec: rule.refillPerSec } : { capacity: rule.limit, refillPerSec: (rule.limit / rule.windowMs) * 1000 };
  for (const [name, v] of Object.entries(bucket)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`rate rule ${name} must be a positive number, got ${String(v)}`);
    }
  }
  return bucket;
}

/** A take's cost: positive, finite, and no larger than the bucket (else it could never succeed). */
export function checkCost(cost: unknown, capacity: number): number {
  if (typeof cost !== "number" || !Number.isFinite(cost) || cost <= 0 || cost > capacity) {
    throw new RangeError(`cost must be a positive number no larger than the capacity ${capacity}, got ${String(cost)}`);
  }
  return cost;
}
