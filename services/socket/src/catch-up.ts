import { Code } from "@connectrpc/connect";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { CloseCode, type Resume, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { changesSince } from "./chat-calls.js";
import { freshCheckpoint, type ConnectionAnchor } from "./checkpoints.js";
import { errorFrame, eventFrame, failure, serverFrame } from "./frames.js";
import type { SessionIdentity } from "./session-auth.js";
import type { SessionDeps } from "./session-types.js";

/** The (shared, never written) catch-up of a connection that did not resume. */
const NO_CATCH_UP: ReadonlyMap<string, bigint> = new Map();

/** At most this many live events pushed before the first Resume are remembered (see `early`). */
const MAX_EARLY_EVENTS = 64;

/** A session as its catch-up sees it. */
export interface CatchUpHost {
  /** The identity while the session is open, else undefined. */
  readonly who: SessionIdentity | undefined;
  readonly isOpen: boolean;
  /** Subscribe's conversation_ids, when the session is restricted to them. */
  readonly filter?: ReadonlySet<string>;
  push(frame: ServerFrame): void;
  close(code: CloseCode, reason: string, retryAfterMs?: number): void;
}

/**
 * A connection's place in the log: Resume catch-ups (live events held meanwhile and sent after
 * ResumeDone, minus what the catch-up carried), and Checkpoints that never cover an event not
 * handed to this connection (ADR 0035).
 */
export class CatchUp {
  private held?: Event[];
  /** The newest cursor the client was given (ResumeDone or Checkpoint). */
  private cursor = "";
  /**
   * The last resume failed: events dropped before the connection opened may be missing, and no
   * catch-up read them, so no checkpoint until a resume succeeds.
   */
  private resumeFailed = false;
  /** Where this connection's knowledge of the log starts (set when it opens, then by each resume). */
  private anchor: ConnectionAnchor = { epoch: 0, caughtUp: NO_CATCH_UP };
  /** Live events were pushed since the last checkpoint. */
  private active = false;
  private checkpointing = false;
  /**
   * Live events pushed on this connection before its first Resume began (conversation -> seqs; at
   * most MAX_EARLY_EVENTS, made only when one is pushed): the client sends Resume right after
   * AuthOk, and what the live path pushed in between would come again in the catch-up. The
   * catch-up leaves them out: they went out earlier on this same ordered connection.
   */
  private early?: Map<string, Set<bigint>>;
  /** Events remembered in `early`; MAX_EARLY_EVENTS once a Resume began (nothing more is remembered). */
  private earlyCount = 0;

  constructor(
    private readonly host: CatchUpHost,
    private readonly deps: SessionDeps,
  ) {}

  /** The connection opened: it knows the log from the hub's current epoch. */
  opened(): void {
    this.anchor = { epoch: this.deps.hub.epoch, caughtUp: NO_CATCH_UP };
  }

  /** A live event for an open session: pushed, or held while a resume runs. */
  live(event: Event): void {
    const held = this.held;
    if (held) {
      held.push(event);
      if (held.length > this.deps.limits.maxQueuedFrames) this.host.close(CloseCode.SLOW_CONSUMER, "too many events arrived during resume", this.deps.limits.retryAfterMs);
      return;
    }
    // The last catch-up on this connection already carried it: an event committed before the
    // catch-up read the log can reach the live path after ResumeDone (bus latency under load).
    if (event.seq <= (this.anchor.caughtUp.get(event.conversationId) ?? 0n)) return;
    this.active = true;
    if (this.earlyCount < MAX_EARLY_EVENTS) {
      this.early ??= new Map();
      let seqs = this.early.get(event.conversationId);
      if (!seqs) this.early.set(event.conversationId, (seqs = new Set()));
      seqs.add(event.seq);
      this.earlyCount++;
    }
    this.host.push(eventFrame(event));
  }

  /**
   * Catch-up from a cursor: one `changes` frame per changed conversation, then ResumeDone
   * (reply_to `replyTo`). With positions (the client's newest seq per conversation) chat leaves
   * out what the client holds. Live events arriving meanwhile are held and sent after
   * ResumeDone, minus the seqs the catch-up already carried. The anchor keeps only what the
   * catch-up carried (not the positions), so checkpoints stay as strict as without them.
   */
  async resume(replyTo: bigint, resume: Resume): Promise<void> {
    const who = this.host.who;
    if (!who) return;
    if (this.held) {
      if (replyTo !== 0n) this.host.push(failure(replyTo, Code.FailedPrecondition, "a resume is already running on this connection"));
      return;
    }
    this.held = [];
    const early = this.early;
    this.early = undefined;
    this.earlyCount = MAX_EARLY_EVENTS;
    // Holes the live path leaves from here on may hold events this catch-up does not read.
    const epoch = this.deps.hub.epoch;
    const covered = new Map<string, bigint>();
    const filter = this.host.filter;
    let outcome: ServerFrame;
    try {
      const cursor = await changesSince(
        this.deps.chat,
        who.accessToken,
        resume.cursor,
        resume.perConversationLimit,
        (page) => {
          for (const changes of page.conversations) {
            if (filter && !filter.has(changes.conversationId)) continue;
            for (const e of changes.events) if (e.seq > (covered.get(e.conversationId) ?? 0n)) covered.set(e.conversationId, e.seq);
            const pushed = early?.get(changes.conversationId);
            if (pushed) changes.events = changes.events.filter((e) => !pushed.has(e.seq));
            this.host.push(serverFrame(0n, { case: "changes", value: changes }));
          }
        },
        resume.positions,
      );
      outcome = serverFrame(replyTo, { case: "resumeDone", value: { cursor } });
      this.cursor = cursor;
      this.anchor = { epoch, caughtUp: covered };
      this.resumeFailed = false;
    } catch (err) {
      this.resumeFailed = true;
      outcome = errorFrame(replyTo, err);
    }
    const held = this.held;
    this.held = undefined;
    if (!this.host.isOpen) return;
    this.host.push(outcome);
    for (const e of held) if (e.seq > (covered.get(e.conversationId) ?? 0n)) this.host.push(serverFrame(0n, { case: "event", value: e }));
  }

  /**
   * Pushes a Checkpoint when live events went out since the last one: a fresh cursor from
   * GetChanges, only once this connection was handed everything it covers (`freshCheckpoint`);
   * otherwise the next interval tries again. Queued behind the events it covers; not during a
   * Resume.
   */
  async checkpoint(): Promise<void> {
    const who = this.host.who;
    // A client that did not resume within a checkpoint interval is not about to: forget what it was pushed early.
    this.early = undefined;
    this.earlyCount = MAX_EARLY_EVENTS;
    if (!who || !this.active || this.held || this.checkpointing || this.resumeFailed) return;
    this.checkpointing = true;
    if (this.deps.checkpointPlace && !(await this.deps.checkpointPlace())) {
      this.checkpointing = false; // the instance's budget is spent: the next interval tries again
      return;
    }
    if (!this.host.isOpen || this.held) {
      this.checkpointing = false;
      return;
    }
    this.active = false;
    try {
      const cursor = await freshCheckpoint(this.deps.chat, this.deps.hub, who, this.cursor, this.anchor, this.host.filter);
      if (!this.host.isOpen || this.held) return;
      if (cursor === undefined) {
        this.active = true;
        return;
      }
      this.cursor = cursor;
      this.host.push(serverFrame(0n, { case: "checkpoint", value: { cursor } }));
    } catch (err) {
      this.active = true;
      this.deps.logger.debug({ err }, "checkpoint skipped");
    } finally {
      this.checkpointing = false;
    }
  }
}
