import { FakeClock } from "@caas/shared/clock";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { createRedisClient } from "@caas/shared/redis";
import { createRedisRateLimiter } from "@caas/shared/rate-limiting/redis";
import { afterAll, describe } from "vitest";
import { fakeTime, realTime } from "@caas/shared/testing";
import { rateLimiterContract } from "./contract/rate-limiter.contract.js";
import { cleanUp, redisPrefix, redisUrl } from "@caas/shared/testing/redis";

rateLimiterContract("memory", async () => {
  const clock = new FakeClock();
  const limiter = createMemoryRateLimiter({ clock });
  return { a: limiter, b: limiter, time: fakeTime(clock), close: async () => {} };
});

describe.skipIf(!redisUrl)("redis", () => {
  const prefix = redisPrefix("rate-limiter");
  afterAll(() => cleanUp(prefix));

  rateLimiterContract("redis", async () => {
    // Two connections, as two gateway instances would have; the script runs on server time.
    const clients = [createRedisClient(redisUrl!), createRedisClient(redisUrl!)] as const;
    return {
      a: createRedisRateLimiter({ redis: clients[0], prefix }),
      b: createRedisRateLimiter({ redis: clients[1], prefix }),
      time: realTime,
      close: async () => {
        await Promise.all(clients.map((c) => c.close()));
      },
    };
  });
});
