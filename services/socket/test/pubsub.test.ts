import { createMemoryPubSub } from "../src/adapters/pubsub-memory.js";
import { createRedisClient } from "@caas/shared/redis";
import { createRedisPubSub } from "../src/adapters/pubsub-redis.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it, vi } from "vitest";
import { pubSubContract } from "./contract/pubsub.contract.js";
import { cleanUp, redisPrefix, redisUrl } from "@caas/shared/testing/redis";

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

  it("stops delivering after close and releases its subscriber connection", async () => {
    const redis = createRedisClient(redisUrl!);
    try {
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
    } finally {
      await redis.close();
    }
  });
});
