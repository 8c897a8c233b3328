import { fromBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import {
  ClientFrameSchema,
  CloseCode,
  type BlockChanged,
  type ClientFrame,
  type KeysChanged,
  type PreKeysLow,
  type Resume,
  type SendMessage,
  type ServerFrame,
  type Presence,
  type Typing,
} from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import type { Clock } from "@caas/shared/clock";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { Logger } from "@caas/shared/logger";
import type { RevocationChecker } from "@caas/shared/identity/revocations";
import type { ReadState, Receipt } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import { changesSince, listMemberships, markThroughChat, membersOf, sendThroughChat, type ChatClient } from "./chat-calls.js";
import { closingFrame, errorFrame, exhausted, failure, serverFrame } from "./frames.js";
import { freshCheckpoint, type ConnectionAnchor } from "./checkpoints.js";
import type { Hub, Recipient } from "./hub.js";
import { searchThroughSearch, isSearchFrame, type SearchClient } from "./search-calls.js";

export type { SessionIdentity } from "./session-auth.js";
import type { PresenceTracker } from "./presence.js";
import { checkToken, type SessionIdentity } from "./session-auth.js";
import type { TypingRelay } from "./typing.js";

/** Where a session's frames go: one WebSocket, gRPC Connect stream or Subscribe stream. */
export interface FrameSink {
  /** Writes frames in order, as one batch (one socket write per flush on WebSocket). */
  write(frames: ServerFrame[]): void;
  /** True when frames already written are still waiting for the client beyond the bound. */
  congested(): boolean;
  /** Ends the transport after the frames written so far. */
  end(code: CloseCode, reason: string): void;
}

/** Timings and bounds of every session. */
export interface SessionLimits {
  /** An Auth frame must arrive within this long after connecting. */
  authTimeoutMs: number;
  /** AuthOk.heartbeat_interval; two silent intervals close a client-heartbeat transport. */
  heartbeatMs: number;
  /** Frames queued for one tick's write plus those the transport holds; past it: SLOW_CONSUMER. */
  maxQueuedFrames: number;
  /** AuthOk.max_frame_bytes. */
  maxFrameBytes: number;
  /** Suggested wait before reconnecting after SLOW_CONSUMER and SERVER_SHUTDOWN. */
  retryAfterMs: number;
  /** Send frames outstanding on one connection; more are refused with RESOURCE_EXHAUSTED. Unset: no bound. */
  maxInflightSends?: number;
  /** Open connections of one user (Presence port, else this instance); the next closes with TOO_MANY_CONNECTIONS. Unset: no bound. */
  maxConnectionsPerUser?: number;
  /** At most one Checkpoint per this interval, after live activity. Unset: no checkpoints. */
  checkpointMs?: number;
  /**
   * Checkpoints (each one GetChanges call to chat) this instance starts per second, across all
   * its sessions; a session refused a place tries again at its next interval. Unset: no bound.
   */
  checkpointsPerSec?: number;
}

/** A client should wait this long after an in-flight refusal: about one chat round trip. */
export const INFLIGHT_RETRY_MS = 100;

/** What every session shares: the verifier, the chat client, the fan-out index. */
export interface SessionDeps {
  verifier: JwtVerifier;
  revocations?: RevocationChecker;
  chat: ChatClient;
  hub: Hub;
  /** Typing indicators; without it SetTyping answers UNIMPLEMENTED. */
  typing?: TypingRelay;
  /** The search service; without it search frames answer UNAVAILABLE. */
  search?: SearchClient;
  /** Presence; without it SubscribePresence answers UNIMPLEMENTED and connections are counted in `slots`. */
  presence?: PresenceTracker;
  /** This instance's connection places per user, used when there is no Presence port. */
  slots?: LocalConnectionSlots;
  clock: Clock;
  logger: Logger;
  limits: SessionLimits;
  /** A place for one checkpoint in the instance's budget (`limits.checkpointsPerSec`); absent: always. */
  checkpointPlace?(): Promise<boolean>;
  /** Called once when the session ends, however it ends. */
  onEnd(session: Session): void;
}

/** How the transport behaves around heartbeats. */
export interface SessionOptions {
  /** The client sends Pings (WebSocket, Connect): silence for two intervals closes the session. */
  clientHeartbeats: boolean;
  /** The server sends Pong nonce 0 every interval (Subscribe streams, which cannot send up). */
  serverPongs: boolean;
}

type State = "new" | "authenticating" | "open" | "closed";

/**
 * A user's connection places on this instance alone, for sessions without a Presence port.
 * Check and take are one synchronous step, so connections of one user authenticating at once
 * cannot both take the last place.
 */
export class LocalConnectionSlots {
  private readonly held = new Map<string, number>();

  /** Takes a place of the user when fewer than `max` are held; false otherwise. */
  tryTake(tenantId: string, userId: string, max: number): boolean {
    const key = `${tenantId}\u0000${userId}`;
    const n = this.held.get(key) ?? 0;
    if (n >= max) return false;
    this.held.set(key, n + 1);
    return true;
  }

  /** Gives back a place taken with `tryTake`. */
  give(tenantId: string, userId: string): void {
    const key = `${tenantId}\u0000${userId}`;
    const n = (this.held.get(key) ?? 0) - 1;
    if (n > 0) this.held.set(key, n);
    else this.held.delete(key);
  }
}

/**
 * A flush that wrote to at least this many sessions and took at least FLUSH_HOLD_MIN_MS is a
 * heavy fan-out: the next flush waits (see scheduleFlush).
 */
const FLUSH_HOLD_MIN_SESSIONS = 100;
const FLUSH_HOLD_MIN_MS = 1;
/** The longest a flush is held after a heavy one. */
const FLUSH_HOLD_MAX_MS = 10;

/**
 * One flush per tick for every session with frames waiting: a fan-out to N sessions schedules
 * one callback, not N (each session still writes its own batch, in order). After a heavy flush
 * (many sessions, long), the next one starts no sooner than that flush took after it ended, at
 * most FLUSH_HOLD_MAX_MS: flushing then takes at most about half the time, and the events that
 * arrive meanwhile go out in the same socket write per connection instead of one write each
 * (a write's system call, not the bytes, is the cost of a delivery). Small flushes never hold.
 */
const dirty: Session[] = [];
let lastFlushEnd = 0;
let holdMs = 0;
function scheduleFlush(session: Session): void {
  dirty.push(session);
  if (dirty.length !== 1) return;
  const wait = holdMs > 0 ? lastFlushEnd + holdMs - performance.now() : 0;
  if (wait >= 1) setTimeout(heldFlush, Math.ceil(wait));
  else setImmediate(flushDirty);
}
/** The held flush; a timer armed in the tick of a long flush counts from that tick's start, so it re-arms when early. */
function heldFlush(): void {
  const wait = lastFlushEnd + holdMs - performance.now();
  if (wait >= 1) setTimeout(heldFlush, Math.ceil(wait));
  else flushDirty();
}
function flushDirty(): void {
  const start = performance.now();
  const sessions = dirty.splice(0);
  for (const s of sessions) s.flush();
  lastFlushEnd = performance.now();
  const took = lastFlushEnd - start;
  holdMs = sessions.length >= FLUSH_HOLD_MIN_SESSIONS && took >= FLUSH_HOLD_MIN_MS ? Math.min(took, FLUSH_HOLD_MAX_MS) : 0;
}

/**
 * The pushed frame of a live event, made once per event: the hub hands the same Event object to
 * every recipient session and the frame (reply_to 0) is the same for all of them; frames are
 * never mutated after they are queued.
 */
const eventFrames = new WeakMap<Event, ServerFrame>();
function eventFrame(event: Event): ServerFrame {
  let frame = eventFrames.get(event);
  if (!frame) {
    frame = serverFrame(0n, { case: "event", value: event });
    eventFrames.set(event, frame);
  }
  return frame;
}

/** The anchor of a connection before it opens, and the (shared, never written) catch-up of one that did not resume. */
const NO_ANCHOR: ConnectionAnchor = { epoch: 0, caughtUp: new Map() };

/** Frames pipelined behind Auth are held at most this many, then the client broke the protocol. */
const MAX_EARLY_FRAMES = 32;

/** SubscribePresence.user_ids holds at most this many (frame.proto). */
/** The most users one SubscribePresence may follow. */
export const MAX_FOLLOWED = 200;

/**
 * One client connection, whatever its transport: authentication, frame handling, live delivery
 * with coalesced writes (one flush of every session per tick, held after a heavy one) into a
 * bounded queue, and the closing handshake.
 */
export class Session implements Recipient {
  readonly id = newId();
  private state: State = "new";
  private identity?: SessionIdentity;
  private pending: ServerFrame[] = [];
  private flushScheduled = false;
  private early: ClientFrame[] = [];
  private held?: Event[];
  private filter?: Set<string>;
  private lastSeenMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private expiry?: NodeJS.Timeout;
  private reauthing = false;
  private typingAttached = false;
  private presenceOnline = false;
  /** Where this session holds one of its user's connection places, if it holds one. */
  private place: "none" | "presence" | "local" = "none";
  private inflightSends = 0;
  /**
   * Aborts when the session ends: its sends still in flight at chat are abandoned unless
   * committed. Made at the first send (an idle connection carries none: memory per connection).
   */
  private gone?: AbortController;
  /** The newest cursor the client was given (ResumeDone or Checkpoint). */
  private cursor = "";
  /**
   * The last resume failed: events dropped before the connection opened may be missing, and no
   * catch-up read them, so no checkpoint until a resume succeeds.
   */
  private resumeFailed = false;
  /** Where this connection's knowledge of the log starts (set when it opens, then by each resume). */
  private anchor: ConnectionAnchor = NO_ANCHOR;
  /** Live events were pushed since the last checkpoint. */
  private active = false;
  private checkpointing = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly deps: SessionDeps,
    private readonly opts: SessionOptions,
  ) {
    this.lastSeenMs = deps.clock.nowMs();
    this.timers.push(setTimeout(() => this.close(CloseCode.AUTH_TIMEOUT, "no auth frame arrived in time"), deps.limits.authTimeoutMs));
  }

  get tenantId(): string {
    return this.identity?.tenantId ?? "";
  }

  get userId(): string {
    return this.identity?.userId ?? "";
  }

  /** The current access token once open ("" before): the hub reads the log with it to fill holes. */
  get accessToken(): string {
    return this.state === "open" ? this.identity!.accessToken : "";
  }

  /** The identity once authenticated. */
  get who(): SessionIdentity | undefined {
    return this.state === "open" ? this.identity : undefined;
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Restricts pushed events to these conversations (Subscribe's conversation_ids). */
  restrictTo(conversationIds: string[]): void {
    this.filter = conversationIds.length > 0 ? new Set(conversationIds) : undefined;
  }

  /** Decodes one binary frame; undecodable bytes close the session with PROTOCOL_ERROR. */
  receiveBytes(data: Uint8Array): void {
    let frame: ClientFrame;
    try {
      frame = fromBinary(ClientFrameSchema, data);
    } catch {
      this.protocolError(0n, "the frame is not a valid caas.realtime.v1.ClientFrame");
      return;
    }
    this.receive(frame);
  }

  /** Handles one client frame. */
  receive(frame: ClientFrame): void {
    if (this.state === "closed") return;
    this.lastSeenMs = this.deps.clock.nowMs();
    if (this.state === "new") {
      if (frame.frame.case === "auth") void this.authenticate(frame.frame.value.accessToken, frame.id);
      else this.protocolError(frame.id, "the first frame must be auth");
      return;
    }
    if (this.state === "authenticating") {
      if (frame.frame.case === "auth" || this.early.length >= MAX_EARLY_FRAMES) this.protocolError(frame.id, "frames sent while authenticating exceed the limit or repeat auth");
      else this.early.push(frame);
      return;
    }
    this.dispatch(frame);
  }

  /**
   * Verifies the access token and loads the user's memberships; then AuthOk (reply_to `replyTo`)
   * and live events. A bad token gets a FrameError and Closing AUTH_FAILED (TOKEN_EXPIRED,
   * REVOKED when that is why). Resolves to whether the session is open.
   */
  async authenticate(accessToken: string, replyTo: bigint): Promise<boolean> {
    if (this.state !== "new") return false;
    this.state = "authenticating";
    const { verifier, revocations, hub, chat, limits } = this.deps;
    const checked = await checkToken(verifier, revocations, accessToken, replyTo);
    if (!checked.ok) {
      this.reply(replyTo, checked.error);
      this.close(checked.close, checked.reason);
      return false;
    }
    const identity = checked.identity;
    if (this.state !== "authenticating") return false;
    this.identity = identity;
    if (await this.takeConnectionPlace(replyTo)) return false;
    try {
      await hub.join(this, () => listMemberships(chat, accessToken));
    } catch (err) {
      this.reply(replyTo, errorFrame(replyTo, err));
      this.close(CloseCode.INTERNAL_ERROR, "the conversation list could not be loaded");
      return false;
    }
    if (this.state !== "authenticating") {
      hub.leave(this);
      return false;
    }
    if (this.deps.typing) {
      this.typingAttached = true;
      await this.deps.typing.attach(identity).catch((err: unknown) => this.deps.logger.warn({ err }, "typing subscription failed"));
      if (this.state !== "authenticating") return false;
    }
    if (this.deps.presence) {
      this.presenceOnline = true;
      await this.deps.presence.online(this).catch((err: unknown) => this.deps.logger.warn({ err }, "presence registration failed"));
      if (this.state !== "authenticating") return false;
    }
    this.state = "open";
    this.anchor = { epoch: hub.epoch, caughtUp: NO_ANCHOR.caughtUp };
    clearTimeout(this.timers.shift());
    this.push(this.authOk(replyTo));
    this.armExpiry();
    this.timers.push(setInterval(() => this.heartbeat(), limits.heartbeatMs));
    const checkpointMs = limits.checkpointMs;
    if (checkpointMs !== undefined) {
      // Started at a random point of the first interval, so that connections opened together
      // (a deploy, a reconnect storm) do not all ask chat in the same instant.
      const first = setTimeout(
        () => {
          if (this.state !== "open") return;
          void this.checkpoint();
          this.timers.push(setInterval(() => void this.checkpoint(), checkpointMs).unref());
        },
        Math.floor(Math.random() * checkpointMs),
      );
      this.timers.push(first);
    }
    for (const t of this.timers) t.unref();
    const early = this.early;
    this.early = [];
    for (const f of early) this.dispatch(f);
    return true;
  }

  /**
   * Replaces the token of an open session (ReAuth): the new token must verify, be unrevoked and
   * name the same tenant, user and session. Success answers AuthOk with the new expire_time and
   * re-arms the expiry; any refusal answers a FrameError and closes the session (AUTH_FAILED,
   * TOKEN_EXPIRED or REVOKED). Resolves to the reply frame (also pushed unless `replyTo` is 0).
   */
  async reauth(replyTo: bigint, accessToken: string): Promise<ServerFrame> {
    const current = this.who;
    if (!current) return failure(replyTo, Code.FailedPrecondition, "the connection is not authenticated");
    if (this.reauthing) {
      const busy = failure(replyTo, Code.FailedPrecondition, "a reauth is already running on this connection");
      this.reply(replyTo, busy);
      return busy;
    }
    this.reauthing = true;
    try {
      const checked = await checkToken(this.deps.verifier, this.deps.revocations, accessToken, replyTo);
      if (!checked.ok) return this.refuse(replyTo, checked.error, checked.close, checked.reason);
      const next = checked.identity;
      if (next.tenantId !== current.tenantId || next.userId !== current.userId || next.sessionId !== current.sessionId) {
        const message = "the reauth token belongs to another user or session";
        return this.refuse(replyTo, failure(replyTo, Code.PermissionDenied, message), CloseCode.AUTH_FAILED, message);
      }
      if (this.state !== "open") return failure(replyTo, Code.FailedPrecondition, "the connection closed during reauth");
      this.identity = next;
      this.armExpiry();
      const ok = this.authOk(replyTo);
      this.reply(replyTo, ok);
      return ok;
    } finally {
      this.reauthing = false;
    }
  }

  /**
   * Closes the session with REVOKED when `checker` denies its current token (a revoked session,
   * user, tenant or signing key). Returns whether it closed.
   */
  closeIfRevoked(checker: RevocationChecker): boolean {
    const who = this.who;
    if (!who || !checker.denies(who)) return false;
    this.close(CloseCode.REVOKED, "the session was revoked");
    return true;
  }

  /** A live conversation event from the hub. */
  deliver(event: Event): void {
    if (this.state !== "open" || (this.filter && !this.filter.has(event.conversationId))) return;
    if (this.held) {
      this.held.push(event);
      if (this.held.length > this.deps.limits.maxQueuedFrames) this.close(CloseCode.SLOW_CONSUMER, "too many events arrived during resume", this.deps.limits.retryAfterMs);
      return;
    }
    this.active = true;
    this.push(eventFrame(event));
  }

  /**
   * Pushes a Checkpoint when live events went out since the last one: a fresh cursor from
   * GetChanges, only once this connection was handed everything it covers (`freshCheckpoint`);
   * otherwise the next interval tries again. Queued behind the events it covers; not during a
   * Resume.
   */
  async checkpoint(): Promise<void> {
    const who = this.who;
    if (!who || !this.active || this.held || this.checkpointing || this.resumeFailed) return;
    this.checkpointing = true;
    if (this.deps.checkpointPlace && !(await this.deps.checkpointPlace())) {
      this.checkpointing = false; // the instance's budget is spent: the next interval tries again
      return;
    }
    if (this.state !== "open" || this.held) {
      this.checkpointing = false;
      return;
    }
    this.active = false;
    try {
      const cursor = await freshCheckpoint(this.deps.chat, this.deps.hub, who, this.cursor, this.anchor, this.filter);
      if (this.state !== "open" || this.held) return;
      if (cursor === undefined) {
        this.active = true;
        return;
      }
      this.cursor = cursor;
      this.push(serverFrame(0n, { case: "checkpoint", value: { cursor } }));
    } catch (err) {
      this.active = true;
      this.deps.logger.debug({ err }, "checkpoint skipped");
    } finally {
      this.checkpointing = false;
    }
  }

  /** The user's own read state moved (from the user-state feed). */
  deliverReadState(state: ReadState): void {
    if (this.state !== "open" || (this.filter && !this.filter.has(state.conversationId))) return;
    this.push(serverFrame(0n, { case: "readState", value: state }));
  }

  /** The user's block list changed (from the user-state feed); not limited by a conversation filter. */
  deliverBlockChanged(change: BlockChanged): void {
    if (this.state !== "open") return;
    this.push(serverFrame(0n, { case: "blockChanged", value: change }));
  }

  /** One of the user's devices runs low on one-time prekeys (from the user-state feed); not limited by a conversation filter. */
  deliverPreKeysLow(notice: PreKeysLow): void {
    if (this.state !== "open") return;
    this.push(serverFrame(0n, { case: "prekeysLow", value: notice }));
  }

  /** A device list changed of a user who shares a conversation with this one, or of this user (from the user-state feed); not limited by a conversation filter. */
  deliverKeysChanged(notice: KeysChanged): void {
    if (this.state !== "open") return;
    this.push(serverFrame(0n, { case: "keysChanged", value: notice }));
  }

  /** Another member's markers moved where receipts are shared (from the user-state feed). */
  deliverReceipt(receipt: Receipt): void {
    if (this.state !== "open" || (this.filter && !this.filter.has(receipt.conversationId))) return;
    this.push(serverFrame(0n, { case: "receipt", value: receipt }));
  }

  /**
   * A frame larger than max_frame_bytes arrived (its size as the transport measured it): Closing
   * FRAME_TOO_LARGE (frame.proto: such frames close the connection).
   */
  frameTooLarge(bytes: number): void {
    this.close(CloseCode.FRAME_TOO_LARGE, `a frame of ${bytes} bytes exceeds max_frame_bytes (${this.deps.limits.maxFrameBytes})`);
  }

  /** A typing indicator of another member (from the typing relay). */
  deliverTyping(typing: Typing): void {
    if (this.state !== "open" || (this.filter && !this.filter.has(typing.conversationId))) return;
    this.push(serverFrame(0n, { case: "typing", value: typing }));
  }

  /** A followed user's presence (from the presence tracker). */
  deliverPresence(presence: Presence): void {
    if (this.state === "open") this.push(serverFrame(0n, { case: "presence", value: presence }));
  }

  /**
   * SubscribePresence: follows the listed users who share a conversation with this user (and the
   * user themself); others are left out silently, so presence reveals nothing about strangers.
   * Answers Ack, then a Presence frame per followed user, then one on every change.
   */
  async subscribePresence(replyTo: bigint, userIds: string[]): Promise<void> {
    try {
      const now = await this.followPresence(userIds);
      if (now === undefined) return;
      this.reply(replyTo, serverFrame(replyTo, { case: "ack", value: {} }));
      this.pushPresence(now);
    } catch (err) {
      this.reply(replyTo, errorFrame(replyTo, err));
    }
  }

  /**
   * The work of SubscribePresence without its answer frames (the unary Send answers for itself):
   * starts following and returns each followed user's presence now, for `pushPresence`; undefined
   * when the session is not open or presence is not served. Throws INVALID_ARGUMENT past
   * MAX_FOLLOWED users, and chat's errors.
   */
  async followPresence(userIds: string[]): Promise<Presence[] | undefined> {
    const who = this.who;
    const tracker = this.deps.presence;
    if (!who || !tracker) return undefined;
    if (userIds.length > MAX_FOLLOWED) throw new InvalidArgumentError(`subscribe_presence.user_ids: at most ${MAX_FOLLOWED} users`);
    const wanted = [...new Set(userIds)];
    const others = wanted.filter((u) => u !== who.userId);
    const visible = others.length > 0 ? await membersOf(this.deps.chat, who.accessToken, this.deps.hub.conversationsOf(who.tenantId, who.userId)) : new Set<string>();
    if (this.state !== "open") return undefined;
    return tracker.follow(
      this,
      wanted.filter((u) => u === who.userId || visible.has(u)),
    );
  }

  /** Pushes Presence frames (what `followPresence` returned) on this session. */
  pushPresence(now: readonly Presence[]): void {
    for (const p of now) this.push(serverFrame(0n, { case: "presence", value: p }));
  }

  /**
   * Catch-up from a cursor: one `changes` frame per changed conversation, then ResumeDone
   * (reply_to `replyTo`). Live events arriving meanwhile are held and sent after ResumeDone,
   * minus the seqs the catch-up already carried.
   */
  async resume(replyTo: bigint, resume: Resume): Promise<void> {
    const who = this.who;
    if (!who) return;
    if (this.held) {
      this.reply(replyTo, failure(replyTo, Code.FailedPrecondition, "a resume is already running on this connection"));
      return;
    }
    this.held = [];
    // Holes the live path leaves from here on may hold events this catch-up does not read.
    const epoch = this.deps.hub.epoch;
    const covered = new Map<string, bigint>();
    let outcome: ServerFrame;
    try {
      const cursor = await changesSince(this.deps.chat, who.accessToken, resume.cursor, resume.perConversationLimit, (page) => {
        for (const changes of page.conversations) {
          if (this.filter && !this.filter.has(changes.conversationId)) continue;
          for (const e of changes.events) if (e.seq > (covered.get(e.conversationId) ?? 0n)) covered.set(e.conversationId, e.seq);
          this.push(serverFrame(0n, { case: "changes", value: changes }));
        }
      });
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
    if (this.state !== "open") return;
    this.push(outcome);
    for (const e of held) if (e.seq > (covered.get(e.conversationId) ?? 0n)) this.push(serverFrame(0n, { case: "event", value: e }));
  }

  /** Sends Closing, ends the transport and leaves the fan-out index. */
  close(code: CloseCode, reason: string, retryAfterMs?: number): void {
    if (this.state === "closed") return;
    this.pending.push(closingFrame(code, reason, retryAfterMs));
    this.flush();
    this.end();
    this.sink.end(code, reason);
  }

  /** The transport went away: leave without writing anything. */
  detach(): void {
    if (this.state === "closed") return;
    this.pending = [];
    this.end();
  }

  private end(): void {
    this.state = "closed";
    this.gone?.abort();
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.expiry);
    this.deps.hub.leave(this);
    this.releaseConnectionPlace();
    if (this.typingAttached) this.deps.typing?.detach(this.identity!);
    this.typingAttached = false;
    if (this.presenceOnline) this.deps.presence?.offline(this).catch((err: unknown) => this.deps.logger.warn({ err }, "presence removal failed"));
    this.presenceOnline = false;
    this.deps.onEnd(this);
  }

  private dispatch(frame: ClientFrame): void {
    const id = frame.id;
    const f = frame.frame;
    switch (f.case) {
      case "auth":
        this.reply(id, failure(id, Code.FailedPrecondition, "the connection is already authenticated"));
        return;
      case "send": {
        const max = this.deps.limits.maxInflightSends;
        if (max !== undefined && this.inflightSends >= max) {
          this.reply(id, exhausted(id, `too many sends in flight on this connection (at most ${max}): wait for their acks`, INFLIGHT_RETRY_MS));
          return;
        }
        this.inflightSends++;
        this.send(id, f.value)
          .then(
            (ack) => this.reply(id, ack),
            (err: unknown) => this.reply(id, errorFrame(id, err)),
          )
          .finally(() => this.inflightSends--);
        return;
      }
      case "markRead":
      case "markDelivered": {
        const who = this.identity!;
        markThroughChat(this.deps.chat, who.accessToken, id, f.case === "markRead" ? "read" : "delivered", f.value).then(
          (state) => this.reply(id, state),
          (err: unknown) => this.reply(id, errorFrame(id, err)),
        );
        return;
      }
      case "ping":
        this.reply(id, serverFrame(id, { case: "pong", value: { nonce: f.value.nonce } }));
        return;
      case "resume":
        void this.resume(id, f.value);
        return;
      case "reauth":
        void this.reauth(id, f.value.accessToken);
        return;
      case "subscribePresence":
        if (!this.deps.presence) break;
        void this.subscribePresence(id, f.value.userIds);
        return;
      case "searchMessages":
      case "searchConversations":
      case "searchUsers": {
        const search = this.deps.search;
        if (!search) break;
        searchThroughSearch(search, this.identity!.accessToken, id, f).then(
          (reply) => this.reply(id, reply),
          (err: unknown) => this.reply(id, errorFrame(id, err)),
        );
        return;
      }
      case "typing": {
        const relay = this.deps.typing;
        if (!relay) break;
        relay.set(this.identity!, id, f.value).then(
          (reply) => this.reply(id, reply),
          (err: unknown) => this.reply(id, errorFrame(id, err)),
        );
        return;
      }
    }
    if (f.case === "typing" || f.case === "subscribePresence" || isSearchFrame(f)) this.reply(id, failure(id, Code.Unavailable, `${f.case} is not served by this socket instance`));
    else this.reply(id, failure(id, Code.Unimplemented, "unknown client frame case"));
  }

  /**
   * One send frame: chat's write path with the user's token. Chat counts the send against the
   * user's `message.send` rate (the only place sends are counted, ADR 0023); its
   * RESOURCE_EXHAUSTED comes back as a FrameError with retry_after from its RetryInfo.
   */
  private send(replyTo: bigint, send: SendMessage): Promise<ServerFrame> {
    this.gone ??= new AbortController();
    return sendThroughChat(this.deps.chat, this.identity!.accessToken, replyTo, send, this.gone.signal);
  }

  /**
   * Connections per user: takes one of the user's places before anything else awaits, atomically
   * (the Presence port's bounded add across every instance sharing it, else this instance's
   * slots), so of N connections authenticating at once exactly the room left get in. The place is
   * given back when the session ends, however it ends. Over the bound: FrameError
   * RESOURCE_EXHAUSTED and Closing TOO_MANY_CONNECTIONS with retry_after. Resolves true when the
   * session must not go on (refused, or closed meanwhile).
   */
  private async takeConnectionPlace(replyTo: bigint): Promise<boolean> {
    const max = this.deps.limits.maxConnectionsPerUser;
    if (max === undefined) return false;
    const { tenantId, userId } = this.identity!;
    const { presence, slots } = this.deps;
    let taken: boolean;
    if (presence) {
      try {
        taken = await presence.reserve(this, max);
      } catch (err) {
        this.deps.logger.warn({ err }, "connection count unavailable; admitting the connection");
        return this.state !== "authenticating";
      }
      if (taken) {
        this.place = "presence";
        // Closed while the place was being taken: end() found none to give back, so give it here.
        if (this.state !== "authenticating") this.releaseConnectionPlace();
      }
    } else {
      taken = slots ? slots.tryTake(tenantId, userId, max) : true;
      if (taken && slots) this.place = "local";
    }
    if (taken) return this.state !== "authenticating";
    const message = `the user already has ${max} open connections (at most ${max}): close unused ones`;
    const retryAfterMs = Math.max(this.deps.limits.retryAfterMs, 5_000);
    this.reply(replyTo, exhausted(replyTo, message, retryAfterMs));
    this.close(CloseCode.TOO_MANY_CONNECTIONS, message, retryAfterMs);
    return true;
  }

  /** Gives back the connection place this session holds (once it went online, `offline` removes it). */
  private releaseConnectionPlace(): void {
    const place = this.place;
    this.place = "none";
    if (place === "local") this.deps.slots?.give(this.identity!.tenantId, this.identity!.userId);
    else if (place === "presence" && !this.presenceOnline) {
      this.deps.presence?.release(this).catch((err: unknown) => this.deps.logger.warn({ err }, "connection place not given back; it expires with its TTL"));
    }
  }

  /** The client broke the protocol: FrameError INVALID_ARGUMENT (when asked for), then Closing PROTOCOL_ERROR. */
  protocolError(replyTo: bigint, message: string): void {
    this.reply(replyTo, failure(replyTo, Code.InvalidArgument, message));
    this.close(CloseCode.PROTOCOL_ERROR, message);
  }

  /** AuthOk for the current identity (reply_to `replyTo`). */
  private authOk(replyTo: bigint): ServerFrame {
    const identity = this.identity!;
    const { limits } = this.deps;
    return serverFrame(replyTo, {
      case: "authOk",
      value: {
        userId: identity.userId,
        sessionId: identity.sessionId,
        connectionId: this.id,
        expireTime: timestampFromMs(identity.expireMs),
        heartbeatInterval: durationFromMs(limits.heartbeatMs),
        maxFrameBytes: limits.maxFrameBytes,
      },
    });
  }

  /** (Re)starts the TOKEN_EXPIRED timer for the current token. */
  private armExpiry(): void {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.close(CloseCode.TOKEN_EXPIRED, "the access token expired"), Math.max(0, this.identity!.acceptedUntilMs - this.deps.clock.nowMs()));
    this.expiry.unref();
  }

  /** A reauth refusal: FrameError, then Closing `code`. */
  private refuse(replyTo: bigint, frame: ServerFrame, code: CloseCode, reason: string): ServerFrame {
    this.reply(replyTo, frame);
    this.close(code, reason);
    return frame;
  }

  private heartbeat(): void {
    const now = this.deps.clock.nowMs();
    if (this.presenceOnline) this.deps.presence?.touch(this).catch((err: unknown) => this.deps.logger.warn({ err }, "presence heartbeat failed"));
    if (this.opts.clientHeartbeats && now - this.lastSeenMs > 2 * this.deps.limits.heartbeatMs) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, "no frame from the client for two heartbeat intervals");
    } else if (this.opts.serverPongs) {
      this.push(serverFrame(0n, { case: "pong", value: { nonce: 0n } }));
    }
  }

  /** Frames with id 0 are fire-and-forget: their replies are dropped. */
  private reply(replyTo: bigint, frame: ServerFrame): void {
    if (replyTo !== 0n) this.push(frame);
  }

  private push(frame: ServerFrame): void {
    if (this.state === "closed") return;
    this.pending.push(frame);
    if (this.pending.length > this.deps.limits.maxQueuedFrames || this.sink.congested()) {
      this.pending = [];
      this.close(CloseCode.SLOW_CONSUMER, "the outbound queue overflowed; reconnect and resume", this.deps.limits.retryAfterMs);
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      scheduleFlush(this);
    }
  }

  /** Writes the frames queued since the last flush as one batch (called by the shared flush of every session). */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.sink.write(batch);
  }
}
