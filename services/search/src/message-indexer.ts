import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { scopeFromEvent, type TenantScope } from "@caas/shared/tenant-scope";
import { SequencedConsumer, type ConsumeOutcome, type PositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { systemClock, type Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { SearchDocument, SearchIndex } from "./ports/search-index.js";
import type { SearchCache } from "./search-cache.js";

/** One log entry of one conversation, as the sequenced consumer orders them. */
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
 * Keeps the message index in step with chat's event log: per conversation it applies events in
 * seq order, drops redeliveries and fills gaps from the log (SequencedConsumer). A new message is
 * indexed, an edit replaces its text, a delete for everyone leaves a tombstone (its version, the
 * delete's seq, refuses any older state replayed later), a deleted conversation leaves the index.
 * Membership and conversation events invalidate the access caches of the users they concern.
 */
export class MessageIndexer {
  private readonly consumer: SequencedConsumer<Entry>;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Last apply time per tenant/conversation, for GetIndexStatus (bounded: oldest dropped). */
  private readonly appliedAt = new Map<string, number>();

  constructor(private readonly opts: MessageIndexerOptions) {
    this.consumer = new SequencedConsumer<Entry>({
      positions: opts.positions,
      fetchAfter: async (tenantId, conversationId, afterSeq, limit) =>
        (await opts.fetchAfter(tenantId, conversationId, afterSeq, limit)).map((event) => ({ tenantId, conversationId, seq: Number(event.seq), event })),
      apply: async (entry) => {
        await this.apply(entry);
      },
    });
  }

  /** Handles one record of the chat events topic; cases this version does not know are skipped. */
  async handle(envelope: ChatEventEnvelope): Promise<ConsumeOutcome | undefined> {
    if (envelope.payload.case !== "event") return undefined;
    const event = envelope.payload.value;
    return this.consumer.handle({ tenantId: envelope.tenantId, conversationId: envelope.conversationId, seq: Number(event.seq), event });
  }

  /**
   * Applies a conversation's whole stored log again (Reindex), page by page from seq 1, outside
   * the consumer's positions: the index keeps newer states, so this only fills what is missing.
   */
  async replay(tenantId: string, conversationId: string): Promise<ReplayResult> {
    const out = { events: 0, indexed: 0 };
    for (let after = 0; ;) {
      const page = await this.opts.fetchAfter(tenantId, conversationId, after, 500);
      for (const event of page) {
        out.indexed += await this.apply({ tenantId, conversationId, seq: Number(event.seq), event });
        out.events++;
        after = Number(event.seq);
      }
      if (page.length === 0) return out;
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

  /** Applies one event; the number of message states it wrote to the index (0 or 1). */
  private async apply(entry: Entry): Promise<number> {
    const key = `${entry.tenantId}/${entry.conversationId}`;
    this.appliedAt.delete(key);
    this.appliedAt.set(key, (this.opts.clock ?? systemClock).nowMs());
    if (this.appliedAt.size > 100_000) this.appliedAt.delete(this.appliedAt.keys().next().value!);
    return this.applyEvent(entry);
  }

  private async applyEvent({ tenantId, conversationId, seq, event }: Entry): Promise<number> {
    const scope = scopeFromEvent({ tenantId });
    const { cache, index } = this.opts;
    const p = event.payload;
    const at = event.createTime ? timestampMs(event.createTime) : 0;
    switch (p.case) {
      case "messageCreated": {
        const m = p.value.message;
        // End-to-end encrypted messages (ciphertext only) are never indexed: there are no words to find.
        if (!m || m.encrypted) return 0;
        const text = event.redacted || m.deleted ? "" : m.text;
        const createTimeMs = m.createTime ? timestampMs(m.createTime) : at;
        return this.write(scope, conversationId, {
          messageId: m.id,
          conversationId,
          seq,
          version: seq,
          senderId: m.senderId || event.actorId || "system",
          text,
          createTimeMs,
          redacted: text === "" && (event.redacted || m.deleted),
        });
      }
      case "messageEdited":
      case "messageDeleted": {
        const v = p.value;
        if (p.case === "messageEdited" && p.value.encrypted) return 0;
        const messageSeq = Number(v.messageSeq);
        if (messageSeq === 0 || v.senderId === "") {
          // Written before events carried the message's seq: only a delete can still be applied.
          if (p.case === "messageDeleted") await index.remove(scope, [v.messageId]);
          else this.opts.logger.debug({ tenantId, conversationId, seq }, "edit without the message's seq: not indexed");
          await cache.contentChanged(scope, conversationId);
          return 0;
        }
        const createTimeMs = v.messageCreateTime ? timestampMs(v.messageCreateTime) : at;
        const text = p.case === "messageEdited" && !event.redacted ? p.value.text : "";
        return this.write(scope, conversationId, {
          messageId: v.messageId,
          conversationId,
          seq: messageSeq,
          version: seq,
          senderId: v.senderId,
          text,
          createTimeMs,
          redacted: p.case === "messageDeleted" || event.redacted,
        });
      }
      case "memberJoined":
        if (p.value.member) await cache.membershipChanged(scope, p.value.member.userId, conversationId);
        return 0;
      case "memberLeft":
      case "memberRemoved":
      case "memberBanned":
      case "memberUnbanned":
        await cache.membershipChanged(scope, p.value.userId, conversationId);
        return 0;
      case "conversationCreated":
        for (const member of p.value.members) await cache.membershipChanged(scope, member.userId, conversationId);
        return 0;
      case "conversationUpdated":
        await cache.conversationsChanged(scope);
        return 0;
      case "conversationDeleted":
        await index.removeConversation(scope, conversationId);
        await cache.conversationsChanged(scope);
        await cache.contentChanged(scope, conversationId);
        return 0;
      default:
        return 0;
    }
  }

  private async write(scope: TenantScope, conversationId: string, doc: SearchDocument): Promise<number> {
    const { indexed } = await this.opts.index.index(scope, [doc]);
    await this.opts.cache.contentChanged(scope, conversationId);
    const delay = this.opts.visibilityDelayMs ?? 0;
    if (delay > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.opts.cache.contentChanged(scope, conversationId).catch((err: unknown) => this.opts.logger.warn({ err }, "search cache invalidation failed"));
      }, delay);
      timer.unref();
      this.timers.add(timer);
    }
    return indexed;
  }
}
