import { FakeClock } from "@caas/shared/clock";
import { createMemoryCache } from "../src/adapters/cache-memory.js";
import { createRedisCache } from "../src/adapters/cache-redis.js";
import { createRedisClient } from "@caas/shared/redis";
import { afterAll, describe } from "vitest";
import { cacheContract } from "./contract/cache.contract.js";
import { fakeTime, realTime } from "./contract/harness.js";
import { cleanUp, redisPrefix, redisUrl } from "./redis-support.js";

cacheContract("memory", async () => {
  const clock = new FakeClock();
  const cache = createMemoryCache({ clock });
  return { a: cache, b: cache, time: fakeTime(clock), close: async () => {} };
});

describe.skipIf(!redisUrl)("redis", () => {
  const prefix = redisPrefix("cache");
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
});
