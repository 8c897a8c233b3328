import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { TypingSchema, type ServerFrame, type SetTyping, type Typing } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { scopeFromVerifiedClaims } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { RateLimiter, RateRule } from "@caas/shared/rate-limiting";
import type { PubSub, PubSubUnsubscribe } from "./ports/pubsub.js";
import { failure, serverFrame } from "./frames.js";
import type { Hub } from "./hub.js";

/** The tenant pub/sub channel typing indicators travel on between socket instances. */
export const TYPING_CHANNEL = "realtime:typing";

/** A typing indicator lasts this long unless refreshed (Typing.expire_time). */
export const TYPING_TTL_MS = 6_000;

/** Per-user SetTyping rate: a burst of 5, then one a second (the client refreshes every few seconds). */
export const TYPING_RATE: RateRule = { capacity: 5, refillPerSec: 1 };

/** Who is typing: an authenticated session's tenant and user. */
export interface Typist {
  readonly tenantId: string;
  readonly userId: string;
}

/** What the relay uses. */
export interface TypingRelayDeps {
  pubsub: PubSub;
  limiter: RateLimiter;
  hub: Hub;
  clock: Clock;
  logger: Logger;
  rule?: RateRule;
  ttlMs?: number;
}

/**
 * Typing indicators: a member's SetTyping is rate-limited per user, then published on the
 * tenant's typing channel; every socket instance with sessions of that tenant is subscribed and
 * pushes a Typing frame to the local sessions of the conversation's other members. At most once
 * (pub/sub): an indicator is ephemeral and expires by itself.
 */
export class TypingRelay {
  private readonly tenants = new Map<string, { sessions: number; unsubscribe: Promise<PubSubUnsubscribe> }>();

  constructor(private readonly deps: TypingRelayDeps) {}

  /** Starts receiving the tenant's typing indicators for one more local session. */
  async attach(who: Typist): Promise<void> {
    let entry = this.tenants.get(who.tenantId);
    if (!entry) {
      const scope = scopeFromVerifiedClaims({ tenant: who.tenantId });
      entry = { sessions: 0, unsubscribe: this.deps.pubsub.subscribe(scope, TYPING_CHANNEL, (bytes) => this.receive(who.tenantId, bytes)) };
      this.tenants.set(who.tenantId, entry);
    }
    entry.sessions++;
    await entry.unsubscribe;
  }

  /** One local session of the tenant ended; the last one unsubscribes. */
  detach(who: Typist): void {
    const entry = this.tenants.get(who.tenantId);
    if (!entry || --entry.sessions > 0) return;
    this.tenants.delete(who.tenantId);
    entry.unsubscribe.then((unsubscribe) => unsubscribe()).catch((err: unknown) => this.deps.logger.warn({ err }, "typing unsubscribe failed"));
  }

  /**
   * Handles SetTyping from `who`: NOT_FOUND unless a member of the conversation (by this
   * instance's hub, which knows the memberships of its local sessions, or by `isMember` for a
   * caller without a local session: the unary Send),
   * RESOURCE_EXHAUSTED (with retry_after) past the per-user rate; otherwise broadcasts and
   * answers Ack (reply_to `replyTo`).
   */
  async set(who: Typist, replyTo: bigint, req: SetTyping, isMember?: (conversationId: string) => Promise<boolean>): Promise<ServerFrame> {
    const { hub, limiter, pubsub, clock } = this.deps;
    const member = isMember ? await isMember(req.conversationId) : hub.isMember(who.tenantId, who.userId, req.conversationId);
    if (!member) return failure(replyTo, Code.NotFound, "conversation not found");
    const scope = scopeFromVerifiedClaims({ tenant: who.tenantId });
    const decision = await limiter.take(scope, `typing:user:${who.userId}`, this.deps.rule ?? TYPING_RATE);
    if (!decision.allowed) {
      return serverFrame(replyTo, {
        case: "error",
        value: { code: Code.ResourceExhausted, message: "typing rate limit exceeded: wait before sending SetTyping again", retryAfter: durationFromMs(decision.retryAfterMs) },
      });
    }
    const typing = create(TypingSchema, {
      conversationId: req.conversationId,
      userId: who.userId,
      started: req.started,
      expireTime: req.started ? timestampFromMs(clock.nowMs() + (this.deps.ttlMs ?? TYPING_TTL_MS)) : undefined,
    });
    await pubsub.publish(scope, TYPING_CHANNEL, toBinary(TypingSchema, typing));
    return serverFrame(replyTo, { case: "ack", value: {} });
  }

  private receive(tenantId: string, bytes: Uint8Array): void {
    let typing: Typing;
    try {
      typing = fromBinary(TypingSchema, bytes);
    } catch (err) {
      this.deps.logger.warn({ err }, "undecodable typing broadcast dropped");
      return;
    }
    for (const r of this.deps.hub.localMembers(tenantId, typing.conversationId)) {
      if (r.userId !== typing.userId) r.deliverTyping(typing);
    }
  }
}
