import { scopeFromEvent, type TenantScope } from "@caas/shared/tenant-scope";
import { SequencedConsumer, type ConsumeOutcome } from "@caas/shared/eventing/sequenced-consumer";
import type { EventLogStore, LogEvent } from "@caas/shared/eventing/log";
import type { Logger } from "@caas/shared/logger";
import { applyToProjections, type ProjectionTargets } from "./apply.js";
import type { ConversationRef, ProjectionStateStore } from "./projection-state-store.js";
import type { ProjectedCommits } from "./projected-commits.js";
import { WrittenBehindPositions } from "./written-behind-positions.js";

/**
 * The shape of the chat projections. Raise it when what the projections hold changes (a new
 * kind of mark, a new field): the next start rebuilds everything once (`rebuildIfStale`).
 * 1: thread replies became marks (thread summaries, ListThreadReplies).
 */
export const PROJECTION_VERSION = 1;

/** The stores a projector works on. */
export interface ProjectorStores extends ProjectionTargets {
  events: EventLogStore;
  projections: ProjectionStateStore;
}

/** An event as the bus announces it: which seq of which conversation. */
export interface EventRef {
  tenantId: string;
  conversationId: string;
  seq: number;
  /** The stored event, when the caller has it; otherwise it is read from the log. */
  log?: LogEvent;
  /** The committing instance applied it to every projection before publishing it (PROJECTED_HEADER). */
  projected?: boolean;
}

/** Events read per page when replaying. */
const REPLAY_PAGE = 500;

/**
 * The consumer side of the chat projections (ADR 0021). It applies each conversation's events
 * in seq order from the store of record whatever the bus delivers: a seq it already applied is
 * dropped, a gap is filled by reading the log, and its position per conversation is stored, so a
 * restarted consumer carries on where it stopped. `rebuild` wipes a conversation's projections
 * and replays its whole log; `rebuildAll` does it for every conversation.
 */
export class ChatProjector {
  private readonly consumer: SequencedConsumer<EventRef>;
  private readonly behind: WrittenBehindPositions | undefined;
  private stopping = false;

  constructor(
    private readonly stores: ProjectorStores,
    private readonly logger?: Logger,
    /** Events this instance's commit path already applied: taken and skipped, not applied twice. */
    private readonly projected?: ProjectedCommits,
    /** `writeBehindMs`: the consumer's positions kept in memory and written at most this often per conversation (ADR 0215); `flush()` writes them. */
    opts: { writeBehindMs?: number } = {},
  ) {
    this.behind = opts.writeBehindMs === undefined ? undefined : new WrittenBehindPositions(stores.projections, { delayMs: opts.writeBehindMs, ...(logger ? { logger } : {}) });
    this.consumer = new SequencedConsumer<EventRef>({
      positions: this.behind ?? {
        get: (t, c) => stores.projections.position(scopeFromEvent({ tenantId: t }), c),
        set: (t, c, seq) => stores.projections.advance(scopeFromEvent({ tenantId: t }), c, seq),
      },
      fetchAfter: async (t, c, after, limit) => (await stores.events.read(scopeFromEvent({ tenantId: t }), c, after, limit)).map((log) => ({ tenantId: t, conversationId: c, seq: log.seq, log })),
      apply: (ref) => this.applyRef(ref),
      pageSize: REPLAY_PAGE,
    });
  }

  /** Applies one delivered event (and any missing before it). Throws when the log does not hold it yet: the bus retries. */
  handle(ref: EventRef): Promise<ConsumeOutcome> {
    return this.consumer.handle(ref);
  }

  /** Applies everything of a conversation after the stored position up to the log's head. Returns how many events were applied. */
  async catchUp(scope: TenantScope, conversationId: string): Promise<number> {
    const { events, projections } = this.stores;
    let position = await projections.position(scope, conversationId);
    let applied = 0;
    for (;;) {
      const page = await events.read(scope, conversationId, position, REPLAY_PAGE);
      if (page.length === 0) return applied;
      for (const log of page) {
        await applyToProjections(this.stores, scope, log);
        position = log.seq;
        applied++;
      }
      await projections.advance(scope, conversationId, position);
    }
  }

  /**
   * Rebuilds a conversation's projections from its log: wipes its marks and last message, moves
   * its position back to 0 and replays. Writes committed meanwhile are applied by their own
   * commit path and again by the replay (applying is idempotent). Returns the events replayed.
   */
  async rebuild(scope: TenantScope, conversationId: string): Promise<number> {
    const { marks, conversations, projections } = this.stores;
    this.behind?.forget(scope.tenantId, conversationId);
    await projections.reset(scope, conversationId);
    await marks.clear(scope, conversationId);
    await conversations.resetLastMessage(scope, conversationId);
    return this.catchUp(scope, conversationId);
  }

  /**
   * Rebuilds every conversation of every tenant (an operator's repair, or a new projection
   * version). Returns how many conversations; stops early (`complete: false`) after `stop()`.
   */
  async rebuildAll(): Promise<{ conversations: number; complete: boolean }> {
    let after: ConversationRef | undefined;
    let count = 0;
    for (;;) {
      const batch = await this.stores.projections.conversations(after, 100);
      if (batch.length === 0) return { conversations: count, complete: true };
      for (const c of batch) {
        if (this.stopping) return { conversations: count, complete: false };
        await this.rebuild(scopeFromEvent({ tenantId: c.tenantId }), c.conversationId);
        count++;
      }
      after = batch[batch.length - 1];
    }
  }

  /**
   * Rebuilds everything when the stored projection version is older than `version` (an upgrade
   * changed what the projections hold), then records the version. Returns the conversations
   * rebuilt (0 when already current). Several instances starting at once may each rebuild:
   * harmless, as a rebuild only replays the log.
   */
  async rebuildIfStale(version = PROJECTION_VERSION): Promise<number> {
    const stored = await this.stores.projections.version();
    if (stored >= version) return 0;
    this.logger?.info({ from: stored, to: version }, "chat projections: version changed, rebuilding from the log");
    const { conversations, complete } = await this.rebuildAll();
    if (!complete) {
      this.logger?.info({ conversations }, "chat projections: rebuild interrupted by shutdown; the next start does it again");
      return conversations;
    }
    await this.stores.projections.setVersion(version);
    this.logger?.info({ conversations, version }, "chat projections rebuilt");
    return conversations;
  }

  /** Writes the positions the consumer moved and has not written yet (with `writeBehindMs`; at stop). */
  async flush(): Promise<void> {
    await this.behind?.flush();
  }

  /** Makes a running `rebuildAll` stop after the conversation in hand (shutdown). */
  stop(): void {
    this.stopping = true;
  }

  private async applyRef(ref: EventRef): Promise<void> {
    // The normal case: the commit path of this or another instance applied it already (ADR 0105, 0166).
    if (ref.projected || this.projected?.take(ref.tenantId, ref.conversationId, ref.seq)) return;
    const scope = scopeFromEvent({ tenantId: ref.tenantId });
    let log = ref.log;
    if (!log) {
      [log] = await this.stores.events.read(scope, ref.conversationId, ref.seq - 1, 1);
      if (!log || log.seq !== ref.seq) throw new Error(`seq ${ref.seq} of ${ref.conversationId} is not in the log yet; will retry`);
    }
    await applyToProjections(this.stores, scope, log);
  }
}
