import { openRateLimiter, type OpenedRateLimiter } from "@caas/shared/rate-limiting/select";
import { ResourceExhaustedError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { RateLimiter } from "@caas/shared/rate-limiting";
import type { TenantScope } from "@caas/shared/tenant-scope";

/** A rate limiter and how to let go of its connection. */
export type ChatRateLimiter = OpenedRateLimiter;

/**
 * Chat's rate limiter, chosen by the shared `openRateLimiter` from the run mode: memory embedded,
 * Redis (CAAS_REDIS_URL) in cluster mode, so every chat instance counts a user's sends against
 * the same bucket.
 */
export function openChatRateLimiter(config: Config, logger: Logger, clock: Clock): Promise<ChatRateLimiter> {
  return openRateLimiter(config, logger, clock, { service: "chat", prefix: "caas:chat" });
}

/** The `message.send` rule of one user, as a token bucket. */
export interface SendBucket {
  capacity: number;
  refillPerSec: number;
}

/**
 * Counts one send (SendMessage, ForwardMessage, and every realtime `send` frame, which all reach
 * chat's send path) against the `message.send` limits: the sender's bucket first, then the
 * tenant's (the user bucket times `tenantFactor`), so a user refused by their own limit does not
 * drain the tenant's. This is the only place a send is counted (ADR 0023): the gateway does not
 * count the RPCs that end here and the socket service does not count send frames. A refusal is
 * RESOURCE_EXHAUSTED with the retry delay (google.rpc.RetryInfo), which the socket service passes
 * on as FrameError.retry_after.
 */
export async function takeSend(limiter: RateLimiter, scope: TenantScope, userId: string, rule: SendBucket, tenantFactor: number): Promise<void> {
  const user = await limiter.take(scope, `message.send:user:${userId}`, rule);
  if (!user.allowed) throw new ResourceExhaustedError(`send rate limit reached for this user; retry in ${user.retryAfterMs} ms`, user.retryAfterMs);
  const tenant = await limiter.take(scope, "message.send:tenant", { capacity: rule.capacity * tenantFactor, refillPerSec: rule.refillPerSec * tenantFactor });
  if (!tenant.allowed) throw new ResourceExhaustedError(`send rate limit reached for this tenant; retry in ${tenant.retryAfterMs} ms`, tenant.retryAfterMs);
}
