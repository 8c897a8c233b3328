import { TimerWheel } from "./timer-wheel.js";

/** A session as the instance's wheels see it. */
export interface WheeledSession {
  /** The session's heartbeat check (closes a silent client-heartbeat session, else beats). */
  readonly timers: { heartbeat(): void };
  checkpoint(): Promise<void>;
}

/**
 * The instance's periodic session work, one timer each for all its sessions (TimerWheel): the
 * heartbeat interval and, when checkpoints are on, the checkpoint interval. A session's first
 * checkpoint comes at a random point of its first interval (its group of the wheel), so
 * connections opened together (a deploy, a reconnect storm) do not all ask chat in the same instant.
 */
export class SessionWheels {
  readonly heartbeats: TimerWheel<WheeledSession>;
  readonly checkpoints?: TimerWheel<WheeledSession>;

  /** `checkpointMs` undefined: no checkpoints. */
  constructor(heartbeatMs: number, checkpointMs: number | undefined) {
    this.heartbeats = new TimerWheel(heartbeatMs, (s) => s.timers.heartbeat());
    if (checkpointMs !== undefined) this.checkpoints = new TimerWheel(checkpointMs, (s) => void s.checkpoint());
  }
}
