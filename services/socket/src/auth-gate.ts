/**
 * Authentications one socket instance runs at once (token check, the user's conversation list
 * from chat, the connection place, presence), and how many connections may wait for one. A
 * reconnect storm hands an instance thousands of Auth frames in the same second: unbounded, each
 * starts its chat call at once, the mesh queues them past their deadlines, they fail as
 * INTERNAL_ERROR and the clients come back as a second herd (ADR 0191). With the gate, at most
 * `maxActive` run and the next `maxWaiting` wait in arrival order; past that a connection is
 * refused at once with a retry delay spread over a window, so the herd comes back thinned.
 */
export class AuthGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(
    private readonly maxActive: number,
    private readonly maxWaiting: number,
  ) {}

  /** Connections authenticating now and waiting to (diagnostics, tests). */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length - this.head };
  }

  /** Resolves true once a place is held (give it back with `leave`), false at once when the queue is full. */
  enter(): Promise<boolean> {
    if (this.active < this.maxActive) {
      this.active++;
      return Promise.resolve(true);
    }
    if (this.waiting.length - this.head >= this.maxWaiting) return Promise.resolve(false);
    return new Promise((resolve) => this.waiting.push(() => resolve(true)));
  }

  /** Gives a place back: the longest waiting connection takes it. */
  leave(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next(); // the place passes on: `active` stays
      return;
    }
    this.active--;
  }

  /**
   * How long a refused connection should wait: 1 s plus a random share of a window that grows
   * with the queue (a full queue drains in about `waiting / maxActive` rounds of authentication),
   * so the refused part of a herd returns spread out rather than in step.
   */
  retryAfterMs(): number {
    const windowMs = 1_000 + Math.min(29_000, (1_000 * (this.waiting.length - this.head)) / Math.max(1, this.maxActive));
    return Math.round(1_000 + Math.random() * windowMs);
  }
}
