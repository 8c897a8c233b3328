import { fromBinary } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ReadState, Receipt } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import {
  ClientFrameSchema,
  CloseCode,
  type BlockChanged,
  type ClientFrame,
  type KeysChanged,
  type PreKeysLow,
  type Presence,
  type Resume,
  type ServerFrame,
  type Typing,
} from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { newId } from "@caas/shared/ids";
import type { RevocationChecker } from "@caas/shared/identity/revocations";
import { CatchUp } from "./catch-up.js";
import { listMemberships } from "./chat-calls.js";
import { tooManyConnections, type HeldPlace } from "./connection-places.js";
import { dispatchFrame, SendsInFlight } from "./frame-dispatch.js";
import { closingFrame, errorFrame, exhausted, failure, serverFrame } from "./frames.js";
import type { Recipient } from "./hub.js";
import { Outbox } from "./outbox.js";
import { SessionTimers } from "./session-timers.js";
import { authOkFrame, checkToken, type SessionIdentity } from "./session-auth.js";
import type { FrameSink, SessionDeps, SessionOptions } from "./session-types.js";

export type { SessionIdentity } from "./session-auth.js";
export { INFLIGHT_RETRY_MS, type FrameSink, type SessionDeps, type SessionLimits, type SessionOptions } from "./session-types.js";
export { LocalConnectionSlots } from "./connection-places.js";
export { MAX_FOLLOWED } from "./presence-following.js";

type State = "new" | "authenticating" | "open" | "closed";

/** Frames pipelined behind Auth are held at most this many, then the client broke the protocol. */
const MAX_EARLY_FRAMES = 32;

/**
 * One client connection, whatever its transport: authentication, frame handling (frame-dispatch),
 * live delivery with coalesced writes (the instance's flush scheduler) into a bounded outbox,
 * resume and checkpoints (catch-up), and the closing handshake.
 */
export class Session implements Recipient {
  readonly id = newId();
  private state: State = "new";
  private identity?: SessionIdentity;
  private readonly outbox: Outbox;
  private readonly catchUp: CatchUp;
  /** Frames pipelined behind Auth, held until AuthOk (made only when one arrives). */
  private early?: ClientFrame[];
  /** Subscribe's conversation_ids, when restricted to them. */
  filter?: ReadonlySet<string>;
  /** The auth timeout, token expiry, heartbeat and checkpoint clocks. */
  readonly timers: SessionTimers;
  private reauthing = false;
  private typingAttached = false;
  private presenceOnline = false;
  /** Where this session holds one of its user's connection places. */
  private place: HeldPlace = "none";
  /** Sends of this connection outstanding at chat. */
  readonly sends = new SendsInFlight();

  constructor(
    private readonly sink: FrameSink,
    readonly deps: SessionDeps,
    private readonly opts: SessionOptions,
  ) {
    this.timers = new SessionTimers(this, deps.limits, deps.clock, opts, deps.wheels);
    this.outbox = new Outbox(sink, deps.flush, deps.limits.maxQueuedFrames);
    this.catchUp = new CatchUp(this, deps);
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
    this.timers.heard();
    if (this.state === "new") {
      if (frame.frame.case === "auth") void this.authenticate(frame.frame.value.accessToken, frame.id);
      else this.protocolError(frame.id, "the first frame must be auth");
      return;
    }
    if (this.state === "authenticating") {
      if (frame.frame.case === "auth" || (this.early?.length ?? 0) >= MAX_EARLY_FRAMES) this.protocolError(frame.id, "frames sent while authenticating exceed the limit or repeat auth");
      else (this.early ??= []).push(frame);
      return;
    }
    dispatchFrame(this, frame);
  }

  /**
   * Verifies the access token and loads the user's memberships; then AuthOk (reply_to `replyTo`)
   * and live events. A bad token gets a FrameError and Closing AUTH_FAILED (TOKEN_EXPIRED,
   * REVOKED when that is why). Resolves to whether the session is open.
   */
  async authenticate(accessToken: string, replyTo: bigint): Promise<boolean> {
    if (this.state !== "new") return false;
    this.state = "authenticating";
    this.timers.authArrived();
    const gate = this.deps.authGate;
    if (!gate) return this.authenticateNow(accessToken, replyTo);
    if (!(await gate.enter())) {
      const retryAfterMs = gate.retryAfterMs();
      const message = "the server is authenticating too many connections; reconnect after retry_after";
      this.reply(replyTo, serverFrame(replyTo, { case: "error", value: { code: Code.Unavailable, message, retryAfter: durationFromMs(retryAfterMs) } }));
      this.close(CloseCode.INTERNAL_ERROR, message, retryAfterMs);
      return false;
    }
    try {
      // Closed while it waited (auth timeout, the client left): nothing to do.
      return this.state === "authenticating" ? await this.authenticateNow(accessToken, replyTo) : false;
    } finally {
      gate.leave();
    }
  }

