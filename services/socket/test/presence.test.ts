import { FakeClock } from "@caas/shared/clock";
import { createRedisClient } from "@caas/shared/redis";
import { createMemoryPresence } from "../src/adapters/presence-memory.js";
import { createRedisPresence } from "../src/adapters/presence-redis.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { PRESENCE_RETENTION_MS, presenceContract } from "./contract/presence.contract.js";
import { cleanUp, keysUnder, redisPrefix, redisUrl } from "@caas/shared/testing/redis";

presenceContract("memory", async () => {
  const clock = new FakeClock();
  const presence = createMemoryPresence({ clock, lastSeenRetentionMs: PRESENCE_RETENTION_MS });
  return { a: presence, b: presence, clock, close: async () => {} };
});

describe.skipIf(!redisUrl)("redis", () => {
  const prefix = redisPrefix("presence");
  afterAll(() => cleanUp(prefix));

  presenceContract("redis", async () => {
    // Two instances sharing one (fake) clock: the adapter passes it into its script.
    const clock = new FakeClock();
    const clients = [createRedisClient(redisUrl!), createRedisClient(redisUrl!)] as const;
    const [a, b] = clients.map((redis) => createRedisPresence({ redis, prefix, clock, lastSeenRetentionMs: PRESENCE_RETENTION_MS }));
    return {
      a: a!,
      b: b!,
      clock,
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
      await createRedisPresence({ redis, prefix: layoutPrefix }).add(scope, "u1", "c1", 60_000, {});
      expect(await keysUnder(redis, layoutPrefix)).toEqual([`${layoutPrefix}:presence:${scope.tenantId}:u1`]);
    } finally {
      await redis.close();
    }
  });
});
