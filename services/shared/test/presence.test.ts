import { FakeClock, createMemoryPresence, createRedisClient, createRedisPresence } from "@caas/shared";
import { afterAll, describe } from "vitest";
import { PRESENCE_RETENTION_MS, presenceContract } from "./contract/presence.contract.js";
import { cleanUp, redisPrefix, redisUrl } from "./redis-support.js";

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
    const [a, b] = clients.map((redis) =>
      createRedisPresence({ redis, prefix, clock, lastSeenRetentionMs: PRESENCE_RETENTION_MS }),
    );
    return {
      a: a!,
      b: b!,
      clock,
      close: async () => {
        await Promise.all(clients.map((c) => c.close()));
      },
    };
  });
});
