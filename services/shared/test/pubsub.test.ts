import { createMemoryPubSub, createRedisClient, createRedisPubSub } from "@caas/shared";
import { afterAll, describe } from "vitest";
import { pubSubContract } from "./contract/pubsub.contract.js";
import { cleanUp, redisPrefix, redisUrl } from "./redis-support.js";

pubSubContract("memory", async ({ onHandlerError }) => {
  const pubsub = createMemoryPubSub({ onHandlerError });
  return { a: pubsub, b: pubsub, close: async () => {} };
});

describe.skipIf(!redisUrl)("redis", () => {
  const prefix = redisPrefix("pubsub");
  afterAll(() => cleanUp(prefix));

  pubSubContract("redis", async ({ onHandlerError }) => {
    // Two instances: each its own command connection and its own subscriber connection.
    const clients = [createRedisClient(redisUrl!), createRedisClient(redisUrl!)] as const;
    const [a, b] = clients.map((redis) => createRedisPubSub({ redis, prefix, onHandlerError }));
    return {
      a: a!,
      b: b!,
      close: async () => {
        await Promise.all([a!.close(), b!.close()]);
        await Promise.all(clients.map((c) => c.close()));
      },
    };
  });
});