  private async authenticateNow(accessToken: string, replyTo: bigint): Promise<boolean> {
    const { verifier, revocations, hub, chat } = this.deps;
    const checked = await checkToken(verifier, revocations, accessToken, replyTo);
    if (!checked.ok) {
      this.reply(replyTo, checked.error);
      this.close(checked.close, checked.reason);
      return false;
    }
    if (this.state !== "authenticating") return false;
    this.identity = checked.identity;
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
      await this.deps.typing.attach(checked.identity).catch((err: unknown) => this.deps.logger.warn({ err }, "typing subscription failed"));
      if (this.state !== "authenticating") return false;
    }
    if (this.deps.presence) {
      this.presenceOnline = true;
      await this.deps.presence.online(this).catch((err: unknown) => this.deps.logger.warn({ err }, "presence registration failed"));
      if (this.state !== "authenticating") return false;
    }
    this.state = "open";
    this.catchUp.opened();
    this.push(authOkFrame(replyTo, checked.identity, this.id, this.deps.limits));
    this.timers.opened(checked.identity.acceptedUntilMs);
    const early = this.early;
    this.early = undefined;
    for (const f of early ?? []) dispatchFrame(this, f);
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
    const refuse = (frame: ServerFrame, code: CloseCode, reason: string): ServerFrame => {
      this.reply(replyTo, frame);
      this.close(code, reason);
      return frame;
    };
    if (this.reauthing) {
      const busy = failure(replyTo, Code.FailedPrecondition, "a reauth is already running on this connection");
      this.reply(replyTo, busy);
      return busy;
    }
    this.reauthing = true;
    try {
      const checked = await checkToken(this.deps.verifier, this.deps.revocations, accessToken, replyTo);
      if (!checked.ok) return refuse(checked.error, checked.close, checked.reason);
      const next = checked.identity;
      if (next.tenantId !== current.tenantId || next.userId !== current.userId || next.sessionId !== current.sessionId) {
        const message = "the reauth token belongs to another user or session";
        return refuse(failure(replyTo, Code.PermissionDenied, message), CloseCode.AUTH_FAILED, message);
      }
      if (this.state !== "open") return failure(replyTo, Code.FailedPrecondition, "the connection closed during reauth");
      this.identity = next;
      this.timers.armExpiry(next.acceptedUntilMs);
      const ok = authOkFrame(replyTo, next, this.id, this.deps.limits);
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
    this.catchUp.live(event);
  }

  /** Resume from a cursor (see CatchUp.resume). */
  resume(replyTo: bigint, resume: Resume): Promise<void> {
    return this.catchUp.resume(replyTo, resume);
  }

  /** Pushes a Checkpoint when one is due and safe (see CatchUp.checkpoint). */
  checkpoint(): Promise<void> {
    return this.catchUp.checkpoint();
  }

  /** The user's own read state moved (from the user-state feed). */
  deliverReadState(state: ReadState): void {
    this.pushFor(state.conversationId, serverFrame(0n, { case: "readState", value: state }));
  }

  /** Another member's markers moved where receipts are shared (from the user-state feed). */
  deliverReceipt(receipt: Receipt): void {
    this.pushFor(receipt.conversationId, serverFrame(0n, { case: "receipt", value: receipt }));
  }

  /** A typing indicator of another member (from the typing relay). */
  deliverTyping(typing: Typing): void {
    this.pushFor(typing.conversationId, serverFrame(0n, { case: "typing", value: typing }));
  }

  /** The user's block list changed (from the user-state feed); not limited by a conversation filter. */
  deliverBlockChanged(change: BlockChanged): void {
    this.pushFor(undefined, serverFrame(0n, { case: "blockChanged", value: change }));
  }

  /** One of the user's devices runs low on one-time prekeys (from the user-state feed); not limited by a conversation filter. */
  deliverPreKeysLow(notice: PreKeysLow): void {
    this.pushFor(undefined, serverFrame(0n, { case: "prekeysLow", value: notice }));
  }

  /** A device list changed of a user who shares a conversation with this one, or of this user (from the user-state feed); not limited by a conversation filter. */
  deliverKeysChanged(notice: KeysChanged): void {
    this.pushFor(undefined, serverFrame(0n, { case: "keysChanged", value: notice }));
  }

