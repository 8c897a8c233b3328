import type { Clock } from "@caas/shared/clock";

/**
 * Entries kept for `ms` after they were let go, so that taking one back within that time finds
 * it; at most `max` at once (past that the oldest expires at once). Expiry is exact on `clock`:
 * `take` refuses an entry past its time even before the timer swept it. One unref'd timer for all
 * entries (they expire in the order they were added). Single process.
 */
export class Lingering<T> {
  /** Entry -> when it expires (epoch ms), in the order added: the first expires first. */
  private readonly until = new Map<T, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ms: number,
    private readonly max: number,
    private readonly clock: Clock,
    /** Called for an entry whose time ran out (or that the bound pushed out); not for one taken or forgotten. */
    private readonly expire: (item: T) => void,
  ) {}

  /** Starts (or restarts) `item`'s time. */
  add(item: T): void {
    this.until.delete(item);
    this.until.set(item, this.clock.nowMs() + this.ms);
    if (this.until.size > this.max) {
      const oldest = this.until.keys().next().value as T;
      this.until.delete(oldest);
      this.expire(oldest);
    }
    this.arm();
  }

  /** Ends `item`'s time; true when it was still within it. An entry past its time is expired here. */
  take(item: T): boolean {
    const until = this.until.get(item);
    if (until === undefined) return false;
    this.until.delete(item);
    if (until > this.clock.nowMs()) return true;
    this.expire(item);
    return false;
  }

  /** Drops `item` without expiring it. */
  forget(item: T): void {
    this.until.delete(item);
  }

  /** Expires every entry past its time (the timer runs it; tests on a fake clock call it). */
  sweep(): void {
    const now = this.clock.nowMs();
    for (const [item, until] of this.until) {
      if (until > now) break;
      this.until.delete(item);
      this.expire(item);
    }
    this.arm();
  }

  /** Entries within their time or not yet swept (tests and diagnostics). */
  get size(): number {
    return this.until.size;
  }

  private arm(): void {
    if (this.timer || this.until.size === 0) return;
    const first = this.until.values().next().value as number;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.sweep();
      },
      Math.max(1, first - this.clock.nowMs()),
    ).unref();
  }
}
