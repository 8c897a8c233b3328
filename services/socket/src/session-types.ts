import type { CloseCode, ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { RevocationChecker } from "@caas/shared/identity/revocations";
import type { Logger } from "@caas/shared/logger";
import type { AuthGate } from "./auth-gate.js";
import type { ChatClient } from "./chat-calls.js";
import type { ConnectionPlaces } from "./connection-places.js";
import type { FlushScheduler } from "./flush-scheduler.js";
import type { Hub } from "./hub.js";
import type { PresenceTracker } from "./presence.js";
import type { SessionWheels } from "./session-wheels.js";
import type { SearchClient } from "./search-calls.js";
import type { TypingRelay } from "./typing.js";

/** Where a session's frames go: one WebSocket, gRPC Connect stream or Subscribe stream. */
export interface FrameSink {
  /** Writes frames in order, as one batch (one socket write per flush on WebSocket). */
  write(frames: ServerFrame[]): void;
  /** True when frames already written are still waiting for the client beyond the bound. */
  congested(): boolean;
  /** Ends the transport after the frames written so far. */
  end(code: CloseCode, reason: string): void;
}

/** Timings and bounds of every session. */
export interface SessionLimits {
  /** An Auth frame must arrive within this long after connecting. */
  authTimeoutMs: number;
  /** AuthOk.heartbeat_interval; two silent intervals close a client-heartbeat transport. */
  heartbeatMs: number;
  /** Frames queued for one tick's write plus those the transport holds; past it: SLOW_CONSUMER. */
  maxQueuedFrames: number;
  /** AuthOk.max_frame_bytes. */
  maxFrameBytes: number;
  /** Suggested wait before reconnecting after SLOW_CONSUMER and SERVER_SHUTDOWN. */
  retryAfterMs: number;
  /** Send frames outstanding on one connection; more are refused with RESOURCE_EXHAUSTED. Unset: no bound. */
  maxInflightSends?: number;
  /** Open connections of one user (Presence port, else this instance); the next closes with TOO_MANY_CONNECTIONS. Unset: no bound. */
  maxConnectionsPerUser?: number;
  /** Authentications this instance runs at once (ADR 0191); unset: no bound. */
  maxConcurrentAuth?: number;
  /** Connections that may wait for an authentication place; past it they are refused with a retry delay. */
  authQueue?: number;
  /** At most one Checkpoint per this interval, after live activity. Unset: no checkpoints. */
  checkpointMs?: number;
  /**
   * Checkpoints (each one GetChanges call to chat) this instance starts per second, across all
   * its sessions; a session refused a place tries again at its next interval. Unset: no bound.
   */
  checkpointsPerSec?: number;
}

/** A client should wait this long after an in-flight refusal: about one chat round trip. */
export const INFLIGHT_RETRY_MS = 100;

/** What every session shares: the verifier, the chat client, the fan-out index, the instance's flush scheduler. */
export interface SessionDeps {
  verifier: JwtVerifier;
  revocations?: RevocationChecker;
  chat: ChatClient;
  hub: Hub;
  /** The socket instance's one flush per tick of every session with frames waiting. */
  flush: FlushScheduler;
  /** The instance's heartbeat and checkpoint intervals, one timer each for every session. */
  wheels: SessionWheels;
  /** Typing indicators; without it SetTyping answers UNIMPLEMENTED. */
  typing?: TypingRelay;
  /** The search service; without it search frames answer UNAVAILABLE. */
  search?: SearchClient;
  /** Presence; without it SubscribePresence answers UNIMPLEMENTED and connections are counted in `slots`. */
  presence?: PresenceTracker;
  /** This instance's count of connections per user (in the Presence port when there is one). */
  places: ConnectionPlaces;
  clock: Clock;
  logger: Logger;
  limits: SessionLimits;
  /** The instance's bound on authentications at once (ADR 0191); absent: none. */
  authGate?: AuthGate;
  /** A place for one checkpoint in the instance's budget (`limits.checkpointsPerSec`); absent: always. */
  checkpointPlace?(): Promise<boolean>;
  /** Called once when the session ends, however it ends. */
  onEnd(session: { readonly id: string }): void;
}

/** How the transport behaves around heartbeats. */
export interface SessionOptions {
  /** The client sends Pings (WebSocket, Connect): silence for two intervals closes the session. */
  clientHeartbeats: boolean;
  /** The server sends Pong nonce 0 every interval (Subscribe streams, which cannot send up). */
  serverPongs: boolean;
}
