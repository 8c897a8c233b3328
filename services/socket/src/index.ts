import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { createMeshJwtVerifier } from "@caas/shared/identity/mesh-resolver";
import { createPeerClient } from "@caas/shared/clients";
import { chatEventsOpenedOverMesh } from "@caas/shared/sealing/data-key-client";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import type { Subscription } from "@caas/shared/eventing/bus";
import { FlushScheduler } from "./flush-scheduler.js";
import { HoleFiller } from "./hole-filler.js";
import { Hub } from "./hub.js";
import { RealtimeServiceImpl } from "./realtime-service.js";
import { PresenceTracker } from "./presence.js";
import { openRealtimeAdapters } from "./realtime-adapters.js";
import { createRevocationWatch } from "./revocation-watch.js";
import { TypingRelay } from "./typing.js";
import { UserStateRelay, startUserStateFeed } from "./user-state-feed.js";
import { SeqOrder } from "./seq-order.js";
import type { SessionLimits, SessionOptions } from "./session-types.js";
import { SessionRegistry } from "./sessions.js";
import { createWebSocketEndpoint } from "./transports/websocket.js";
import { createOriginAllowlist } from "@caas/shared/server/origin";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";

export { Hub, membershipChanges } from "./hub.js";
export { TypingRelay, TYPING_RATE, TYPING_TTL_MS } from "./typing.js";
export { PresenceTracker } from "./presence.js";
export { SeqOrder } from "./seq-order.js";
export { Session, INFLIGHT_RETRY_MS, type FrameSink, type SessionLimits } from "./session.js";
export { WS_PATH } from "./transports/websocket.js";
export { UserStateRelay, startUserStateFeed } from "./user-state-feed.js";

/** Session timings: those a client reads from AuthOk. */
export const DEFAULT_SESSION_LIMITS: Omit<SessionLimits, "maxFrameBytes"> = {
  authTimeoutMs: 10_000,
  heartbeatMs: 30_000,
  maxQueuedFrames: 1_024,
  retryAfterMs: 1_000,
};

/**
 * At most this many users without a connection keep their membership index on an instance (a
 * few hundred bytes each with a handful of conversations): enough for a reconnect storm of a
 * full instance, bounded against a churn of distinct users.
 */
const MAX_LINGERING_USERS = 50_000;

/** Every /ws session's options: one object shared by all of them (memory per idle connection). */
const WS_SESSION: SessionOptions = { clientHeartbeats: true, serverPongs: false };

/** A connection stays online this many heartbeat intervals after its last one (the server touches every interval). */
const PRESENCE_TTL_HEARTBEATS = 2.5;

/**
 * A WebSocket message up to this many times max_frame_bytes (and at most 1 MiB over it) is read
 * and refused with Closing FRAME_TOO_LARGE (4006); a larger one is cut off by the ws library
 * itself with 1009.
 */
const WS_OVERSIZE_READ_FACTOR = 4;

/**
 * The socket service: client sessions on WebSocket (/ws on the service's port), gRPC bidi
 * Connect and gRPC-web Subscribe + Send, all running one session core. Sends go to chat's
 * SendMessage with the user's own token; live events come from CHAT_EVENTS (a consumer group per
 * instance, from the newest record) and fan out to every local session of every member.
 * Revocations close the affected sessions with REVOKED, heard from the process deny-set (the
 * process's one auth-events subscription, not one of the socket's own); ReAuth replaces a
 * session's token; SetTyping fans out across instances over pub/sub and presence is kept in the
 * Presence port (memory or Redis by mode). Read and delivery markers moved on chat arrive on
 * USER_STATE_EVENTS and are pushed as read_state (own devices) and receipt (other members).
 * Limits (config): max_frame_bytes on every transport, connections per user, sends in flight per
 * connection, per-user typing rates (RateLimiter port). Sends are counted by chat, on every path
 * (ADR 0023); a refusal arrives as RESOURCE_EXHAUSTED with chat's retry delay.
 */
