import { ResourceExhaustedError } from "@caas/shared/errors";
import { CompletionRate } from "@caas/shared/completion-rate";
import { RetryBudget } from "@caas/shared/retry-budget";

export interface SendAdmissionOptions {
  /** Sends admitted at once whatever the estimate says (CAAS_CHAT_MAX_PENDING_SENDS). */
  max: number;
  /** The shortest retry delay a refusal names. */
  retryAfterMs: number;
  /**
   * The longest a send should expect to wait on this instance beyond what one send takes alone
   * (CAAS_CHAT_SEND_TARGET_MS): past it, even with deadline to spare, it is refused, so work
   * admitted under overload is still acknowledged promptly and the instance is quick again as
   * soon as the overload ends.
   */
  targetMs: number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

/** Whether the caller says this send is a retry of an attempt made before (its retry marker). */
export interface SendAttempt {
  retry: boolean;
  /** The send's idempotency key (tenant, sender, client_message_id), when it has one. */
  key?: string;
  /** The caller's signal: a send that commits after it fired is remembered under `key`. */
  signal?: AbortSignal;
}

/** How far back the demand (sends admitted and refused) counts. */
const WINDOW_MS = 10_000;
/** One slot of the window. */
const BUCKET_MS = 1_000;
/** Sends always admitted, so an estimate from a slow spell can be corrected by new measurements. */
const PROBE = 2;
/** The share of the caller's remaining deadline an admitted send may expect to spend here. */
const DEADLINE_SHARE = 0.8;
/** The longest retry delay a refusal names. */
const MAX_RETRY_MS = 10_000;
/** Retries admitted per first attempt admitted over the window, and whatever the first attempts (RetryBudget). */
const RETRY_RATIO = 0.2;
const RETRY_FLOOR = 2;
/** The longest delay a retry refused by the budget names: past its clients' patience, a crowd of the overload's retries gives up. */
const MAX_RETRY_OF_RETRY_MS = 30_000;
/** Idempotency keys of the sends this instance committed last, remembered (oldest dropped first). */
const MAX_COMMITTED_KEYS = 10_000;

interface Bucket {
  start: number;
  /** Sends admitted and refused in this slot (the demand). */
  admitted: number;
  refused: number;
  /** Sends refused for want of capacity (the bound or the estimate, not the retry budget). */
  short: number;
}

/**
 * Which sends one chat instance takes on. A send is admitted when this instance can be expected
 * to finish it soon and in time: the sends in progress plus this one, divided by the instance's
 * measured throughput (sends finished per second of time spent with sends in progress, over the
 * last 10 s), is when it would be done. That must fit in 80 % of what is left of the caller's
 * deadline, and its waiting part (beyond the fastest send of the window, what a send takes
 * alone) must fit in `targetMs` (CompletionRate): a slow store makes every send slow, only queueing is refused. It is also
 * bounded by `max` sends in progress. A send that does not fit is refused at once with
 * RESOURCE_EXHAUSTED and a retry delay (RetryInfo) rather than queued: a queue longer than its
 * callers' deadlines only fills with work they have given up on, which the database commits
 * anyway, and their retries add to it.
 *
 * The retry delay is the time the work in progress needs to drain, times the demand's excess over
 * what was admitted (sends asked for per send admitted, over the window), between the configured
 * delay and 10 s. Under a lasting overload clients that honour it come back spread over a longer
 * time, or give up, instead of every refused client returning within a second.
 *
 * A send its caller marks as a retry is admitted on the same terms, and while the instance has
 * refused sends for want of capacity over the window (it is, or just was, overloaded) only within a
 * retry budget (RetryBudget: a fifth of the first attempts admitted over the window, plus two): the
 * retries of an overload would otherwise keep the instance at capacity long after the overload
 * itself ended, and the new sends behind them would wait. Not even an idle instance takes on a
 * retry past the budget then: under a crowd of retries every idle moment would be filled with one.
 * An instance that refused nothing takes retries on freely (e.g. the sends of an instance that
 * was restarted, retried on this one). A retry refused by
 * the budget names the usual delay or the configured one times the retry demand's excess over
 * the budget (retries asked for per retry admitted), whichever is longer, up to 30 s. The retry of a send
 * this instance committed after its caller had gone is always let through: it costs a lookup,
 * and returns the ack its client is still waiting for.
 */
export class SendAdmission {
  private readonly rate: CompletionRate;
  private readonly buckets: Bucket[] = [];
  private readonly now: () => number;
  private readonly retries: RetryBudget;
  /**
   * Keys of the sends this instance committed last (insertion order: oldest first). A retry of one
   * asks for an ack its client never got (its caller had gone, or the answer came too late for its
   * deadline), which costs a read, not a commit: the retry budget lets it through.
   */
  private readonly committed = new Set<string>();

