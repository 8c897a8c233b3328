import { CloseCode } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { RevocationChecker } from "@caas/shared/identity/revocations";
import { AuthGate } from "./auth-gate.js";
import { ConnectionPlaces } from "./connection-places.js";
import { FlushScheduler } from "./flush-scheduler.js";
import type { FollowingDeps } from "./presence-following.js";
import { Session } from "./session.js";
import { SessionWheels } from "./session-wheels.js";
import type { FrameSink, SessionDeps, SessionOptions } from "./session-types.js";

/** What the registry is built from: the session deps it does not make itself; `flush` is the instance's scheduler (a new one when absent). */
export type RegistryDeps = Omit<SessionDeps, "onEnd" | "places" | "checkpointPlace" | "authGate" | "flush" | "wheels"> & { flush?: FlushScheduler };

/** The instance's open sessions: creation, lookup by connection id, and the shutdown drain. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private draining = false;
  /** The sessions' deps: one object shared by all of them (not a copy per connection: memory per idle connection). */
  private readonly shared: SessionDeps;

  /** The instance's checkpoint budget (limits.checkpointsPerSec), when bounded. */
  private readonly checkpointPlace: (() => Promise<boolean>) | undefined;

  constructor(private readonly deps: RegistryDeps) {
    const perSec = deps.limits.checkpointsPerSec;
    if (perSec !== undefined) {
      const limiter = createMemoryRateLimiter({ clock: deps.clock });
      const scope = scopeForAdmin("socket-instance");
      const rule = { capacity: perSec, refillPerSec: perSec };
      this.checkpointPlace = async () => (await limiter.take(scope, "checkpoints", rule)).allowed;
    }
    this.shared = {
      ...deps,
      flush: deps.flush ?? new FlushScheduler(),
      places: new ConnectionPlaces(deps.presence, deps.logger),
      wheels: new SessionWheels(deps.limits.heartbeatMs, deps.limits.checkpointMs),
      ...(this.checkpointPlace ? { checkpointPlace: this.checkpointPlace } : {}),
      ...(deps.limits.maxConcurrentAuth !== undefined && { authGate: new AuthGate(deps.limits.maxConcurrentAuth, deps.limits.authQueue ?? 0) }),
      onEnd: (s) => this.sessions.delete(s.id),
    };
  }

  /** What presence following (the unary SubscribePresence) needs of the instance. */
  get following(): FollowingDeps {
    return this.shared;
  }

  /** A new session on `sink`; while draining it is closed at once with SERVER_SHUTDOWN. */
  open(sink: FrameSink, opts: SessionOptions): Session {
    const session = new Session(sink, this.shared, opts);
    this.sessions.set(session.id, session);
    if (this.draining) session.close(CloseCode.SERVER_SHUTDOWN, "the server is shutting down", this.deps.limits.retryAfterMs);
    return session;
  }

  /** The open session with this connection id, if any. */
  get(connectionId: string): Session | undefined {
    return this.sessions.get(connectionId);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Closes with REVOKED every open session whose token `checker` denies; returns how many. */
  closeRevoked(checker: RevocationChecker): number {
    let closed = 0;
    for (const s of [...this.sessions.values()]) if (s.closeIfRevoked(checker)) closed++;
    return closed;
  }

  /** Sends every session Closing SERVER_SHUTDOWN and refuses new ones. */
  drain(): void {
    this.draining = true;
    for (const s of [...this.sessions.values()]) s.close(CloseCode.SERVER_SHUTDOWN, "the server is shutting down", this.deps.limits.retryAfterMs);
  }
}
