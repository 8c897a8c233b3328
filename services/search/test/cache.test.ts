import { FakeClock } from "@caas/shared/clock";
import { createRedisClient } from "@caas/shared/redis";
import { createMemoryCache } from "../src/adapters/cache-memory.js";
import { createRedisCache } from "../src/adapters/cache-redis.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { cacheContract } from "./contract/cache.contract.js";
import { fakeTime, realTime } from "@caas/shared/testing";
import { cleanUp, redisPrefix, redisUrl } from "@caas/shared/testing/redis";

cacheContract("memory", async () => {
  const clock = new FakeClock();
  const cache = createMemoryCache({ clock });
  return { a: cache, b: cache, time: fakeTime(clock), close: async () => {} };
});

describe.skipIf(!redisUrl)("redis", () => {
  const prefix = redisPrefix("search-cache");
  afterAll(() => cleanUp(prefix));

  cacheContract("redis", async () => {
    // Two connections, as two service instances would have.
    const clients = [createRedisClient(redisUrl!), createRedisClient(redisUrl!)] as const;
    return {
      a: createRedisCache({ redis: clients[0], prefix }),
      b: createRedisCache({ redis: clients[1], prefix }),
      time: realTime,
      close: async () => {
        await Promise.all(clients.map((c) => c.close()));
      },
    };
  });

  it("puts every key under the prefix and the tenant", async () => {
    const redis = createRedisClient(redisUrl!);
    try {
      const scope = freshTenantScope();
      const layoutPrefix = `${prefix}:layout`;
      await createRedisCache({ redis, prefix: layoutPrefix }).set(scope, "conv:1", { a: 1 }, 60_000);
      expect(await redis.scan(`${layoutPrefix}:*`)).toEqual([`${layoutPrefix}:cache:${scope.tenantId}:conv:1`]);
    } finally {
      await redis.close();
    }
  });
});
