import { CloseCode } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { SessionLimits, SessionOptions } from "./session-types.js";

/** A session as its timers see it. */
export interface TimedSession {
  readonly isOpen: boolean;
  close(code: CloseCode, reason: string): void;
  checkpoint(): Promise<void>;
  /** Every heartbeat interval of an open session that is still heard from (presence touch, server Pong). */
  beat(): void;
}

/**
 * A session's clocks: the auth timeout, then (once open) the token expiry, the heartbeat interval
 * (two silent intervals close a client-heartbeat transport) and the checkpoint interval.
 */
export class SessionTimers {
  private readonly all: NodeJS.Timeout[] = [];
  private expiry?: NodeJS.Timeout;
  private lastSeenMs: number;

  constructor(
    private readonly session: TimedSession,
    private readonly limits: SessionLimits,
    private readonly clock: Clock,
    private readonly opts: SessionOptions,
  ) {
    this.lastSeenMs = clock.nowMs();
    this.all.push(setTimeout(() => session.close(CloseCode.AUTH_TIMEOUT, "no auth frame arrived in time"), limits.authTimeoutMs));
  }

  /** A frame arrived from the client. */
  heard(): void {
    this.lastSeenMs = this.clock.nowMs();
  }

  /** The session opened with a token accepted until `acceptedUntilMs`: the auth timeout stops, the others start. */
  opened(acceptedUntilMs: number): void {
    clearTimeout(this.all.shift());
    this.armExpiry(acceptedUntilMs);
    this.all.push(setInterval(() => this.heartbeat(), this.limits.heartbeatMs));
    const checkpointMs = this.limits.checkpointMs;
    if (checkpointMs !== undefined) {
      // Started at a random point of the first interval, so that connections opened together
      // (a deploy, a reconnect storm) do not all ask chat in the same instant.
      const first = setTimeout(
        () => {
          if (!this.session.isOpen) return;
          void this.session.checkpoint();
          this.all.push(setInterval(() => void this.session.checkpoint(), checkpointMs).unref());
        },
        Math.floor(Math.random() * checkpointMs),
      );
      this.all.push(first);
    }
    for (const t of this.all) t.unref();
  }

  /** (Re)starts the TOKEN_EXPIRED timer for a token accepted until `acceptedUntilMs`. */
  armExpiry(acceptedUntilMs: number): void {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.session.close(CloseCode.TOKEN_EXPIRED, "the access token expired"), Math.max(0, acceptedUntilMs - this.clock.nowMs()));
    this.expiry.unref();
  }

  /** The session ended. */
  stop(): void {
    for (const t of this.all) clearTimeout(t);
    clearTimeout(this.expiry);
  }

  private heartbeat(): void {
    if (this.opts.clientHeartbeats && this.clock.nowMs() - this.lastSeenMs > 2 * this.limits.heartbeatMs) {
      this.session.close(CloseCode.HEARTBEAT_TIMEOUT, "no frame from the client for two heartbeat intervals");
    } else {
      this.session.beat();
    }
  }
}