  /** A followed user's presence (from the presence tracker). */
  deliverPresence(presence: Presence): void {
    this.pushFor(undefined, serverFrame(0n, { case: "presence", value: presence }));
  }

  /**
   * A frame larger than max_frame_bytes arrived (its size as the transport measured it): Closing
   * FRAME_TOO_LARGE (frame.proto: such frames close the connection).
   */
  frameTooLarge(bytes: number): void {
    this.close(CloseCode.FRAME_TOO_LARGE, `a frame of ${bytes} bytes exceeds max_frame_bytes (${this.deps.limits.maxFrameBytes})`);
  }

  /** The client broke the protocol: FrameError INVALID_ARGUMENT (when asked for), then Closing PROTOCOL_ERROR. */
  protocolError(replyTo: bigint, message: string): void {
    this.reply(replyTo, failure(replyTo, Code.InvalidArgument, message));
    this.close(CloseCode.PROTOCOL_ERROR, message);
  }

  /** Sends Closing, ends the transport and leaves the fan-out index. */
  close(code: CloseCode, reason: string, retryAfterMs?: number): void {
    if (this.state === "closed") return;
    this.outbox.writeNow(closingFrame(code, reason, retryAfterMs));
    this.end();
    this.sink.end(code, reason);
  }

  /** The transport went away: leave without writing anything. */
  detach(): void {
    if (this.state === "closed") return;
    this.outbox.clear();
    this.end();
  }

  /** Frames with id 0 are fire-and-forget: their replies are dropped. */
  reply(replyTo: bigint, frame: ServerFrame): void {
    if (replyTo !== 0n) this.push(frame);
  }

  /** Queues a frame for the next flush; past the bound the session closes with SLOW_CONSUMER. */
  push(frame: ServerFrame): void {
    if (this.state === "closed") return;
    if (!this.outbox.add(frame)) this.close(CloseCode.SLOW_CONSUMER, "the outbound queue overflowed; reconnect and resume", this.deps.limits.retryAfterMs);
  }

  /** Pushes a frame of an open session, unless it concerns a conversation outside the filter. */
  private pushFor(conversationId: string | undefined, frame: ServerFrame): void {
    if (this.state !== "open" || (conversationId !== undefined && this.filter && !this.filter.has(conversationId))) return;
    this.push(frame);
  }

  private end(): void {
    this.state = "closed";
    this.sends.abandon();
    this.timers.stop();
    this.deps.hub.leave(this);
    const place = this.place;
    this.place = "none";
    this.deps.places.give(this, place, this.presenceOnline);
    if (this.typingAttached) this.deps.typing?.detach(this.identity!);
    this.typingAttached = false;
    if (this.presenceOnline) this.deps.presence?.offline(this).catch((err: unknown) => this.deps.logger.warn({ err }, "presence removal failed"));
    this.presenceOnline = false;
    this.deps.onEnd(this);
  }

  /**
   * Connections per user: takes one of the user's places before anything else awaits (see
   * ConnectionPlaces); given back when the session ends, however it ends. Over the bound:
   * FrameError RESOURCE_EXHAUSTED and Closing TOO_MANY_CONNECTIONS with retry_after. Resolves
   * true when the session must not go on (refused, or closed meanwhile).
   */
  private async takeConnectionPlace(replyTo: bigint): Promise<boolean> {
    const max = this.deps.limits.maxConnectionsPerUser;
    if (max === undefined) return false;
    const got = await this.deps.places.take(this, max);
    if (got !== "refused") {
      this.place = got;
      if (this.state === "authenticating") return false;
      // Closed while the place was being taken: end() found none to give back, so give it here.
      this.place = "none";
      this.deps.places.give(this, got, this.presenceOnline);
      return true;
    }
    const { message, retryAfterMs } = tooManyConnections(max, this.deps.limits.retryAfterMs);
    this.reply(replyTo, exhausted(replyTo, message, retryAfterMs));
    this.close(CloseCode.TOO_MANY_CONNECTIONS, message, retryAfterMs);
    return true;
  }

  /** A heartbeat interval of an open session passed (SessionTimers): presence stays fresh; Subscribe streams get a Pong. */
  beat(): void {
    if (this.presenceOnline) this.deps.presence?.touch(this).catch((err: unknown) => this.deps.logger.warn({ err }, "presence heartbeat failed"));
    if (this.opts.serverPongs) this.push(serverFrame(0n, { case: "pong", value: { nonce: 0n } }));
  }
}
