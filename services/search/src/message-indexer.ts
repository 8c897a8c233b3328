import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { scopeFromEvent, SequencedConsumer, type ConsumeOutcome, type Logger, type PositionStore, type TenantScope } from "@caas/shared";
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

  constructor(private readonly opts: MessageIndexerOptions) {
    this.consumer = new SequencedConsumer<Entry>({
      positions: opts.positions,
      fetchAfter: async (tenantId, conversationId, afterSeq, limit) =>
        (await opts.fetchAfter(tenantId, conversationId, afterSeq, limit)).map((event) => ({ tenantId, conversationId, seq: Number(event.seq), event })),
      apply: (entry) => this.apply(entry),
    });
  }

  /** Handles one record of the chat events topic; cases this version does not know are skipped. */
  async handle(envelope: ChatEventEnvelope): Promise<ConsumeOutcome | undefined> {
    if (envelope.payload.case !== "event") return undefined;
    const event = envelope.payload.value;
    return this.consumer.handle({ tenantId: envelope.tenantId, conversationId: envelope.conversationId, seq: Number(event.seq), event });
  }

  /** Cancels pending delayed invalidations. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async apply({ tenantId, conversationId, seq, event }: Entry): Promise<void> {
    const scope = scopeFromEvent({ tenantId });
    const { cache, index } = this.opts;
    const p = event.payload;
    const at = event.createTime ? timestampMs(event.createTime) : 0;
    switch (p.case) {
      case "messageCreated": {
        const m = p.value.message;
        if (!m) return;
        const text = event.redacted || m.deleted ? "" : m.text;
        const createTimeMs = m.createTime ? timestampMs(m.createTime) : at;
        await this.write(scope, conversationId, { messageId: m.id, conversationId, seq, version: seq, senderId: m.senderId || event.actorId || "system", text, createTimeMs, redacted: text === "" && (event.redacted || m.deleted) });
        return;
      }
      case "messageEdited":
      case "messageDeleted": {
        const v = p.value;
        const messageSeq = Number(v.messageSeq);
        if (messageSeq === 0 || v.senderId === "") {
          // Written before events carried the message's seq: only a delete can still be applied.
          if (p.case === "messageDeleted") await index.remove(scope, [v.messageId]);
          else this.opts.logger.debug({ tenantId, conversationId, seq }, "edit without the message's seq: not indexed");
          await cache.contentChanged(scope, conversationId);
          return;
        }
        const createTimeMs = v.messageCreateTime ? timestampMs(v.messageCreateTime) : at;
        const text = p.case === "messageEdited" && !event.redacted ? p.value.text : "";
        await this.write(scope, conversationId, { messageId: v.messageId, conversationId, seq: messageSeq, version: seq, senderId: v.senderId, text, createTimeMs, redacted: p.case === "messageDeleted" || event.redacted });
        return;
      }
      case "memberJoined":
        if (p.value.member) await cache.membershipChanged(scope, p.value.member.userId, conversationId);
        return;
      case "memberLeft":
      case "memberRemoved":
      case "memberBanned":
      case "memberUnbanned":
        await cache.membershipChanged(scope, p.value.userId, conversationId);
        return;
      case "conversationCreated":
        for (const member of p.value.members) await cache.membershipChanged(scope, member.userId, conversationId);
        return;
      case "conversationUpdated":
        await cache.conversationsChanged(scope);
        return;
      case "conversationDeleted":
        await index.removeConversation(scope, conversationId);
        await cache.conversationsChanged(scope);
        await cache.contentChanged(scope, conversationId);
        return;
      default:
        return;
    }
  }

  private async write(scope: TenantScope, conversationId: string, doc: SearchDocument): Promise<void> {
    await this.opts.index.index(scope, [doc]);
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
  }
}
