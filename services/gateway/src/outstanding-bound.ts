import { CompletionRate } from "@caas/shared/completion-rate";
import { ResourceExhaustedError } from "@caas/shared/errors";
import { RetryBudget } from "@caas/shared/retry-budget";

/** The shortest retry delay a refusal names (RetryInfo). */
export const OUTSTANDING_RETRY_AFTER_MS = 1_000;
/** The longest retry delay a refusal names. */
const MAX_RETRY_AFTER_MS = 10_000;
/** Calls always let through to an owner whatever the estimate, so that an estimate from a slow spell is corrected by new measurements. */
const PROBE = 4;
/** The share of the caller's remaining deadline a forwarded call may expect to spend with the owner. */
const DEADLINE_SHARE = 0.8;
/** The share of the target wait up to which retries are let through: only while the owner keeps up (40 ms of the default 2 s). */
const RETRY_WAIT_SHARE = 0.02;
/** The longest delay a refused retry names: past its client's patience, a crowd of an overload's retries gives up. */
const MAX_RETRY_OF_RETRY_MS = 30_000;
/** How far back the calls let through and the retries refused count, and how long after a refusal the owner counts as overloaded. */
const RETRY_WINDOW_MS = 10_000;
/**
 * Retries let through per first attempt let through over the window while the owner is or just was
 * overloaded, and whatever the first attempts (RetryBudget): gRPC's retry throttling and the SRE
 * book's client retry budget both allow a tenth.
 */
const RETRY_RATIO = 0.1;
const RETRY_FLOOR = 2;

export interface OutstandingBoundOptions {
  /** Calls outstanding to one owner service at most, whatever the estimate (CAAS_GATEWAY_MAX_OUTSTANDING). */
  max: number;
  /**
   * The longest a forwarded call should expect to wait behind the calls outstanding to its owner,
   * beyond what one call takes alone (CAAS_GATEWAY_TARGET_WAIT_MS). Default: no bound by time.
   */
  targetMs?: number;
  /**
   * The target wait while the owner is or just was overloaded (the gateway refused a call to it in
   * the last 10 s), when shorter than `targetMs` (CAAS_GATEWAY_OVERLOADED_WAIT_MS). Default: `targetMs`.
   */
  overloadedTargetMs?: number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

/** What the bound needs to know of a call: whether its caller marked it as a retry, and the caller's remaining deadline. */
export interface ForwardedCall {
  retry: boolean;
  remainingMs?: number | undefined;
}

/** Why a call is refused and when its caller may retry (RESOURCE_EXHAUSTED with a RetryInfo of that delay). */
export interface Refusal {
  message: string;
  retryAfterMs: number;
}

/** One owner service's calls: the rate at which the gateway sees them finish, the retries among those outstanding, the retry budget and the last refusal. */
interface Owner {
  rate: CompletionRate;
  retries: number;
  budget: RetryBudget;
  /** When the gateway last refused a call to this owner for its load (not a retry refused by the retry rules alone); -Infinity: never. */
  refusedAt: number;
}

/**
 * A bound on the calls the gateway has outstanding to each owner service, by the time a new call
 * would wait (Little's law) and by count: past it a unary or client-streaming call is refused at
 * once with RESOURCE_EXHAUSTED and a retry delay instead of being forwarded.
 *
 * The gateway measures, per owner, how fast its outstanding calls finish (CompletionRate: calls
 * finished per second of time with calls outstanding, over the last 10 s, and the fastest call). A
 * call that would wait longer than `targetMs` behind the calls outstanding (beyond the fastest
 * call), or would not be done within 80 % of its caller's remaining deadline, is refused; so is
 * any call past `max` outstanding. A bound by count alone is a different wait at every rate: 512
 * calls outstanding were 17 s of work for a chat cluster committing 30 sends a second, and after an
 * overload new sends queued behind that backlog (between the gateway and chat, where no deadline
 * check sees them) until it drained, about 30 s. Envoy's circuit breaker `max_requests` is the
 * count; its adaptive concurrency filter, which bounds by measured latency, is the time.
 *
 * Calls marked as retries (`grpc-previous-rpc-attempts`) are let through only while the owner keeps
 * up: while a new call would wait at most a fiftieth of the target (and they hold at most half of what
 * the bound allows). First attempts fill the queue up to the target; retries only the owner's spare
 * capacity. After an overload the clients' retries of it arrive for as long as their retry budgets
 * last, many times the new sends: let through on the same terms they keep the queue at the target,
 * and every new send waits that long (2-3 s for 15 s in a measured run) until their clients give
 * up. A refused retry names the usual delay stretched by the retry demand's excess (retries asked
 * for per retry let through over the last 10 s), up to 30 s, as chat's retry budget does (ADR
 * 0155): the crowd comes back spread out, or its clients give up, instead of costing the gateway a
 * refusal each second on the CPU new sends need.
 *
 * While the owner is or just was overloaded (the gateway refused a call to it for its load in the
 * last 10 s; a retry refused by the budget or the retries' share does not count), retries are also
 * held to a budget: a tenth of the first attempts let through over the last 10 s,
 * plus two (RetryBudget). Let into spare capacity alone, the overload's retries kept the owner at
 * capacity until their clients' budgets ran out, and every new send waited several times its usual
 * time (130-550 ms against 31 ms, for 20 s in a measured run). An owner that was not refusing
 * anything takes retries freely (e.g. the calls of a restarted instance, retried).
 *
 * While the owner is or just was overloaded, first attempts too are held to a shorter wait
 * (`overloadedTargetMs`, 500 ms by default against 2 s): the long target absorbs a burst, but under
 * a sustained overload it only keeps a standing queue of that many seconds in front of the owner,
 * which adds latency without adding throughput (CoDel's good and bad queue), and after the overload
 * every new call waited behind it until it drained (1-2 s a call for the first 5 s after a measured
 * 5x overload). The short queue still keeps the owner busy while it lasts.
 *
 * Streams (realtime sessions) are not counted: they are long-lived by design and have their own
 * connections (stream lanes).
 */
export class OutstandingBound {
  private readonly owners = new Map<string, Owner>();
  private readonly now: () => number;
  private readonly targetMs: number | undefined;
  private readonly overloadedTargetMs: number | undefined;
  readonly max: number;

