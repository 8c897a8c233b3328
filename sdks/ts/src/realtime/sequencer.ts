import type { Event } from "../gen/caas/chat/v1/event_pb.js";

/** One page of ChatService.Sync: events after `afterSeq` in seq order. */
export type SyncPage = (conversationId: string, afterSeq: bigint) => Promise<{ events: Event[]; hasMore: boolean }>;

/** The most positions a Resume (or GetChanges) carries: the server refuses more. */
export const MAX_POSITIONS = 500;

/** The newest seq a client holds in one conversation (Resume.positions, GetChangesRequest.positions). */
export interface Position {
  conversationId: string;
  seq: bigint;
}

/**
 * Delivers each conversation's events once and in seq order, whatever order and repetition they
 * arrive in (live frames, Resume catch-up after a reconnect, Sync pages). An event at or below
 * the last delivered seq is a repeat and dropped; one past a gap is held while the gap is filled
 * through Sync (DESIGN "Sync": live delivery is best effort, a client that sees a gap syncs).
 * A conversation seen for the first time starts at its first event unless `seed` said where the
 * application's history ends.
 */
export class Sequencer {
  private readonly last = new Map<string, bigint>();
  private readonly held = new Map<string, Map<bigint, Event>>();
  private readonly filling = new Set<string>();

  constructor(
    private readonly deliver: (e: Event) => void,
    private readonly sync: SyncPage,
    private readonly onSyncError: (conversationId: string, err: unknown) => void,
    private readonly retryMs = 1000,
  ) {}

  /** The last seq delivered for a conversation. */
  lastSeq(conversationId: string): bigint | undefined {
    return this.last.get(conversationId);
  }

  /** Says that events up to `seq` are already known (e.g. loaded as history). Never moves back. */
  seed(conversationId: string, seq: bigint): void {
    const cur = this.last.get(conversationId);
    if (cur === undefined || seq > cur) this.moveTo(conversationId, seq);
  }

  /**
   * Where the client stands: the last delivered seq of the `max` most recently advanced
   * conversations, newest first. Sent with Resume, the catch-up carries only what comes after
   * them; conversations left out start from the cursor (and repeats are still dropped here).
   */
  positions(max = MAX_POSITIONS): Position[] {
    const all = [...this.last];
    const out: Position[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < max; i--) out.push({ conversationId: all[i]![0], seq: all[i]![1] });
    return out;
  }

  /** Sets a conversation's last seq and makes it the most recently advanced (Map order is recency). */
  private moveTo(conversationId: string, seq: bigint): void {
    this.last.delete(conversationId);
    this.last.set(conversationId, seq);
  }

  /** Takes one event from any source. */
  push(e: Event): void {
    const conv = e.conversationId;
    const last = this.last.get(conv);
    if (last === undefined) {
      this.accept(e);
      return;
    }
    if (e.seq <= last) return;
    if (e.seq === last + 1n) {
      this.accept(e);
      return;
    }
    let held = this.held.get(conv);
    if (!held) this.held.set(conv, (held = new Map<bigint, Event>()));
    held.set(e.seq, e);
    void this.fill(conv);
  }

  /** Fetches everything after the last delivered seq of a conversation (a `limited` catch-up). */
  catchUp(conversationId: string): Promise<void> {
    return this.fill(conversationId);
  }

  private accept(e: Event): void {
    const conv = e.conversationId;
    this.moveTo(conv, e.seq);
    this.deliver(e);
    const held = this.held.get(conv);
    if (!held) return;
    for (const seq of [...held.keys()]) if (seq <= e.seq) held.delete(seq);
    const next = held.get(e.seq + 1n);
    if (next) {
      held.delete(next.seq);
      this.accept(next);
    }
    if (held.size === 0) this.held.delete(conv);
  }

  private async fill(conv: string): Promise<void> {
    if (this.filling.has(conv)) return;
    this.filling.add(conv);
    try {
      for (;;) {
        const after = this.last.get(conv) ?? 0n;
        const page = await this.sync(conv, after);
        for (const e of page.events) {
          const last = this.last.get(conv) ?? 0n;
          // A Sync page is authoritative: an event past a jump there means retention cut the
          // history (first_available_seq), so nothing earlier will ever come.
          if (e.seq > last) this.accept(e);
        }
        if (!page.hasMore || page.events.length === 0) break;
      }
    } catch (err) {
      this.onSyncError(conv, err);
      this.filling.delete(conv);
      if (this.held.has(conv)) setTimeout(() => void this.fill(conv), this.retryMs);
      return;
    }
    this.filling.delete(conv);
  }
}
