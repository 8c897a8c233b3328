/** What a sequenced consumer needs to know about an event. */
export interface Sequenced {
  tenantId: string;
  conversationId: string;
  seq: number;
}

/** Where a consumer stands per conversation (its own store: memory, SQLite, MongoDB, Redis). */
export interface PositionStore {
  /** Last applied seq of a conversation; 0 when none. */
  get(tenantId: string, conversationId: string): Promise<number>;
  /** Records the last applied seq; it only moves forward. */
  set(tenantId: string, conversationId: string, seq: number): Promise<void>;
  /**
   * The position read again from where it is stored, for a store that serves `get` from memory:
   * asked before a gap is filled, so a position another consumer moved meanwhile is not replayed.
   */
  refresh?(tenantId: string, conversationId: string): Promise<number>;
}

export interface SequencedConsumerOptions<E extends Sequenced> {
  positions: PositionStore;
  /** Reads events after a seq from the store of record (chat's Sync): fills gaps. */
  fetchAfter(tenantId: string, conversationId: string, afterSeq: number, limit: number): Promise<E[]>;
  /** Applies one event; called exactly in seq order per conversation, once per seq on success. */
  apply(event: E): Promise<void>;
  /** Gap-fill page size (default 200). */
  pageSize?: number;
}

/** What happened to one delivered event. */
export type ConsumeOutcome = "applied" | "duplicate" | "gap-filled";

/**
 * Applies a conversation's events in seq order no matter how the bus delivers them: drops seqs it
 * already applied (at-least-once redelivery, two relays), and on a gap reads the missing events
 * from the store of record before applying the new one. Handle one conversation's events
 * serially (the bus keys by conversation, so it does).
 */
export class SequencedConsumer<E extends Sequenced> {
  constructor(private readonly opts: SequencedConsumerOptions<E>) {}

  async handle(event: E): Promise<ConsumeOutcome> {
    const { positions } = this.opts;
    let last = await positions.get(event.tenantId, event.conversationId);
    // A gap by a position kept in memory: the stored one may have moved (another consumer had the conversation).
    if (event.seq > last + 1 && positions.refresh) last = await positions.refresh(event.tenantId, event.conversationId);
    if (event.seq <= last) return "duplicate";
    if (event.seq === last + 1) {
      await this.opts.apply(event);
      await positions.set(event.tenantId, event.conversationId, event.seq);
      return "applied";
    }
    // A gap: read what is missing (and the event itself) from the store of record, in order.
    let position = last;
    const page = this.opts.pageSize ?? 200;
    while (position < event.seq) {
      const missing = await this.opts.fetchAfter(event.tenantId, event.conversationId, position, page);
      if (missing.length === 0) break;
      for (const m of missing) {
        if (m.seq !== position + 1) throw new Error(`store returned seq ${m.seq} after ${position}: the log is not dense`);
        await this.opts.apply(m);
        position = m.seq;
        await positions.set(event.tenantId, event.conversationId, position);
        if (position >= event.seq) break;
      }
    }
    if (position < event.seq) {
      throw new Error(`seq ${event.seq} of ${event.conversationId} is not in the store yet (at ${position}); will retry`);
    }
    return "gap-filled";
  }
}

/** Positions in memory: for consumers that rebuild on start (single process). */
export function createMemoryPositionStore(): PositionStore {
  const map = new Map<string, number>();
  return {
    get: async (t, c) => map.get(`${t}\u0000${c}`) ?? 0,
    set: async (t, c, seq) => {
      const k = `${t}\u0000${c}`;
      if (seq > (map.get(k) ?? 0)) map.set(k, seq);
    },
  };
}