  constructor(opts: OutstandingBoundOptions | number) {
    const o = typeof opts === "number" ? { max: opts } : opts;
    if (!Number.isInteger(o.max) || o.max < 1) throw new RangeError("the outstanding bound must be a positive integer");
    this.max = o.max;
    this.targetMs = o.targetMs;
    this.overloadedTargetMs = o.targetMs === undefined || o.overloadedTargetMs === undefined ? o.targetMs : Math.min(o.targetMs, o.overloadedTargetMs);
    this.now = o.now ?? (() => performance.now());
  }

  /** Runs `call` as one outstanding call to `owner`, or refuses it (see the class). */
  async run<T>(owner: string, call: () => Promise<T>, attempt: ForwardedCall = { retry: false }): Promise<T> {
    const o = this.owner(owner);
    const refused = this.check(o, owner, attempt);
    if (refused) throw new ResourceExhaustedError(refused.message, refused.retryAfterMs);
    o.budget.admitted(attempt.retry);
    const started = o.rate.started();
    if (attempt.retry) o.retries++;
    try {
      return await call();
    } finally {
      o.rate.finished(started);
      if (attempt.retry) o.retries--;
    }
  }

  /**
   * The refusal `run` would answer a call to `owner` with now, counted as a refusal (the owner is
   * overloaded for the next 10 s, a refused retry counts against the budget); undefined when the
   * call would be let through, and then nothing is counted: the call is checked again by `run`.
   * The gateway asks this as soon as a request's headers are read, before the RPC stack (ADR 0211).
   */
  refusal(owner: string, attempt: ForwardedCall = { retry: false }): Refusal | undefined {
    return this.check(this.owner(owner), owner, attempt);
  }

