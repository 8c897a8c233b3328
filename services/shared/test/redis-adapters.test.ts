import { createRedisClient, defineScript, type RedisClient } from "@caas/shared/redis";
import { createRedisRateLimiter } from "@caas/shared/rate-limiting/redis";
import { randomUUID } from "node:crypto";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanUp, keysUnder, redisPrefix, redisUrl } from "@caas/shared/testing/redis";

/** What only the Redis adapters have: the narrow client, the key layout, connection handling. */
describe.skipIf(!redisUrl)("redis adapters", () => {
  const prefix = redisPrefix("adapters");
  let redis: RedisClient;
  beforeAll(() => {
    redis = createRedisClient(redisUrl!, { connectionName: "shared-tests" });
  });
  afterAll(async () => {
    await redis.close();
    await cleanUp(prefix);
  });

  it("runs a script the server has never seen (EVALSHA falls back to EVAL), then by SHA", async () => {
    // A script unique to this run: the first EVALSHA must get NOSCRIPT.
    const script = defineScript(`-- ${randomUUID()}\nreturn { KEYS[1], ARGV[1] + 1 }`);
    expect(await redis.runScript(script, ["k"], [41])).toEqual(["k", 42]);
    expect(await redis.runScript(script, ["k"], [1])).toEqual(["k", 2]);
    await expect(redis.runScript(defineScript("return redis.call('NOPE')"), [], [])).rejects.toThrow();
  });

  it("puts every key under the prefix and the tenant", async () => {
    const scope = freshTenantScope();
    const layoutPrefix = `${prefix}:layout`;
    await createRedisRateLimiter({ redis, prefix: layoutPrefix }).take(scope, "send:u1", { capacity: 5, refillPerSec: 1 });
    const keys = (await keysUnder(redis, layoutPrefix)).sort();
    expect(keys).toEqual([`${layoutPrefix}:rl:${scope.tenantId}:send:u1`]);
  });

  it("gives rate-limit keys a Redis TTL, so nothing needs a cleanup job", async () => {
    const scope = freshTenantScope();
    const ttlPrefix = `${prefix}:ttl`;
    const limiter = createRedisRateLimiter({ redis, prefix: ttlPrefix });
    await limiter.take(scope, "k", { capacity: 2, refillPerSec: 20 });
    expect(await keysUnder(redis, ttlPrefix)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 120)); // the bucket is full again after 50 ms
    expect(await keysUnder(redis, ttlPrefix)).toEqual([]);
  });
});
