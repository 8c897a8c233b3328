import { isTenantScope, type TenantScope } from "@caas/shared/tenant-scope";

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

/** A key or id: a non-empty string of at most `max` characters. */
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
    throw new RangeError(`cache value is not JSON-serializable: ${(err as Error).message}`);
  }
  if (text === undefined) throw new RangeError("cache value is not JSON-serializable");
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new RangeError(`cache value of ${bytes} bytes exceeds the ${maxBytes}-byte maximum`);
  return text;
}
