import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { newId } from "@caas/shared/ids";
import type { EventLogStore, LogEvent, LogHead } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { buildEvent, decodeEvent, encodeEvent, summaryOf, type EventHeader } from "./domain/events.js";
import type { ConversationStore, EventSummary } from "./ports/conversation-store.js";
import { CommitHandover, type HandoverSlot } from "./commit-handover.js";

/** One event to commit. */
export interface AppendRequest {
  conversationId: string;
  /** The user causing the event (the caller; never a request field). */
  actorId: string;
  /** The idempotency key: a client's client_message_id, or a `systemKey`. */
  clientMessageId?: string;
  payloadHash: string;
  /** New messages count towards unread. */
  countable: boolean;
  /** The event's payload, built once the seq and commit time are known (again on a retry). */
  payload(header: EventHeader): Event["payload"];
  /** The conversation's head as its projection had it (the store checks it; see AppendInput.headHint). */
  headHint?: LogHead;
  /** The caller's cancellation: not committed when it aborted before the append's turn (AppendInput.signal). */
  signal?: AbortSignal;
  /**
   * The caller's own follow-up of the commit (e.g. the sender's read position), run alongside
   * the projection update instead of after it: one round trip less on the send path. It runs for
   * duplicates too (it must be idempotent), and the call fails if it fails.
   */
  alongside?(committed: Committed): Promise<void>;
}

/** What the log holds after an append. */
export interface Committed {
  /** `duplicate`: an event with the same (actor, idempotency key) was committed before; it is returned as is. */
  kind: "appended" | "duplicate";
  log: LogEvent;
  event: Event;
}

/**
 * Appends events to the conversation log (the commit point) and then moves the conversation
 * projection forward (head, countable counter, activity, last message). The projection update
 * is idempotent and order-free, and it also runs for duplicates, so a retried request repairs a
 * projection left behind by a crash between the commit and the update. A failure after the
 * commit still fails the call (the client retries and gets the original ack); the relay is told
 * of the commit either way.
 */
export class LogWriter {
  /** `append`'s commits reach onCommit in seq order per conversation (their projections may finish in any order). */
  private readonly handover: CommitHandover | undefined;

  constructor(
    private readonly deps: {
      events: EventLogStore;
      conversations: ConversationStore;
      /**
       * Called after each new commit (not for duplicates) once its projection ran, in the
       * request's async context, with the event as stored (a sealed body stays sealed); an
       * instance's commits of one conversation in seq order.
       */
      onCommit?: (event: LogEvent) => void;
    },
  ) {
    this.handover = deps.onCommit ? new CommitHandover(deps.onCommit) : undefined;
  }

  async append(scope: TenantScope, req: AppendRequest): Promise<Committed> {
    const held: { slot?: HandoverSlot } = {};
    try {
      return await this.appendHandingOver(scope, req, held);
    } finally {
      // A slot not handed over is settled whatever happened (an append that committed nothing; settling twice is a no-op).
      held.slot?.dropped();
    }
  }

  private async appendHandingOver(scope: TenantScope, req: AppendRequest, held: { slot?: HandoverSlot }): Promise<Committed> {
    const eventId = newId();
    let built: Event | undefined;
    const result = await this.deps.events.append(scope, {
      conversationId: req.conversationId,
      eventId,
      actorId: req.actorId,
      ...(req.clientMessageId === undefined ? {} : { clientMessageId: req.clientMessageId }),
      payloadHash: req.payloadHash,
      countable: req.countable,
      ...(req.headHint === undefined ? {} : { headHint: req.headHint }),
      ...(req.signal === undefined ? {} : { signal: req.signal }),
      encode: ({ seq, createTimeMs }) => {
        // The seq is assigned: this append takes its place in the conversation's handover order.
        if (!held.slot && this.handover) held.slot = this.handover.open(scope.tenantId, req.conversationId);
        const header = { conversationId: req.conversationId, seq, eventId, actorId: req.actorId, createTimeMs };
        built = buildEvent(header, req.payload(header));
        return encodeEvent(built);
      },
    });
    const event = result.kind === "appended" && built ? built : decodeEvent(result.event);
    const committed: Committed = { kind: result.kind, log: result.event, event };
    const [projected, followed] = await Promise.allSettled([this.project(scope, result.event, event), req.alongside?.(committed)]);
    // The event is committed whatever happened after: hand it to the relay first.
    if (result.kind === "appended") {
      if (held.slot) held.slot.committed(result.stored ?? result.event);
      else this.deps.onCommit?.(result.stored ?? result.event);
    }
    if (projected.status === "rejected") throw projected.reason;
    if (followed.status === "rejected") throw followed.reason;
    return committed;
  }

