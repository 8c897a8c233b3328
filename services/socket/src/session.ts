import { fromBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import {
  ClientFrameSchema,
  CloseCode,
  type ClientFrame,
  type Resume,
  type ServerFrame,
} from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { newId, UnauthenticatedError, UnavailableError, type Clock, type JwtVerifier, type Logger, type RevocationChecker } from "@caas/shared";
import { changesSince, listMemberships, sendThroughChat, type ChatClient } from "./chat-calls.js";
import { closingFrame, errorFrame, failure, isStageB, serverFrame, stageBFrame } from "./frames.js";
import type { Hub, Recipient } from "./hub.js";

/** Where a session's frames go: one WebSocket, gRPC Connect stream or Subscribe stream. */
export interface FrameSink {
  /** Writes frames in order, as one batch (one write per tick on WebSocket). */
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
}

/** What every session shares: the verifier, the chat client, the fan-out index. */
export interface SessionDeps {
  verifier: JwtVerifier;
  revocations?: RevocationChecker;
  chat: ChatClient;
  hub: Hub;
  clock: Clock;
  logger: Logger;
  limits: SessionLimits;
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

/** The verified identity of an authenticated session. */
export interface SessionIdentity {
  tenantId: string;
  userId: string;
  sessionId: string;
  accessToken: string;
  expireMs: number;
}

type State = "new" | "authenticating" | "open" | "closed";

/** Frames pipelined behind Auth are held at most this many, then the client broke the protocol. */
const MAX_EARLY_FRAMES = 32;

/**
 * One client connection, whatever its transport: authentication, frame handling, live delivery
 * with per-tick coalesced writes into a bounded queue, and the closing handshake.
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
    const { verifier, revocations, hub, chat, clock, limits } = this.deps;
    let identity: SessionIdentity;
    try {
      const { claims, kid } = await verifier.verify(accessToken);
      if (revocations?.denies({ tenantId: claims.tenant, userId: claims.sub, sessionId: claims.sid, kid, issuedAtSec: claims.iat })) {
        this.reply(replyTo, failure(replyTo, Code.Unauthenticated, "access token has been revoked"));
        this.close(CloseCode.REVOKED, "the session was revoked");
        return false;
      }
      identity = { tenantId: claims.tenant, userId: claims.sub, sessionId: claims.sid, accessToken, expireMs: claims.exp * 1000 };
    } catch (err) {
      this.reply(replyTo, errorFrame(replyTo, err));
      if (err instanceof UnavailableError) this.close(CloseCode.INTERNAL_ERROR, "token keys are unavailable; retry");
      else if (err instanceof UnauthenticatedError && /expired|"exp"/i.test(err.message)) this.close(CloseCode.TOKEN_EXPIRED, "the access token expired");
      else this.close(CloseCode.AUTH_FAILED, "the access token was refused");
      return false;
    }
    if (this.state !== "authenticating") return false;
    this.identity = identity;
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
    this.state = "open";
    clearTimeout(this.timers.shift());
    this.push(
      serverFrame(replyTo, {
        case: "authOk",
        value: {
          userId: identity.userId,
          sessionId: identity.sessionId,
          connectionId: this.id,
          expireTime: timestampFromMs(identity.expireMs),
          heartbeatInterval: durationFromMs(limits.heartbeatMs),
          maxFrameBytes: limits.maxFrameBytes,
        },
      }),
    );
    this.timers.push(setTimeout(() => this.close(CloseCode.TOKEN_EXPIRED, "the access token expired"), Math.max(0, identity.expireMs - clock.nowMs())));
    this.timers.push(setInterval(() => this.heartbeat(), limits.heartbeatMs));
    for (const t of this.timers) t.unref();
    const early = this.early;
    this.early = [];
    for (const f of early) this.dispatch(f);
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
    this.push(serverFrame(0n, { case: "event", value: event }));
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
    } catch (err) {
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
    for (const t of this.timers) clearTimeout(t);
    this.deps.hub.leave(this);
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
        const who = this.identity!;
        sendThroughChat(this.deps.chat, who.accessToken, id, f.value).then(
          (ack) => this.reply(id, ack),
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
      default:
        if (f.case !== undefined && isStageB(f.case)) this.reply(id, stageBFrame(id, f.case));
        else this.reply(id, failure(id, Code.Unimplemented, "unknown client frame case"));
    }
  }

  /** The client broke the protocol: FrameError INVALID_ARGUMENT (when asked for), then Closing PROTOCOL_ERROR. */
  protocolError(replyTo: bigint, message: string): void {
    this.reply(replyTo, failure(replyTo, Code.InvalidArgument, message));
    this.close(CloseCode.PROTOCOL_ERROR, message);
  }

  private heartbeat(): void {
    const now = this.deps.clock.nowMs();
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
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.sink.write(batch);
  }
}
