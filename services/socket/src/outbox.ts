import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Flushable, FlushScheduler } from "./flush-scheduler.js";
import type { FrameSink } from "./session-types.js";

/**
 * A session's frames waiting for the next flush of its instance's scheduler, bounded: one batch
 * (one socket write on WebSocket) per flush.
 */
export class Outbox implements Flushable {
  private pending: ServerFrame[] = [];
  private scheduled = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly scheduler: FlushScheduler,
    private readonly maxQueued: number,
  ) {}

  /**
   * Queues `frame` for the next flush. False when the queue plus what the transport holds passed
   * the bound: then everything queued is dropped (the session closes as a slow consumer). The
   * transport is asked at the first frame of each batch: until the batch is flushed nothing is
   * written to it, so what it holds does not grow meanwhile (a fan-out adds to many sessions in a
   * row, and this is per delivery).
   */
  add(frame: ServerFrame): boolean {
    this.pending.push(frame);
    if (this.pending.length > this.maxQueued || (!this.scheduled && this.sink.congested())) {
      this.pending = [];
      return false;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.scheduler.schedule(this);
    }
    return true;
  }

  /** Writes everything queued and then `last` now, without waiting for the flush. */
  writeNow(last: ServerFrame): void {
    this.pending.push(last);
    this.flush();
  }

  /** Drops everything queued (the transport went away). */
  clear(): void {
    this.pending = [];
  }

  /** Writes the frames queued since the last flush as one batch (called by the scheduler). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.sink.write(batch);
  }
}
