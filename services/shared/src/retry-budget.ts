export interface RetryBudgetOptions {
  /** Retries admitted per first attempt admitted, over the window (Finagle's `percentCanRetry`). */
  ratio: number;
  /** Retries admitted over the window whatever the first attempts (Finagle's `minRetriesPerSec`, times the window). */
  floor: number;
  /** How far back admissions count, ms. */
  windowMs: number;
  /** A monotonic clock in ms. */
  now: () => number;
}

const SLOTS = 10;

interface Slot {
  start: number;
  /** First attempts and retries admitted, and retries refused by the budget. */
  first: number;
  retries: number;
  refused: number;
}

/**
 * How many retries an instance takes on: at most `ratio` of the first attempts it admitted over
 * the window, plus `floor`, like Finagle's and Envoy's retry budgets, but kept by the server from
 * the caller's retry marker rather than by each client (chat's send admission, the gateway's bound
 * on the calls it has outstanding to an owner). A client that retries after a refusal
 * asks for work of the past; after an overload those retries outnumber new sends many times over
 * and, admitted on the same terms, would keep the instance at capacity until their clients give
 * up. Within the budget a retry is admitted on the same terms as a first attempt; past it, it is
 * refused before any work, so new sends find the instance with room as soon as the offered load
 * is back within its capacity, and with a delay stretched by the retry demand's excess over the
 * budget, so that a crowd of retries comes back spread out (or gives up) instead of costing every
 * hop a refusal each second.
 */
export class RetryBudget {
  private readonly slots: Slot[] = [];

  constructor(private readonly opts: RetryBudgetOptions) {}

  /** Whether a retry fits the budget now. */
  allows(): boolean {
    const { first, retries } = this.totals();
    return retries < this.opts.floor + this.opts.ratio * first;
  }

  /** Counts an admitted send. */
  admitted(retry: boolean): void {
    const s = this.slot();
    if (retry) s.retries++;
    else s.first++;
  }

  /** Counts a retry refused for want of budget. */
  refused(): void {
    this.slot().refused++;
  }

  /**
   * Retries asked for per retry admitted over the window (at least 1): how far the retry demand
   * exceeds the budget, by which a refused retry's delay is stretched.
   */
  excess(): number {
    const { retries, refused } = this.totals();
    return Math.max(1, (retries + refused) / Math.max(1, retries));
  }

  /** First attempts and retries admitted, and retries refused, over the window. */
  totals(): { first: number; retries: number; refused: number } {
    const since = this.opts.now() - this.opts.windowMs;
    let first = 0;
    let retries = 0;
    let refused = 0;
    for (const s of this.slots) {
      if (s.start + this.opts.windowMs / SLOTS <= since) continue;
      first += s.first;
      retries += s.retries;
      refused += s.refused;
    }
    return { first, retries, refused };
  }

  private slot(): Slot {
    const width = this.opts.windowMs / SLOTS;
    const start = Math.floor(this.opts.now() / width) * width;
    let last = this.slots[this.slots.length - 1];
    if (!last || last.start !== start) {
      last = { start, first: 0, retries: 0, refused: 0 };
      this.slots.push(last);
      while (this.slots.length > SLOTS + 1) this.slots.shift();
    }
    return last;
  }
}