export async function createSocketService(ctx: ServiceContext, overrides: Partial<SessionLimits> = {}): Promise<ServiceDefinition> {
  const limits: SessionLimits = {
    ...DEFAULT_SESSION_LIMITS,
    maxFrameBytes: ctx.config.limits.wsMaxPayload,
    maxInflightSends: ctx.config.limits.realtimeMaxInflightSends,
    maxConcurrentAuth: ctx.config.limits.realtimeMaxConcurrentAuth,
    authQueue: ctx.config.limits.realtimeAuthQueue,
    maxConnectionsPerUser: ctx.config.limits.realtimeMaxConnectionsPerUser,
    checkpointMs: ctx.config.limits.realtimeCheckpointMs > 0 ? ctx.config.limits.realtimeCheckpointMs : undefined,
    checkpointsPerSec: ctx.config.limits.realtimeCheckpointsPerSec,
    ...overrides,
  };
  const chat = createPeerClient(ChatService, "chat", ctx.peers, { defaultTimeoutMs: 10_000 });
  // Seqs the live path skips are read from chat and handed out late, so connections stay complete.
  const filler = new HoleFiller(chat, ctx.logger);
  const hub = new Hub(filler.onHole, { ms: ctx.config.limits.realtimeMembershipLingerMs, maxUsers: MAX_LINGERING_USERS, clock: ctx.clock });
  filler.attach(hub);
  const order = new SeqOrder((tenantId, event) => hub.dispatch(tenantId, event), { holdMs: 250, maxTracked: 100_000 });
  const search = createPeerClient(SearchService, "search", ctx.peers, { defaultTimeoutMs: 10_000 });
  const verifier = createMeshJwtVerifier({ peers: ctx.peers, clock: ctx.clock });
  const adapters = await openRealtimeAdapters(ctx.config, ctx.logger, ctx.clock);
  const rates = ctx.config.rateLimits.perUser;
  const typing = new TypingRelay({ pubsub: adapters.pubsub, limiter: adapters.limiter, hub, clock: ctx.clock, logger: ctx.logger, rule: rates.typing });
  const receipts = new UserStateRelay(hub);
  const presence = new PresenceTracker({
    presence: adapters.presence,
    pubsub: adapters.pubsub,
    logger: ctx.logger,
    instanceId: ctx.config.instanceId,
    ttlMs: Math.round(PRESENCE_TTL_HEARTBEATS * limits.heartbeatMs),
  });
  const watch = createRevocationWatch(ctx);
  // This instance's one flush per tick: another instance in the same process flushes on its own.
  const flush = new FlushScheduler();
  const registry = new SessionRegistry({ verifier, revocations: watch.revocations, chat, search, hub, typing, presence, flush, clock: ctx.clock, logger: ctx.logger, limits });
  const ws = createWebSocketEndpoint({
    maxFrameBytes: limits.maxFrameBytes,
    maxPayload: Math.min(limits.maxFrameBytes * WS_OVERSIZE_READ_FACTOR, limits.maxFrameBytes + 1024 * 1024),
    maxBufferedBytes: ctx.config.connections.wsMaxBufferedBytes,
    newSession: (sink) => registry.open(sink, WS_SESSION),
    origins: createOriginAllowlist(ctx.config.corsOrigins),
    logger: ctx.logger,
  });
  let feed: Subscription | undefined;
  let userState: Subscription | undefined;

  return {
    name: "socket",
    services: [RealtimeService],
    register(router) {
      router.service(RealtimeService, new RealtimeServiceImpl(registry, chat, limits.maxQueuedFrames, { maxFrameBytes: limits.maxFrameBytes }, typing, search));
    },
    onUpgrade: (req, socket, head) => ws.onUpgrade(req, socket, head),
    async start() {
      // Sealed chat events are opened once per record here, before the fan-out to every recipient (ADR 0120).
      feed = await chatEventsOpenedOverMesh(ctx, "socket").subscribe(CHAT_EVENTS, { group: `socket.${ctx.config.instanceId}`, from: "latest" }, async (record) => {
        const env = record.value;
        if (env.payload.case === "event") order.push(env.tenantId, env.payload.value);
      });
      userState = await startUserStateFeed(ctx.bus, `socket-userstate.${ctx.config.instanceId}`, receipts);
      await watch.start(registry);
    },
    async drain() {
      registry.drain();
      await feed?.close();
      await watch.stop();
      await userState?.close();
      feed = undefined;
      userState = undefined;
      order.close();
    },
    async close() {
      await ws.close();
      await adapters.close();
    },
  };
}
