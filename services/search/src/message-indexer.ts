import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { scopeFromEvent } from "@caas/shared/tenant-scope";
import type { ConsumeOutcome, PositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { systemClock, type Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { effectOf } from "./domain/event-effects.js";
import { SEARCH_MAX_BATCH, type SearchDocument, type SearchIndex } from "./ports/search-index.js";
import type { SearchCache } from "./search-cache.js";

/** One log entry of one conversation. */
interface Entry {
  tenantId: string;
  conversationId: string;
  seq: number;
  event: Event;
}

export interface MessageIndexerOptions {
  index: SearchIndex;
  cache: SearchCache;
  positions: PositionStore;
  /** Reads a conversation's stored log after a seq (chat's SyncInternal): fills gaps. */
  fetchAfter(tenantId: string, conversationId: string, afterSeq: number, limit: number): Promise<Event[]>;
  logger: Logger;
  /**
   * How long after a write the index makes it searchable (0 for SQLite; about a second for
   * Elasticsearch's refresh interval): cached pages of the conversation are invalidated again
   * then, so none computed in between outlives the write.
   */
  visibilityDelayMs?: number;
  /** Times the last applied event per conversation (GetIndexStatus). */
  clock?: Clock;
  /** Gap-fill page size (default 200). */
  gapPageSize?: number;
}

/** Where the indexer stands in one conversation. */
export interface IndexPosition {
  /** The last seq applied by this instance; 0 for none. */
  seq: number;
  /** When this instance last applied an event of it (ms since the epoch); 0 for never. */
  appliedAtMs: number;
}

/** What a replay of a conversation's log did. */
export interface ReplayResult {
  events: number;
  indexed: number;
}

/**
 * Keeps the message index in step with chat's event log, a batch of bus records at a time: per
 * conversation it applies events in seq order, drops redeliveries (seq at or below its position)
 * and fills gaps from the log. The documents of a whole batch go to the index in a few `index`
 * calls (per tenant, at most SEARCH_MAX_BATCH each, in log order, so the version rule sees every
 * message's states in order); positions move and caches are invalidated only after those writes
 * resolved, so the bus acknowledges (commits) a batch only once its effect is durable. A throw
 * leaves every position where it was: the bus redelivers the batch and the index's version rule
 * makes the repeated writes harmless.
 */
export class MessageIndexer {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Last apply time per tenant/conversation, for GetIndexStatus (bounded: oldest dropped). */
  private readonly appliedAt = new Map<string, number>();
  /** Tenants being deleted: nothing of theirs is indexed any more in this process. */
  private readonly erasedTenants = new Set<string>();
  /** Index writes in progress, so a tenant's erasure can wait for the ones that started before it. */
  private readonly writing = new Set<Promise<number>>();

  constructor(private readonly opts: MessageIndexerOptions) {}

  /** Handles one record of the chat events topic; cases this version does not know are skipped. */
  async handle(envelope: ChatEventEnvelope): Promise<ConsumeOutcome | undefined> {
    return (await this.handleBatch([envelope]))[0];
  }

  /** Handles records of the chat events topic in bus order; an outcome per record (undefined: not an event). */
  async handleBatch(envelopes: readonly ChatEventEnvelope[]): Promise<(ConsumeOutcome | undefined)[]> {
    const { positions } = this.opts;
    const local = new Map<string, { tenantId: string; conversationId: string; seq: number }>();
    const entries: Entry[] = [];
    const outcomes: (ConsumeOutcome | undefined)[] = [];
    for (const envelope of envelopes) {
      if (envelope.payload.case !== "event") {
        outcomes.push(undefined);
        continue;
      }
      const event = envelope.payload.value;
      const { tenantId, conversationId } = envelope;
      const seq = Number(event.seq);
      const key = `${tenantId}\u0000${conversationId}`;
      let at = local.get(key);
      if (!at) local.set(key, (at = { tenantId, conversationId, seq: await positions.get(tenantId, conversationId) }));
      if (seq <= at.seq) {
        outcomes.push("duplicate");
        continue;
      }
      if (seq === at.seq + 1) {
        entries.push({ tenantId, conversationId, seq, event });
        at.seq = seq;
        outcomes.push("applied");
        continue;
      }
      at.seq = await this.fillGap(entries, tenantId, conversationId, at.seq, seq);
      outcomes.push("gap-filled");
    }
    await this.apply(entries, false);
    for (const at of local.values()) await positions.set(at.tenantId, at.conversationId, at.seq);
    return outcomes;
  }

  /**
   * Applies a conversation's whole stored log again (Reindex, schema rebuild), page by page from
   * seq 1, outside the consumer's positions: the index keeps newer states, so this only fills
   * what is missing; with `upgrade` it also rewrites states stored under an older schema.
   */
  async replay(tenantId: string, conversationId: string, options: { upgrade?: boolean } = {}): Promise<ReplayResult> {
    const out = { events: 0, indexed: 0 };
    for (let after = 0; ;) {
      const page = await this.opts.fetchAfter(tenantId, conversationId, after, 500);
      if (page.length === 0) return out;
      out.indexed += await this.apply(
        page.map((event) => ({ tenantId, conversationId, seq: Number(event.seq), event })),
        options.upgrade === true,
      );
      out.events += page.length;
      after = Number(page[page.length - 1]!.seq);
    }
  }

  /** This instance's position in a conversation. */
  async position(tenantId: string, conversationId: string): Promise<IndexPosition> {
    return { seq: await this.opts.positions.get(tenantId, conversationId), appliedAtMs: this.appliedAt.get(`${tenantId}/${conversationId}`) ?? 0 };
  }

  /** Cancels pending delayed invalidations. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Reads the log after `from` until `to` (inclusive) into `entries`; the new position. */
  private async fillGap(entries: Entry[], tenantId: string, conversationId: string, from: number, to: number): Promise<number> {
    let position = from;
    while (position < to) {
      const missing = await this.opts.fetchAfter(tenantId, conversationId, position, this.opts.gapPageSize ?? 200);
      if (missing.length === 0) break;
      for (const event of missing) {
        const seq = Number(event.seq);
        if (seq !== position + 1) throw new Error(`store returned seq ${seq} after ${position}: the log is not dense`);
        entries.push({ tenantId, conversationId, seq, event });
        position = seq;
        if (position >= to) break;
      }
    }
    if (position < to) throw new Error(`seq ${to} of ${conversationId} is not in the store yet (at ${position}); will retry`);
    return position;
  }

  /**
   * Applies entries in order: documents are buffered per tenant and written before any other
   * index operation of that tenant (removals) and at the end; caches are invalidated after the
   * writes. The number of message states written.
   */
  /**
   * Stops indexing the tenant in this process (tenant deletion) and waits for the index writes
   * that started before: after it resolves, no document of the tenant is written here, so a purge
   * of its documents that follows is final. Records of the tenant still on the bus (opened with
   * a data key cached before the shredding) are passed over.
   */
  async forgetTenant(tenantId: string): Promise<void> {
    this.erasedTenants.add(tenantId);
    await Promise.allSettled([...this.writing]);
  }

  private apply(entries: readonly Entry[], upgrade: boolean): Promise<number> {
    const kept = this.erasedTenants.size === 0 ? entries : entries.filter((e) => !this.erasedTenants.has(e.tenantId));
    const write = this.applyNow(kept, upgrade);
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write)).catch(() => undefined);
    return write;
  }

  private async applyNow(entries: readonly Entry[], upgrade: boolean): Promise<number> {
    const { index, cache } = this.opts;
    const pending = new Map<string, SearchDocument[]>();
    const touched = new Map<string, Set<string>>();
    const membership: [string, string, string][] = [];
    const updated = new Set<string>();
    let indexed = 0;
    const flush = async (tenantId: string) => {
      const docs = pending.get(tenantId);
      if (!docs) return;
      pending.delete(tenantId);
      const scope = scopeFromEvent({ tenantId });
      for (let i = 0; i < docs.length; i += SEARCH_MAX_BATCH) indexed += (await index.index(scope, docs.slice(i, i + SEARCH_MAX_BATCH), { upgrade })).indexed;
    };
    const now = (this.opts.clock ?? systemClock).nowMs();
    for (const { tenantId, conversationId, seq, event } of entries) {
      this.markApplied(`${tenantId}/${conversationId}`, now);
      const effect = effectOf(conversationId, seq, event);
      const scope = scopeFromEvent({ tenantId });
      switch (effect.kind) {
        case "document": {
          const docs = pending.get(tenantId) ?? [];
          docs.push(effect.doc);
          pending.set(tenantId, docs);
          break;
        }
        case "remove":
          await flush(tenantId);
          await index.remove(scope, [effect.messageId]);
          break;
        case "conversation-deleted":
          await flush(tenantId);
          await index.removeConversation(scope, conversationId);
          updated.add(tenantId);
          break;
        case "membership":
          for (const userId of effect.userIds) membership.push([tenantId, userId, conversationId]);
          continue;
        case "conversation-updated":
          updated.add(tenantId);
          continue;
        case "edit-without-seq":
          this.opts.logger.debug({ tenantId, conversationId, seq }, "edit without the message's seq: not indexed");
          break;
        case "none":
          continue;
      }
      const set = touched.get(tenantId) ?? new Set<string>();
      set.add(conversationId);
      touched.set(tenantId, set);
    }
    for (const tenantId of [...pending.keys()]) await flush(tenantId);
    for (const [tenantId, userId, conversationId] of membership) await cache.membershipChanged(scopeFromEvent({ tenantId }), userId, conversationId);
    for (const tenantId of updated) await cache.conversationsChanged(scopeFromEvent({ tenantId }));
    for (const [tenantId, conversations] of touched) {
      for (const conversationId of conversations) this.invalidate(tenantId, conversationId);
      await Promise.all([...conversations].map((c) => cache.contentChanged(scopeFromEvent({ tenantId }), c)));
    }
    return indexed;
  }

  private markApplied(key: string, now: number): void {
    this.appliedAt.delete(key);
    this.appliedAt.set(key, now);
    if (this.appliedAt.size > 100_000) this.appliedAt.delete(this.appliedAt.keys().next().value!);
  }

  /** Invalidates a conversation's cached pages again once the index has made the writes visible. */
  private invalidate(tenantId: string, conversationId: string): void {
    const delay = this.opts.visibilityDelayMs ?? 0;
    if (delay <= 0) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.opts.cache.contentChanged(scopeFromEvent({ tenantId }), conversationId).catch((err: unknown) => this.opts.logger.warn({ err }, "search cache invalidation failed"));
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }
}
