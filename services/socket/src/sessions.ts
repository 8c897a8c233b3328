import { CloseCode } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { RevocationChecker } from "@caas/shared/identity/revocations";
import { LocalConnectionSlots, Session, type FrameSink, type SessionDeps, type SessionOptions } from "./session.js";

/** The instance's open sessions: creation, lookup by connection id, and the shutdown drain. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private draining = false;
  /** Connection places per user when the sessions have no Presence port to count them in. */
  private readonly slots = new LocalConnectionSlots();

  /** The instance's checkpoint budget (limits.checkpointsPerSec), when bounded. */
  private readonly checkpointPlace: (() => Promise<boolean>) | undefined;

  constructor(private readonly deps: Omit<SessionDeps, "onEnd" | "slots" | "checkpointPlace">) {
    const perSec = deps.limits.checkpointsPerSec;
    if (perSec !== undefined) {
      const limiter = createMemoryRateLimiter({ clock: deps.clock });
      const scope = scopeForAdmin("socket-instance");
      const rule = { capacity: perSec, refillPerSec: perSec };
      this.checkpointPlace = async () => (await limiter.take(scope, "checkpoints", rule)).allowed;
    }
  }

  /** A new session on `sink`; while draining it is closed at once with SERVER_SHUTDOWN. */
  open(sink: FrameSink, opts: SessionOptions): Session {
    const session = new Session(sink, { ...this.deps, slots: this.slots, ...(this.checkpointPlace ? { checkpointPlace: this.checkpointPlace } : {}), onEnd: (s) => this.sessions.delete(s.id) }, opts);
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
