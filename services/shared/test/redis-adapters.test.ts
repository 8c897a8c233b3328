import { createRedisClient, createRedisPresence, createRedisPubSub, createRedisRateLimiter, defineScript, type RedisClient } from "@caas/shared";
import { randomUUID } from "node:crypto";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cleanUp, keysUnder, redisPrefix, redisUrl } from "./redis-support.js";

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
    await createRedisPresence({ redis, prefix: layoutPrefix }).add(scope, "u1", "c1", 60_000, {});
    await createRedisRateLimiter({ redis, prefix: layoutPrefix }).take(scope, "send:u1", { capacity: 5, refillPerSec: 1 });
    const keys = (await keysUnder(redis, layoutPrefix)).sort();
    expect(keys).toEqual([
      `${layoutPrefix}:presence:${scope.tenantId}:u1`,
      `${layoutPrefix}:rl:${scope.tenantId}:send:u1`,
    ]);
  });

  it("gives presence and rate-limit keys a Redis TTL, so nothing needs a cleanup job", async () => {
    const scope = freshTenantScope();
    const ttlPrefix = `${prefix}:ttl`;
    const limiter = createRedisRateLimiter({ redis, prefix: ttlPrefix });
    await limiter.take(scope, "k", { capacity: 2, refillPerSec: 20 });
    expect(await keysUnder(redis, ttlPrefix)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 120)); // the bucket is full again after 50 ms
    expect(await keysUnder(redis, ttlPrefix)).toEqual([]);
  });

  it("stops delivering after close and releases its subscriber connection", async () => {
    const scope = freshTenantScope();
    const pubsub = createRedisPubSub({ redis, prefix });
    const got: number[] = [];
    await pubsub.subscribe(scope, "c", (m) => void got.push(m[0]!));
    await pubsub.publish(scope, "c", Uint8Array.of(1));
    await vi.waitFor(() => expect(got).toEqual([1]));
    await pubsub.close();
    await pubsub.close();
    await pubsub.publish(scope, "c", Uint8Array.of(2));
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([1]);
    await expect(pubsub.subscribe(scope, "c", () => {})).rejects.toThrow(/closed/);
  });
});
