import { createMemoryRateLimiter } from "./adapters/rate-limiter-memory.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { Logger } from "./logger.js";
import type { RateLimiter } from "./ports/rate-limiter.js";

/** A rate limiter and how to let go of what it holds. */
export interface OpenedRateLimiter {
  limiter: RateLimiter;
  close(): Promise<void>;
}

export interface OpenRateLimiterOptions {
  /** The service that counts (logs, error messages, the Redis connection name). */
  service: string;
  /** Starts every Redis key, e.g. `caas:gateway`. */
  prefix: string;
  /** The Redis to use in cluster mode; default `config.cluster.redisUrl`. */
  redisUrl?: string | undefined;
}

/**
 * The one place a service's rate-limiter adapter is chosen, from the run mode: embedded keeps the
 * buckets in this process (one process serves every call); cluster shares them in Redis, so every
 * instance of the service counts against the same buckets. The choice is logged.
 */
export async function openRateLimiter(config: Config, logger: Logger, clock: Clock, opts: OpenRateLimiterOptions): Promise<OpenedRateLimiter> {
  switch (config.mode) {
    case "embedded":
      logger.info({ adapter: "memory" }, `${opts.service} rate limiter opened`);
      return { limiter: createMemoryRateLimiter({ clock }), close: async () => {} };
    case "cluster": {
      const url = opts.redisUrl ?? config.cluster.redisUrl;
      if (!url) throw new Error(`the ${opts.service} service needs CAAS_REDIS_URL in cluster mode (rate limits)`);
      // Loaded here, not at import: the embedded mode never needs ioredis.
      const [{ createRedisClient }, { createRedisRateLimiter }] = await Promise.all([import("./adapters/redis-client.js"), import("./adapters/rate-limiter-redis.js")]);
      const redis = createRedisClient(url, {
        connectionName: `${config.instanceId}-${opts.service}-ratelimit`,
        onError: (err) => logger.warn({ err }, `${opts.service} rate limiter Redis connection error`),
      });
      logger.info({ adapter: "redis" }, `${opts.service} rate limiter opened`);
      return { limiter: createRedisRateLimiter({ redis, prefix: opts.prefix }), close: () => redis.close() };
    }
  }
}
