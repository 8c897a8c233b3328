import { CloseCode } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { SessionLimits, SessionOptions } from "./session-types.js";
import type { SessionWheels } from "./session-wheels.js";

/** Closes a session whose token ran out (one function for every session's expiry timer, no closure each). */
function expire(session: TimedSession): void {
  session.close(CloseCode.TOKEN_EXPIRED, "the access token expired");
}

/** A session as its timers see it. */
export interface TimedSession {
  readonly isOpen: boolean;
  close(code: CloseCode, reason: string): void;
  checkpoint(): Promise<void>;
  /** Every heartbeat interval of an open session that is still heard from (presence touch, server Pong). */
  beat(): void;
  /** The session's timers (the instance's heartbeat wheel calls back through them). */
  readonly timers: SessionTimers;
}

/**
 * A session's clocks: the auth timeout, then (once open) the token expiry, the heartbeat interval
 * (two silent intervals close a client-heartbeat transport) and the checkpoint interval. The two
 * intervals run on the instance's wheels rather than a timer per session.
 */
export class SessionTimers {
  private auth?: NodeJS.Timeout;
  private expiry?: NodeJS.Timeout;
  private lastSeenMs: number;
  /** The session's group in each wheel while it is on them (-1: not on it). */
  private heartbeatGroup = -1;
  private checkpointGroup = -1;

  constructor(
    private readonly session: TimedSession,
    private readonly limits: SessionLimits,
    private readonly clock: Clock,
    private readonly opts: SessionOptions,
    private readonly wheels: SessionWheels,
  ) {
    this.lastSeenMs = clock.nowMs();
    this.auth = setTimeout(() => session.close(CloseCode.AUTH_TIMEOUT, "no auth frame arrived in time"), limits.authTimeoutMs);
  }

  /** A frame arrived from the client. */
  heard(): void {
    this.lastSeenMs = this.clock.nowMs();
  }

  /**
   * The Auth frame arrived: the auth timeout, which is for clients that never send one, stops.
   * Authentication may then wait for a place (AuthGate) and for chat, whose calls have deadlines
   * of their own; closing it as AUTH_TIMEOUT meanwhile threw away work an overloaded instance had
   * queued and sent the client back into the herd (ADR 0191).
   */
  authArrived(): void {
    clearTimeout(this.auth);
    this.auth = undefined;
  }

  /** The session opened with a token accepted until `acceptedUntilMs`: the auth timeout stops, the others start. */
  opened(acceptedUntilMs: number): void {
    clearTimeout(this.auth);
    this.auth = undefined;
    this.armExpiry(acceptedUntilMs);
    this.heartbeatGroup = this.wheels.heartbeats.add(this.session);
    if (this.wheels.checkpoints) this.checkpointGroup = this.wheels.checkpoints.add(this.session);
  }

  /** (Re)starts the TOKEN_EXPIRED timer for a token accepted until `acceptedUntilMs`. */
  armExpiry(acceptedUntilMs: number): void {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(expire, Math.max(0, acceptedUntilMs - this.clock.nowMs()), this.session);
    this.expiry.unref();
  }

  /** The session ended. */
  stop(): void {
    clearTimeout(this.auth);
    clearTimeout(this.expiry);
    this.wheels.heartbeats.remove(this.session, this.heartbeatGroup);
    this.wheels.checkpoints?.remove(this.session, this.checkpointGroup);
    this.heartbeatGroup = this.checkpointGroup = -1;
  }

  /** A heartbeat interval passed (the instance's heartbeat wheel). */
  heartbeat(): void {
    if (this.opts.clientHeartbeats && this.clock.nowMs() - this.lastSeenMs > 2 * this.limits.heartbeatMs) {
      this.session.close(CloseCode.HEARTBEAT_TIMEOUT, "no frame from the client for two heartbeat intervals");
    } else {
      this.session.beat();
    }
  }
}
