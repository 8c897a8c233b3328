/** Something with frames waiting to be written in one batch. */
export interface Flushable {
  flush(): void;
}

/**
 * A flush that wrote to at least this many sessions and took at least FLUSH_HOLD_MIN_MS is a
 * heavy fan-out: the next flush waits (see `schedule`).
 */
const FLUSH_HOLD_MIN_SESSIONS = 100;
const FLUSH_HOLD_MIN_MS = 1;
/** The longest a flush is held after a heavy one. */
const FLUSH_HOLD_MAX_MS = 10;

/**
 * One flush per tick for every session of a socket instance with frames waiting: a fan-out to N
 * sessions schedules one callback, not N (each session still writes its own batch, in order).
 * After a heavy flush (many sessions, long), the next one starts no sooner than that flush took
 * after it ended, at most FLUSH_HOLD_MAX_MS: flushing then takes at most about half the time, and
 * the events that arrive meanwhile go out in the same socket write per connection instead of one
 * write each (a write's system call, not the bytes, is the cost of a delivery). Small flushes
 * never hold. Owned by one instance (made in its composition root), so two instances in one
 * process do not hold each other's flushes.
 */
export class FlushScheduler {
  private dirty: Flushable[] = [];
  private lastFlushEnd = 0;
  private holdMs = 0;

  /** Flushes `target` in this tick's flush (or the held one); call once until it flushed. */
  schedule(target: Flushable): void {
    this.dirty.push(target);
    if (this.dirty.length !== 1) return;
    const wait = this.holdMs > 0 ? this.lastFlushEnd + this.holdMs - performance.now() : 0;
    if (wait >= 1) setTimeout(this.heldFlush, Math.ceil(wait));
    else setImmediate(this.flushDirty);
  }

  /** The held flush; a timer armed in the tick of a long flush counts from that tick's start, so it re-arms when early. */
  private readonly heldFlush = (): void => {
    const wait = this.lastFlushEnd + this.holdMs - performance.now();
    if (wait >= 1) setTimeout(this.heldFlush, Math.ceil(wait));
    else this.flushDirty();
  };

  private readonly flushDirty = (): void => {
    const start = performance.now();
    const targets = this.dirty;
    this.dirty = [];
    for (const t of targets) t.flush();
    this.lastFlushEnd = performance.now();
    const took = this.lastFlushEnd - start;
    this.holdMs = targets.length >= FLUSH_HOLD_MIN_SESSIONS && took >= FLUSH_HOLD_MIN_MS ? Math.min(took, FLUSH_HOLD_MAX_MS) : 0;
  };
}