  /**
   * Several events of ONE conversation committed in one batch (EventLogStore.appendBatch; each
   * idempotent per its key as `append`'s), for the platform's bulk paths (erasure, retention). The
   * projection keeps maxima, so it is moved once per kind of change: to the newest event, and to
   * the newest with activity or a last message when those are others. The relay is told of every
   * new commit. Results in request order.
   */
  async appendBatch(scope: TenantScope, reqs: Omit<AppendRequest, "headHint" | "signal" | "alongside">[]): Promise<Committed[]> {
    if (reqs.length === 0) return [];
    const built = new Map<number, Event>();
    const results = await this.deps.events.appendBatch(
      scope,
      reqs.map((req, i) => {
        const eventId = newId();
        return {
          conversationId: req.conversationId,
          eventId,
          actorId: req.actorId,
          ...(req.clientMessageId === undefined ? {} : { clientMessageId: req.clientMessageId }),
          payloadHash: req.payloadHash,
          countable: req.countable,
          encode: ({ seq, createTimeMs }: { seq: number; createTimeMs: number }) => {
            const header = { conversationId: req.conversationId, seq, eventId, actorId: req.actorId, createTimeMs };
            const event = buildEvent(header, req.payload(header));
            built.set(i, event);
            return encodeEvent(event);
          },
        };
      }),
    );
    const committed: Committed[] = results.map((r, i) => ({ kind: r.kind, log: r.event, event: r.kind === "appended" && built.has(i) ? built.get(i)! : decodeEvent(r.event) }));
    const summaries = committed.map((c) => ({ c, summary: projectionOf(c.log, c.event) }));
    const newest = (pick: (s: EventSummary) => boolean) =>
      summaries.filter((s) => pick(s.summary)).reduce<(typeof summaries)[number] | undefined>((a, b) => (a && a.c.log.seq > b.c.log.seq ? a : b), undefined);
    const moves = new Set([newest(() => true), newest((s) => s.activity), newest((s) => s.lastMessage !== undefined)].filter((s) => s !== undefined));
    const projected = await Promise.allSettled([...moves].map((s) => this.deps.conversations.recordEvent(scope, s.c.log.conversationId, s.summary)));
    // Committed whatever happened after: the relay first.
    results.forEach((r) => r.kind === "appended" && this.deps.onCommit?.(r.stored ?? r.event));
    const failed = projected.find((p) => p.status === "rejected");
    if (failed) throw failed.reason;
    return committed;
  }

  /** Moves the conversation projection to a committed event. */
  async project(scope: TenantScope, log: LogEvent, event: Event): Promise<void> {
    await this.deps.conversations.recordEvent(scope, log.conversationId, projectionOf(log, event));
  }
}

/** What the conversation projection takes from one event. */
export function projectionOf(log: LogEvent, event: Event): EventSummary {
  const p = event.payload;
  const activity =
    p.case === "messageCreated" ||
    p.case === "conversationCreated" ||
    p.case === "memberJoined" ||
    p.case === "memberLeft" ||
    p.case === "memberRemoved" ||
    p.case === "memberRoleChanged" ||
    p.case === "memberBanned";
  const topLevel = p.case === "messageCreated" && p.value.message !== undefined && p.value.message.threadParentId === "";
  return {
    seq: log.seq,
    countableSeq: log.countableSeq,
    timeMs: log.createTimeMs,
    activity,
    ...(topLevel && !log.redacted ? { lastMessage: summaryOf(p.value.message!, log.createTimeMs) } : {}),
  };
}
