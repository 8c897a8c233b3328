import { ResourceExhaustedError } from "@caas/shared/errors";

/** How long a caller refused by the bound is told to wait before retrying (RetryInfo). */
export const OUTSTANDING_RETRY_AFTER_MS = 1_000;

/**
 * A bound on the calls the gateway has outstanding to each owner service (Envoy's circuit-breaker
 * `max_requests`): past it a unary or client-streaming call is refused at once with
 * RESOURCE_EXHAUSTED and a retry delay instead of being forwarded.
 *
 * Without it, an overload piles calls up where no admission control can see them: the gateway's
 * HTTP/2 connection to an owner instance carries at most the owner's
 * SETTINGS_MAX_CONCURRENT_STREAMS (1000) at once, and a Node client holds every further call
 * unsent while its deadline runs (docs/operations/connection-limits.md). Those calls reach chat
 * late or never, and after the overload the backlog takes seconds to drain before new sends are
 * fast again. Streams (realtime sessions) are not counted: they are long-lived by design and have
 * their own connections (stream lanes).
 */
export class OutstandingBound {
  private readonly outstanding = new Map<string, number>();
  private readonly retries = new Map<string, number>();
  /** The calls marked as retries (`grpc-previous-rpc-attempts`) that may be outstanding to one owner. */
  readonly maxRetries: number;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError("the outstanding bound must be a positive integer");
    this.maxRetries = Math.max(1, Math.floor(max / 2));
  }

  /**
   * Runs `call` as one outstanding call to `owner`, or refuses it when `max` are outstanding. A
   * retry is also refused while retries hold half of the bound: after an overload the clients'
   * retries would otherwise fill it, and new sends, which chat serves first (its retry budget),
   * would be refused here before chat could.
   */
  async run<T>(owner: string, call: () => Promise<T>, retry = false): Promise<T> {
    const n = this.outstanding.get(owner) ?? 0;
    if (n >= this.max) {
      throw new ResourceExhaustedError(`the gateway has ${n} calls outstanding to ${owner} (CAAS_GATEWAY_MAX_OUTSTANDING): retry later`, OUTSTANDING_RETRY_AFTER_MS);
    }
    const r = this.retries.get(owner) ?? 0;
    if (retry && r >= this.maxRetries) {
      throw new ResourceExhaustedError(`the gateway has ${r} retried calls outstanding to ${owner} (half of CAAS_GATEWAY_MAX_OUTSTANDING): retry later`, OUTSTANDING_RETRY_AFTER_MS);
    }
    this.outstanding.set(owner, n + 1);
    if (retry) this.retries.set(owner, r + 1);
    try {
      return await call();
    } finally {
      this.outstanding.set(owner, (this.outstanding.get(owner) ?? 1) - 1);
      if (retry) this.retries.set(owner, (this.retries.get(owner) ?? 1) - 1);
    }
  }

  /** Calls outstanding to `owner` now. */
  count(owner: string): number {
    return this.outstanding.get(owner) ?? 0;
  }
}
