import { ResourceExhaustedError } from "@caas/shared/errors";

/**
 * The bound on sends one chat instance works on at once. Past it a send is refused at once with
 * RESOURCE_EXHAUSTED and a retry delay (RetryInfo) instead of joining a queue whose wait its
 * caller may not survive: under overload a queue without a bound only fills with work whose
 * callers' deadlines pass while it waits, and the retries of those callers add to it.
 */
export class SendAdmission {
  private pending = 0;

  constructor(
    /** Sends admitted at once (CAAS_CHAT_MAX_PENDING_SENDS). */
    private readonly max: number,
    /** The retry delay a refusal names. */
    private readonly retryAfterMs: number,
  ) {}

  /** Runs `send` when there is room; otherwise throws RESOURCE_EXHAUSTED with the retry delay. */
  async run<T>(send: () => Promise<T>): Promise<T> {
    if (this.pending >= this.max) {
      throw new ResourceExhaustedError(`this chat instance is working on ${this.max} sends (at most ${this.max}); retry after the delay`, this.retryAfterMs);
    }
    this.pending++;
    try {
      return await send();
    } finally {
      this.pending--;
    }
  }

  /** Sends in progress (for tests and metrics). */
  get inProgress(): number {
    return this.pending;
  }
}