  /** The admission rules of the class, in order: the first that refuses names the refusal. */
  private check(o: Owner, owner: string, attempt: ForwardedCall): Refusal | undefined {
    const n = o.rate.inProgress;
    if (n >= this.max) {
      return this.refuse(o, `the gateway has ${n} calls outstanding to ${owner} (CAAS_GATEWAY_MAX_OUTSTANDING): retry later`);
    }
    const overloaded = this.overloaded(o);
    const targetMs = overloaded ? this.overloadedTargetMs : this.targetMs;
    const expected = targetMs !== undefined && n >= PROBE ? o.rate.expected() : undefined;
    if (expected && (expected.waitMs > targetMs! || (attempt.remainingMs !== undefined && expected.doneMs > attempt.remainingMs * DEADLINE_SHARE))) {
      const target = overloaded && targetMs !== this.targetMs ? `target ${targetMs} ms while it is overloaded, CAAS_GATEWAY_OVERLOADED_WAIT_MS` : `target ${targetMs} ms, CAAS_GATEWAY_TARGET_WAIT_MS`;
      return this.refuse(
        o,
        `the gateway has ${n} calls outstanding to ${owner}, finishing about ${(o.rate.perSecond() ?? 0).toFixed(1)}/s: this one would wait about ${Math.round(expected.waitMs)} ms (${target}${attempt.remainingMs === undefined ? "" : `; ${Math.round(attempt.remainingMs)} ms left of the caller's deadline`}): retry later`,
      );
    }
    if (attempt.retry && this.targetMs !== undefined && expected && expected.waitMs > this.targetMs * RETRY_WAIT_SHARE) {
      return this.refuseRetry(
        o,
        `the gateway has ${n} calls outstanding to ${owner}: a retry would wait about ${Math.round(expected.waitMs)} ms, and retries are let through only while the owner keeps up (at most ${Math.round(this.targetMs * RETRY_WAIT_SHARE)} ms): retry later`,
        { owner: "busy" },
      );
    }
    const maxRetries = this.maxRetries(o);
    if (attempt.retry && o.retries >= maxRetries) {
      return this.refuseRetry(o, `the gateway has ${o.retries} retried calls outstanding to ${owner} (half of what it lets through now): retry later`, { owner: "not-asked" });
    }
    if (attempt.retry && overloaded && !o.budget.allows()) {
      const { first, retries } = o.budget.totals();
      return this.refuseRetry(
        o,
        `the gateway let ${retries} retries through to ${owner} for ${first} first attempts in the last ${RETRY_WINDOW_MS / 1000} s, and refuses calls to it (its retry budget while overloaded): retry later`,
        { owner: "not-asked" },
      );
    }
    return undefined;
  }

  /** Calls outstanding to `owner` now. */
  count(owner: string): number {
    return this.owners.get(owner)?.rate.inProgress ?? 0;
  }

  /**
   * Retried calls that may be outstanding to the owner: half of the calls the bound lets through
   * now (those that fit the target wait at the measured rate, at most `max`), at least one.
   */
  private maxRetries(o: Owner): number {
    let allowed = this.max;
    const perSec = o.rate.perSecond();
    if (this.targetMs !== undefined && perSec !== undefined) allowed = Math.min(allowed, Math.max(PROBE, Math.floor((perSec * (this.targetMs + o.rate.fastestMs())) / 1000)));
    return Math.max(1, Math.floor(allowed / 2));
  }

  /** Whether the gateway refused a call to the owner for its load in the last 10 s (see `refuseRetry`). */
  private overloaded(o: Owner): boolean {
    return this.now() - o.refusedAt < RETRY_WINDOW_MS;
  }

  /** Counts a refusal (the owner is overloaded for the next 10 s), naming the drain time. */
  private refuse(o: Owner, message: string): Refusal {
    o.refusedAt = this.now();
    return { message, retryAfterMs: this.retryAfterMs(o) };
  }

  /**
   * Counts a refused retry, with the usual delay stretched by the retry demand's excess over what
   * was let through, up to 30 s. Only a retry refused for the owner's load (`busy`: it would wait)
   * keeps the owner overloaded; one refused by the retry rules alone (`not-asked`: the budget, the
   * retries' share) does not. Otherwise, once the new calls stopped, an idle owner's retries
   * refused by the budget kept the budget in force and were refused until their clients gave up
   * (a cluster soak under machine load: 512 of 1,200 sends abandoned, refusals for a minute while
   * chat took one send per 10 s).
   */
  private refuseRetry(o: Owner, message: string, why: { owner: "busy" | "not-asked" }): Refusal {
    o.budget.refused();
    if (why.owner === "busy") o.refusedAt = this.now();
    return { message, retryAfterMs: Math.round(Math.min(MAX_RETRY_OF_RETRY_MS, Math.max(this.retryAfterMs(o), OUTSTANDING_RETRY_AFTER_MS * o.budget.excess()))) };
  }

  /** The delay a refusal names: the time the calls outstanding need to drain, within 1-10 s. */
  private retryAfterMs(o: Owner): number {
    return Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(OUTSTANDING_RETRY_AFTER_MS, o.rate.drainMs())));
  }

  private owner(name: string): Owner {
    let o = this.owners.get(name);
    if (!o) {
      o = { rate: new CompletionRate(this.now), retries: 0, budget: new RetryBudget({ ratio: RETRY_RATIO, floor: RETRY_FLOOR, windowMs: RETRY_WINDOW_MS, now: this.now }), refusedAt: -Infinity };
      this.owners.set(name, o);
    }
    return o;
  }
}
