import { openRateLimiter, type Clock, type Config, type Logger, type OpenedRateLimiter } from "@caas/shared";

/** A rate limiter and how to let go of its connection. */
export type ChatRateLimiter = OpenedRateLimiter;

/**
 * Chat's rate limiter, chosen by the shared `openRateLimiter` from the run mode: memory embedded,
 * Redis (CAAS_REDIS_URL) in cluster mode, so every chat instance counts a user's sends against
 * the same bucket.
 */
export function openChatRateLimiter(config: Config, logger: Logger, clock: Clock): ChatRateLimiter {
  return openRateLimiter(config, logger, clock, { service: "chat", prefix: "caas:chat" });
}