  constructor(private readonly opts: SendAdmissionOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.rate = new CompletionRate(this.now);
    this.retries = new RetryBudget({ ratio: RETRY_RATIO, floor: RETRY_FLOOR, windowMs: WINDOW_MS, now: this.now });
  }

  /**
   * Runs `send` when it is expected to finish within `remainingMs` (the caller's deadline;
   * undefined: none) and there is room (for a retry while short of capacity: and the retry budget
   * has room); otherwise throws RESOURCE_EXHAUSTED with a retry delay.
   */
  async run<T>(remainingMs: number | undefined, send: () => Promise<T>, attempt: SendAttempt = { retry: false }): Promise<T> {
    const pending = this.rate.inProgress;
    if (pending >= this.opts.max) {
      throw this.refuse(`this chat instance is working on ${pending} sends (at most ${this.opts.max}); retry after the delay`);
    }
    if (attempt.retry && this.shortOfCapacity() && !this.retries.allows() && !(attempt.key !== undefined && this.committed.has(attempt.key))) {
      const { first, retries } = this.retries.totals();
      const delayMs = Math.round(Math.min(MAX_RETRY_OF_RETRY_MS, Math.max(this.retryAfterMs(), this.opts.retryAfterMs * this.retries.excess())));
      this.retries.refused();
      throw this.refuse(
        `this chat instance is working on ${pending} sends and took on ${retries} retries for ${first} first attempts in the last ${WINDOW_MS / 1000} s (its retry budget); retry after the delay`,
        delayMs,
        false,
      );
    }
    const expected = pending >= PROBE ? this.rate.expected() : undefined;
    if (expected) {
      // The time to finish this send too, and how much of it is waiting: beyond what one send
      // takes alone (the fastest of the window), which a slow store costs every send anyway.
      const { doneMs, waitMs } = expected;
      if (waitMs > this.opts.targetMs || (remainingMs !== undefined && doneMs > remainingMs * DEADLINE_SHARE)) {
        throw this.refuse(
          `this chat instance is working on ${pending} sends at about ${(this.rate.perSecond() ?? 0).toFixed(1)}/s: this one would wait about ${Math.round(waitMs)} ms (target ${this.opts.targetMs} ms${remainingMs === undefined ? "" : `, ${Math.round(remainingMs)} ms left of the caller's deadline`}); retry after the delay`,
        );
      }
    }
    this.bucket().admitted++;
    this.retries.admitted(attempt.retry);
    const started = this.rate.started();
    try {
      const result = await send();
      if (attempt.key !== undefined) this.remember(attempt.key);
      return result;
    } finally {
      this.rate.finished(started);
    }
  }

  /** Sends in progress (for tests and metrics). */
  get inProgress(): number {
    return this.rate.inProgress;
  }

  /** Sends finished per second of busy time over the window; undefined while there are too few. */
  throughput(): number | undefined {
    return this.rate.perSecond();
  }

  /** Whether this instance refused a send for want of capacity (its bound or its estimate) over the window. */
  private shortOfCapacity(): boolean {
    const since = this.now() - WINDOW_MS;
    return this.buckets.some((b) => b.start + BUCKET_MS > since && b.short > 0);
  }

  /** Remembers a committed send, so that its retry gets the ack whatever the budget. */
  private remember(key: string): void {
    this.committed.delete(key);
    this.committed.add(key);
    if (this.committed.size > MAX_COMMITTED_KEYS) this.committed.delete(this.committed.values().next().value as string);
  }

  /** Counts a refusal and builds its error, with the retry delay. */
  private refuse(message: string, retryAfterMs = this.retryAfterMs(), forCapacity = true): ResourceExhaustedError {
    const err = new ResourceExhaustedError(message, retryAfterMs);
    this.bucket().refused++;
    if (forCapacity) this.bucket().short++;
    return err;
  }

  /** The delay to name in a refusal: the drain time of the work in progress, stretched by the demand's excess. */
  retryAfterMs(): number {
    const drainMs = this.rate.drainMs();
    const since = this.now() - WINDOW_MS;
    let admitted = 0;
    let asked = 0;
    for (const b of this.buckets) {
      if (b.start + BUCKET_MS <= since) continue;
      admitted += b.admitted;
      asked += b.admitted + b.refused;
    }
    const excess = Math.max(1, asked / Math.max(1, admitted));
    return Math.round(Math.min(MAX_RETRY_MS, Math.max(this.opts.retryAfterMs, drainMs) * excess));
  }

  /** The bucket of the current second (older ones beyond the window are dropped). */
  private bucket(): Bucket {
    const now = this.now();
    const start = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    let last = this.buckets[this.buckets.length - 1];
    if (!last || last.start !== start) {
      last = { start, admitted: 0, refused: 0, short: 0 };
      this.buckets.push(last);
      while (this.buckets.length > WINDOW_MS / BUCKET_MS + 1) this.buckets.shift();
    }
    return last;
  }
}
