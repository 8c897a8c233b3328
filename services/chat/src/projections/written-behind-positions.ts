import type { PositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { scopeFromEvent } from "@caas/shared/tenant-scope";
import type { Logger } from "@caas/shared/logger";
import type { ProjectionStateStore } from "./projection-state-store.js";

/**
 * How long a moved position may wait before it is written (default): a restarted or rebalanced
 * consumer applies at most about this much of a conversation's events again. Most conversations
 * get less than an event a second, so a shorter delay writes after nearly every event.
 */
export const POSITION_WRITE_DELAY_MS = 5000;
/** Conversations whose position an instance keeps in memory; the least recently used go first. */
const REMEMBERED = 20_000;

/**
 * The projector's positions kept in memory and written behind (ADR 0215). A position read once is
 * served from memory afterwards, and a moved one is written at most once per `delayMs` per
 * conversation instead of after every event: on a busy conversation the consumer's two round
 * trips per event (read the position, write it) become one write per delay.
 *
 * Why that loses nothing: applying an event is idempotent (ADR 0021), so a stored position that
 * lags the applied one only makes a restarted or rebalanced consumer apply a few events again.
 * A position in memory can also lag the store (the bus gave the conversation's partition to
 * another instance for a while): it then drops nothing it should apply, it applies a few events
 * again; and before filling a gap (`refresh`) it reads the store, so it does not replay what the
 * other instance applied meanwhile. The stored position still only moves forward (the store's
 * `advance`), so two instances writing behind cannot move it back.
 *
 * A write made later never creates a row: a conversation's first position is written at once (the
 * row exists from then on), and the writes behind only move an existing row (`moveExisting`). A
 * tenant's erasure (ADR 0180) removes the rows while positions may wait in
 * memory; a write behind that recreated one would leave the deleted tenant's data in the store.
 * A row found gone is forgotten in memory too (erased, or reset by a rebuild): the conversation's
 * next event reads the store again.
 */
export class WrittenBehindPositions implements PositionStore {
  private readonly known = new Map<string, number>();
  private readonly dirty = new Map<string, { tenantId: string; conversationId: string }>();
  /** Conversations whose position row is known to exist (read above 0, or written by this instance). */
  private readonly stored = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ProjectionStateStore,
    private readonly opts: { delayMs?: number; logger?: Logger } = {},
  ) {}

  async get(tenantId: string, conversationId: string): Promise<number> {
    const key = keyOf(tenantId, conversationId);
    const known = this.known.get(key);
    if (known !== undefined) return known;
    return this.refresh(tenantId, conversationId);
  }

  /** The stored position, read again (before a gap is filled from the log); memory keeps the higher of the two. */
  async refresh(tenantId: string, conversationId: string): Promise<number> {
    const stored = await this.store.position(scopeFromEvent({ tenantId }), conversationId);
    const key = keyOf(tenantId, conversationId);
    const seq = Math.max(stored, this.dirty.has(key) ? (this.known.get(key) ?? 0) : 0);
    this.remember(key, seq);
    if (stored > 0) this.stored.add(key);
    return seq;
  }

  async set(tenantId: string, conversationId: string, seq: number): Promise<void> {
    const key = keyOf(tenantId, conversationId);
    if (seq <= (this.known.get(key) ?? 0)) return;
    this.remember(key, seq);
    if (!this.stored.has(key)) {
      // The first position of the conversation: written now, so that no later write has to create the row.
      try {
        await this.store.advance(scopeFromEvent({ tenantId }), conversationId, seq);
      } catch (err) {
        // Not written: the bus delivers the event again, and it must not find the seq already in memory.
        this.known.delete(key);
        throw err;
      }
      this.stored.add(key);
      return;
    }
    this.dirty.set(key, { tenantId, conversationId });
    this.schedule();
  }

  /** Forgets a conversation's position in memory (its stored one was reset by a rebuild). */
  forget(tenantId: string, conversationId: string): void {
    const key = keyOf(tenantId, conversationId);
    this.known.delete(key);
    this.dirty.delete(key);
    this.stored.delete(key);
  }

  /** Writes every moved position now (on stop, and on the timer). A failed write stays to write at the next flush. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const due = [...this.dirty.entries()];
    this.dirty.clear();
    const run = this.writing.then(async () => {
      const results = await Promise.allSettled(
        due.map(async ([key, c]) => {
          const seq = this.known.get(key);
          if (seq === undefined) return;
          if (await this.store.moveExisting(scopeFromEvent({ tenantId: c.tenantId }), c.conversationId, seq)) return;
          // The row is gone (the tenant's rows erased, or a rebuild reset it): not written again; the next event reads the store.
          if (!this.dirty.has(key)) this.forget(c.tenantId, c.conversationId);
        }),
      );
      results.forEach((r, i) => {
        if (r.status === "fulfilled") return;
        const [key, c] = due[i]!;
        this.opts.logger?.warn({ err: r.reason, conversationId: c.conversationId }, "chat projector position not written; written again at the next flush");
        if (this.known.has(key)) this.dirty.set(key, c);
      });
      if (this.dirty.size > 0) this.schedule();
    });
    this.writing = run;
    return run;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.opts.delayMs ?? POSITION_WRITE_DELAY_MS);
    // Stopping flushes explicitly; a pending write must not keep a process alive.
    this.timer.unref();
  }

  private remember(key: string, seq: number): void {
    this.known.delete(key);
    this.known.set(key, seq);
    if (this.known.size <= REMEMBERED) return;
    // The oldest one not waiting to be written goes (a dirty one is kept until its write).
    for (const old of this.known.keys()) {
      if (this.dirty.has(old)) continue;
      this.known.delete(old);
      this.stored.delete(old);
      return;
    }
  }
}

function keyOf(tenantId: string, conversationId: string): string {
  return `${tenantId}|${conversationId}`;
}
