import { createMemoryRateLimiter, createRedisClient, createRedisRateLimiter, type Clock, type Config, type Logger, type RateLimiter } from "@caas/shared";

/** A rate limiter and how to let go of its connection. */
export interface ChatRateLimiter {
  limiter: RateLimiter;
  close(): Promise<void>;
}

/**
 * The one place chat's rate-limiter adapter is chosen, from the run mode: embedded keeps the
 * buckets in this process (one chat process serves every call); cluster shares them in Redis
 * (CAAS_REDIS_URL), so every chat instance counts a user's sends against the same bucket.
 */
export function openChatRateLimiter(config: Config, logger: Logger, clock: Clock): ChatRateLimiter {
  switch (config.mode) {
    case "embedded":
      logger.info({ adapter: "memory" }, "chat rate limiter");
      return { limiter: createMemoryRateLimiter({ clock }), close: async () => {} };
    case "cluster": {
      const url = config.cluster.redisUrl;
      if (!url) throw new Error("the chat service needs CAAS_REDIS_URL in cluster mode (rate limits)");
      const redis = createRedisClient(url, {
        connectionName: `${config.instanceId}-chat-ratelimit`,
        onError: (err) => logger.warn({ err }, "chat rate limiter Redis connection error"),
      });
      logger.info({ adapter: "redis" }, "chat rate limiter");
      return { limiter: createRedisRateLimiter({ redis, prefix: "caas:chat" }), close: () => redis.close() };
    }
  }
}
