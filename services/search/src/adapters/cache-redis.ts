import type { Cache } from "../ports/cache.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { checkName, checkTtl, encodeJson, tenantOf } from "./checks.js";
import type { RedisClient } from "@caas/shared/redis";

export interface RedisCacheOptions {
  /** A client shared with other adapters; its owner closes it. */
  redis: RedisClient;
  /** Starts every key (e.g. `caas`, or a per-run prefix in tests). */
  prefix: string;
  /** Largest JSON text of one value. Default 64 KiB. */
  maxValueBytes?: number;
}

/**
 * The cluster-mode `Cache`: one Redis string per entry at `<prefix>:cache:<tenantId>:<key>`
 * (tenant ids contain no `:`, so two tenants' keys never collide), written with SET PX. Shared
 * by every instance using the same Redis and prefix, so an invalidation is seen everywhere.
 * Expiry uses the Redis server's clock; eviction under memory pressure follows the server's
 * `maxmemory-policy` (use `volatile-lru` or `allkeys-lru` when Redis also holds other data).
 * Written for one Redis server: `getMany` is one MGET across keys, which a Redis Cluster
 * would have to split per hash slot.
 */
export function createRedisCache(opts: RedisCacheOptions): Cache {
  const { redis } = opts;
  const prefix = checkName("redis prefix", opts.prefix, 128);
  const maxValueBytes = opts.maxValueBytes ?? 64 * 1024;
  const redisKey = (scope: TenantScope, key: string) => `${prefix}:cache:${tenantOf(scope)}:${checkName("cache key", key, 512)}`;
  const decode = (text: string | null) => (text === null ? undefined : (JSON.parse(text) as unknown));

  return {
    async get<T>(scope: TenantScope, key: string) {
      return decode(await redis.get(redisKey(scope, key))) as T | undefined;
    },
    async getMany<T>(scope: TenantScope, keys: readonly string[]) {
      const values = await redis.mget(keys.map((key) => redisKey(scope, key)));
      return values.map((v) => decode(v) as T | undefined);
    },
    async set(scope, key, value, ttlMs) {
      const k = redisKey(scope, key);
      await redis.setPx(k, encodeJson(value, maxValueBytes), checkTtl(ttlMs));
    },
    async delete(scope, keys) {
      await redis.del((typeof keys === "string" ? [keys] : keys).map((key) => redisKey(scope, key)));
    },
  };
}
