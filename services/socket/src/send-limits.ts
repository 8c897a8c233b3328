import { scopeFromVerifiedClaims, type RateLimiter, type RateRule } from "@caas/shared";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { exhausted } from "./frames.js";

/** A client should wait this long after an in-flight refusal: about one chat round trip. */
export const INFLIGHT_RETRY_MS = 100;

/**
 * The per-user send rate of realtime sends (WebSocket, Connect, Send RPC), counted in the
 * RateLimiter port under `message.send:user:<id>`: memory in embedded mode, Redis in cluster
 * mode, so both socket instances count a user's sends against one bucket. Chat keeps its own
 * bucket of every send behind this one.
 */
export class SendRate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly rule: RateRule,
  ) {}

  /** Takes one send of `userId`; the RESOURCE_EXHAUSTED FrameError (with retry_after) when refused. */
  async check(tenantId: string, userId: string, replyTo: bigint): Promise<ServerFrame | undefined> {
    const decision = await this.limiter.take(scopeFromVerifiedClaims({ tenant: tenantId }), `message.send:user:${userId}`, this.rule);
    if (decision.allowed) return undefined;
    return exhausted(replyTo, "send rate limit exceeded: wait retry_after before sending again", decision.retryAfterMs);
  }
}
