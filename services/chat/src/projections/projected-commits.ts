import type { LogEvent } from "@caas/shared/eventing/log";

/** How many commits the set remembers; older ones are forgotten (their events are then applied twice, which is harmless). */
const DEFAULT_CAPACITY = 16_384;

/**
 * The events this instance's commit path has already applied to every projection, so the
 * projector consuming the same events off the bus does not apply them a second time (ADR 0105).
 * Applying is idempotent, so forgetting is always safe: an event not found here (another
 * instance committed it, this process restarted, the set overflowed) is applied by the consumer
 * as before. Only an entry whose projection update finished is added; each is taken once.
 */
export class ProjectedCommits {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  /** Records that `log`'s event is in every projection. */
  add(log: Pick<LogEvent, "tenantId" | "conversationId" | "seq">): void {
    if (this.keys.size >= this.capacity) {
      // A Set iterates in insertion order: the oldest entry goes first.
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    this.keys.add(keyOf(log.tenantId, log.conversationId, log.seq));
  }

  /** Whether the commit path applied this event (and forgets it: the consumer sees each seq once). */
  take(tenantId: string, conversationId: string, seq: number): boolean {
    return this.keys.delete(keyOf(tenantId, conversationId, seq));
  }

  /** Entries held (for tests). */
  get size(): number {
    return this.keys.size;
  }
}

function keyOf(tenantId: string, conversationId: string, seq: number): string {
  return `${tenantId}\u0000${conversationId}\u0000${seq}`;
}
