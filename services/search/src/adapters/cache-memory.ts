import { systemClock, type Clock } from "@caas/shared/clock";
import type { Cache } from "../ports/cache.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { checkName, checkTtl, encodeJson, tenantOf } from "./checks.js";

export interface MemoryCacheOptions {
  clock?: Clock;
  /** Entries kept at most; the least recently used one is evicted beyond it. Default 100 000. */
  maxEntries?: number;
  /** Largest JSON text of one value. Default 64 KiB. */
  maxValueBytes?: number;
}

interface Entry {
  json: string;
  expiresAtMs: number;
}

/** Tenant ids cannot contain NUL (see tenant-scope.ts), so `tenant NUL key` never collides. */
const entryKey = (scope: TenantScope, key: string) => `${tenantOf(scope)}\u0000${checkName("cache key", key, 512)}`;

/**
 * The embedded-mode `Cache`: a bounded LRU map in this process. Single process only: another
 * process (or a second service instance) has its own cache, so an invalidation here is not seen
 * there. Expiry uses the injected clock (an entry is gone once `now >= written + ttlMs`).
 * Expired entries are dropped when read or when evicted as least recently used.
 */
export function createMemoryCache(opts: MemoryCacheOptions = {}): Cache {
  const clock = opts.clock ?? systemClock;
  const maxEntries = opts.maxEntries ?? 100_000;
  const maxValueBytes = opts.maxValueBytes ?? 64 * 1024;
  // Map iteration order is insertion order: re-inserting on use keeps the LRU entry first.
  const entries = new Map<string, Entry>();

  function read(k: string): unknown {
    const entry = entries.get(k);
    if (!entry) return undefined;
    if (clock.nowMs() >= entry.expiresAtMs) {
      entries.delete(k);
      return undefined;
    }
    entries.delete(k);
    entries.set(k, entry);
    return JSON.parse(entry.json) as unknown;
  }

  return {
    async get<T>(scope: TenantScope, key: string) {
      return read(entryKey(scope, key)) as T | undefined;
    },
    async getMany<T>(scope: TenantScope, keys: readonly string[]) {
      const ks = keys.map((key) => entryKey(scope, key));
      return ks.map((k) => read(k) as T | undefined);
    },
    async set(scope, key, value, ttlMs) {
      const k = entryKey(scope, key);
      const entry = { json: encodeJson(value, maxValueBytes), expiresAtMs: clock.nowMs() + checkTtl(ttlMs) };
      entries.delete(k);
      entries.set(k, entry);
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    async delete(scope, keys) {
      const ks = (typeof keys === "string" ? [keys] : keys).map((key) => entryKey(scope, key));
      for (const k of ks) entries.delete(k);
    },
  };
}
