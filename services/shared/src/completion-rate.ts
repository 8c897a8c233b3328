/** How far back completions count. */
const WINDOW_MS = 10_000;
/** One slot of the window. */
const SLOT_MS = 1_000;
/** Completions in the window below which there is no estimate. */
const MIN_SAMPLES = 8;

interface Slot {
  start: number;
  completions: number;
  /** Time in this slot with at least one piece of work in progress. */
  busyMs: number;
  /** The shortest time a piece of work finished in, in this slot. */
  fastestMs: number;
}

/**
 * How fast one server (or the servers behind one hop) gets through its work, measured as it goes:
 * pieces of work finished per second of time with work in progress, over the last 10 s, and the
 * fastest piece of the window (what one takes alone). From these Little's law gives how long a
 * new piece would take with what is in progress now: (in progress + 1) / rate. Idle time does not
 * count against the rate, so a quiet spell does not make a server look slow.
 *
 * Used where work is admitted or refused by the time it would wait (chat's send admission, the
 * gateway's bound on the calls it has outstanding to an owner), instead of by a count of calls,
 * which means a different wait at every rate.
 */
export class CompletionRate {
  private pending = 0;
  private lastChange: number;
  private readonly slots: Slot[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastChange = now();
  }

  /** Work in progress now. */
  get inProgress(): number {
    return this.pending;
  }

  /** Counts a piece of work as started; returns its start time for `finished`. */
  started(): number {
    this.account();
    this.pending++;
    return this.lastChange;
  }

  /** Counts a piece of work started at `startedAt` as finished (whatever its outcome). */
  finished(startedAt: number): void {
    this.account();
    this.pending--;
    const s = this.slot();
    s.completions++;
    s.fastestMs = Math.min(s.fastestMs, this.now() - startedAt);
  }

  /** Pieces finished per second of busy time over the window; undefined while there are too few. */
  perSecond(): number | undefined {
    this.account();
    let completions = 0;
    let busyMs = 0;
    for (const s of this.window()) {
      completions += s.completions;
      busyMs += s.busyMs;
    }
    if (completions < MIN_SAMPLES || busyMs <= 0) return undefined;
    return completions / (busyMs / 1000);
  }

  /** The shortest time a piece took over the window (0 without one). */
  fastestMs(): number {
    let fastest = Infinity;
    for (const s of this.window()) fastest = Math.min(fastest, s.fastestMs);
    return fastest === Infinity ? 0 : fastest;
  }

  /**
   * When a new piece started now would be done (ms from now: the work in progress and it, at the
   * measured rate) and how much of that is waiting (beyond the fastest piece, which a slow store
   * costs every piece anyway); undefined without a rate.
   */
  expected(): { doneMs: number; waitMs: number } | undefined {
    const perSec = this.perSecond();
    if (perSec === undefined) return undefined;
    const doneMs = ((this.pending + 1) / perSec) * 1000;
    return { doneMs, waitMs: Math.max(0, doneMs - this.fastestMs()) };
  }

  /** How long the work in progress takes to drain at the measured rate (0 without a rate). */
  drainMs(): number {
    const perSec = this.perSecond();
    return perSec === undefined ? 0 : (this.pending / perSec) * 1000;
  }

  private *window(): Iterable<Slot> {
    const since = this.now() - WINDOW_MS;
    for (const s of this.slots) if (s.start + SLOT_MS > since) yield s;
  }

  /** Adds the time since the last change to the busy time when work was in progress. */
  private account(): void {
    const now = this.now();
    if (this.pending > 0) this.slot().busyMs += now - this.lastChange;
    this.lastChange = now;
  }

  /** The slot of the current second (older ones beyond the window are dropped). */
  private slot(): Slot {
    const now = this.now();
    const start = Math.floor(now / SLOT_MS) * SLOT_MS;
    let last = this.slots[this.slots.length - 1];
    if (!last || last.start !== start) {
      last = { start, completions: 0, busyMs: 0, fastestMs: Infinity };
      this.slots.push(last);
      while (this.slots.length > WINDOW_MS / SLOT_MS + 1) this.slots.shift();
    }
    return last;
  }
}
