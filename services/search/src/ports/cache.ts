import type { TenantScope } from "@caas/shared/tenant-scope";

/**
 * A small key/value cache for JSON-serializable values, namespaced by tenant: the same `key`
 * under two tenants names two unrelated entries. Used by read-path caches that the events
 * changing the answer invalidate (DESIGN "Authorization"); the TTL is the safety net for a
 * missed invalidation, never the primary invalidation. A cache is never the store of record:
 * any entry may vanish at any time (expiry, eviction, restart) and callers fall back to the store.
 *
 * Values are stored as their JSON text, so a read returns a fresh copy with JSON semantics
 * (a `Date` comes back as a string, `undefined` properties disappear) on every adapter.
 *
 * Keys: 1-512 characters, opaque to the cache. Adapters reject an invalid key, a value that
 * does not serialize to JSON, a value larger than their configured maximum, and a TTL that is
 * not a positive integer number of milliseconds, with a `RangeError` (a programming error).
 */
export interface Cache {
  /**
   * The value stored under `key`, or `undefined` when there is none or it has expired.
   * A stored `null` comes back as `null` (distinct from a miss). The type parameter is the
   * shape the caller stored; the cache does not check it.
   */
  get<T = unknown>(scope: TenantScope, key: string): Promise<T | undefined>;

  /**
   * The values of several keys of one tenant, in the order of `keys` (a miss is `undefined`;
   * a key listed twice appears twice). Each entry is read at one instant but the batch is not a
   * snapshot: a concurrent `set` may be seen for one key and not for another.
   */
  getMany<T = unknown>(scope: TenantScope, keys: readonly string[]): Promise<(T | undefined)[]>;

  /**
   * Stores `value` under `key` for `ttlMs` milliseconds, replacing any previous value and its
   * TTL (last writer wins; idempotent for equal arguments). The entry expires `ttlMs` after the
   * write is applied; an adapter may evict it earlier under memory pressure.
   */
  set(scope: TenantScope, key: string, value: unknown, ttlMs: number): Promise<void>;

  /**
   * Removes the given keys of one tenant. Idempotent: deleting a missing key is not an error.
   * Once the promise resolves, no `get` on any instance returns the deleted value (unless a later
   * `set` wrote it again).
   */
  delete(scope: TenantScope, keys: string | readonly string[]): Promise<void>;
}
