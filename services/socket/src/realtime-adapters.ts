import { createMemoryPresence } from "./adapters/presence-memory.js";
import { createMemoryPubSub } from "./adapters/pubsub-memory.js";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import type { Clock } from "@caas/shared/clock";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { RateLimiter } from "@caas/shared/rate-limiting";
import type { Presence } from "./ports/presence.js";
import type { PubSub } from "./ports/pubsub.js";

/** The shared-state adapters of a socket instance and how to let go of them. */
export interface RealtimeAdapters {
  /** Typing and presence-change broadcasts between socket instances. */
  pubsub: PubSub;
  /** Who is online, across instances. */
  presence: Presence;
  /** Per-user typing rates. */
  limiter: RateLimiter;
  close(): Promise<void>;
}

/**
 * The one place the socket service picks its adapters, from the run mode: embedded keeps pub/sub,
 * presence and rate buckets in this process (one socket instance); cluster shares them in Redis
 * (CAAS_REDIS_SOCKET_URL, else CAAS_REDIS_URL), so socket-1 and socket-2 see each other's broadcasts and connections and
 * count a user's typing against one bucket.
 */
export async function openRealtimeAdapters(config: Config, logger: Logger, clock: Clock): Promise<RealtimeAdapters> {
  const onHandlerError = (err: unknown, channel: string) => logger.warn({ err, channel }, "realtime pub/sub handler failed");
  switch (config.mode) {
    case "embedded":
      logger.info({ adapter: "memory" }, "realtime pub/sub, presence and rate limits");
      return {
        pubsub: createMemoryPubSub({ onHandlerError }),
        presence: createMemoryPresence({ clock }),
        limiter: createMemoryRateLimiter({ clock }),
        close: async () => {},
      };
    case "cluster": {
      const url = config.cluster.redisSocketUrl ?? config.cluster.redisUrl;
      if (!url) throw new Error("the socket service needs CAAS_REDIS_SOCKET_URL or CAAS_REDIS_URL in cluster mode (pub/sub, presence, typing rates)");
      // Loaded here, not at import: the embedded mode never needs ioredis.
      const [{ createRedisClient }, { createRedisRateLimiter }, { createRedisPresence }, { createRedisPubSub }] = await Promise.all([
        import("@caas/shared/redis"),
        import("@caas/shared/rate-limiting/redis"),
        import("./adapters/presence-redis.js"),
        import("./adapters/pubsub-redis.js"),
      ]);
      const redis = createRedisClient(url, {
        connectionName: `${config.instanceId}-socket`,
        onError: (err) => logger.warn({ err }, "socket Redis connection error"),
      });
      const pubsub = createRedisPubSub({ redis, prefix: "caas:socket", onHandlerError });
      logger.info({ adapter: "redis", purpose: config.cluster.redisSocketUrl ? "CAAS_REDIS_SOCKET_URL" : "CAAS_REDIS_URL" }, "realtime pub/sub, presence and rate limits");
      return {
        pubsub,
        presence: createRedisPresence({ redis, prefix: "caas:socket:presence", clock }),
        limiter: createRedisRateLimiter({ redis, prefix: "caas:socket" }),
        close: async () => {
          await pubsub.close();
          await redis.close();
        },
      };
    }
  }
}
