import type { Client } from "@connectrpc/connect";
import { Emitter } from "../emitter.js";
import { CaasError } from "../errors.js";
import type { ChatService } from "../gen/caas/chat/v1/chat_service_pb.js";
import type { ConversationChanges } from "../gen/caas/chat/v1/changes_pb.js";
import type { Event } from "../gen/caas/chat/v1/event_pb.js";
import type { Receipt, ReadState } from "../gen/caas/chat/v1/read_state_pb.js";
import { CloseCode, type AuthOk, type BlockChanged, type Presence, type SendAck, type ServerFrame, type Typing } from "../gen/caas/realtime/v1/frame_pb.js";
import { jwtExpiry, type TokenKeeper } from "../tokens.js";
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { memoryOutboxStore, Outbox, type OutboxStore, type QueuedSend } from "./outbox.js";
import { Sequencer, type Position } from "./sequencer.js";
import { FrameSocket, type WebSocketFactory } from "./socket.js";
import { randomId, watchNetwork } from "./environment.js";

/** Where the realtime connection stands. */
export type ConnectionState = "idle" | "connecting" | "open" | "waiting" | "closed";

/** The typed events of a realtime session. */
export interface RealtimeEvents {
  state: ConnectionState;
  /** Connected and authenticated (again). */
  open: AuthOk;
  /** A conversation event: once per (conversation, seq), in seq order per conversation. */
  event: Event;
  /** A conversation's catch-up after a (re)connect: its summary and read state. */
  changes: ConversationChanges;
  /** The catch-up after a (re)connect is complete; `cursor` covers everything delivered. */
  synced: { cursor: string };
  typing: Typing;
  presence: Presence;
  receipt: Receipt;
  readState: ReadState;
  blockChanged: BlockChanged;
  /** A queued send was committed (also when a retry found it already committed). */
  sent: { item: QueuedSend; ack: SendAck };
  /** A queued send was refused for good (e.g. INVALID_ARGUMENT, PERMISSION_DENIED). */
  sendFailed: { item: QueuedSend; error: CaasError };
  /** A failure the session works around (a Sync that failed, a refused token refresh). */
  error: CaasError;
  /** The session ended for good: stopped, or the server revoked it. */
  closed: { code: number; reason: string };
}

/** Keeps the resume cursor across reconnects (and reloads, with a persistent store). */
export interface CursorStore {
  load(): string | undefined;
  save(cursor: string): void;
}

export interface RealtimeOptions {
  /** The gateway's `/ws` URL (ws:// or wss://). */
  url: string;
  tokens: TokenKeeper;
  chat: Client<typeof ChatService>;
  webSocket: WebSocketFactory;
  outboxStore?: OutboxStore;
  cursorStore?: CursorStore;
  backoff?: BackoffOptions;
}

/** What `send` takes: a message for one conversation. */
export interface SendInput {
  conversationId: string;
  text: string;
  /** Reuse to retry a send made elsewhere; default a fresh random id. */
  clientMessageId?: string;
  mentionedUserIds?: string[];
  replyToMessageId?: string;
  threadParentId?: string;
}

/**
 * A realtime session over WebSocket: authenticates, resumes from the last cursor, delivers every
 * conversation's events once and in order (gaps filled through ChatService.Sync), reconnects with
 * jittered exponential backoff (honouring the server's retry_after and close codes, refreshing
 * the token when it expired), and sends through an offline queue that retries with the same
 * client_message_id until the server answers.
 */
export class RealtimeSession extends Emitter<RealtimeEvents> {
  private socket: FrameSocket | undefined;
  private current: ConnectionState = "idle";
  private attempt = 0;
  private retryAfterMs = 0;
  private refreshFirst = false;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private lastFrameAt = 0;
  private presenceUsers: string[] = [];
  private readonly cursors: CursorStore;
  private readonly outbox: Outbox;
  private readonly sequencer: Sequencer;
  private readonly offNetwork: () => void;

  constructor(private readonly opts: RealtimeOptions) {
    super();
    let cursor: string | undefined;
    this.cursors = opts.cursorStore ?? { load: () => cursor, save: (c) => void (cursor = c) };
    this.sequencer = new Sequencer(
      (e) => this.emit("event", e),
      async (conversationId, afterSeq) => opts.chat.sync({ conversationId, afterSeq, limit: 200 }),
      (_conv, err) => this.emit("error", CaasError.from(err)),
    );
    this.outbox = new Outbox(
      opts.outboxStore ?? memoryOutboxStore(),
      (item, previousAttempts) => this.transmit(item, previousAttempts),
      { sent: (item, ack) => this.emit("sent", { item, ack }), failed: (item, error) => this.emit("sendFailed", { item, error }) },
      () => this.current === "open",
    );
    this.offNetwork = watchNetwork(
      () => this.socket?.drop(1006, "the network went offline"),
      () => {
        if (this.current !== "waiting") return;
        this.attempt = 0;
        this.reconnectNow();
      },
    );
  }

  /** The connection's state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** The cursor the next resume starts from. */
  get cursor(): string | undefined {
    return this.cursors.load();
  }

  /** Connects (and keeps reconnecting) until `stop`. */
  start(): void {
    if (this.current !== "idle") return;
    void this.connect();
  }

  /** Closes the connection and stops reconnecting; the send queue stays in its store. */
  stop(): void {
    if (this.current === "closed") return;
    this.setState("closed");
    clearAll(this.timers);
    this.outbox.close();
    this.offNetwork();
    this.socket?.drop(1000, "stopped");
    this.emit("closed", { code: 1000, reason: "stopped" });
  }

  /**
   * Queues a message. Shows in `pending()` at once (optimistic display); its ack resolves when the
   * server committed it, after any number of reconnects. Never committed twice.
   */
  send(input: SendInput): QueuedSend & { ack: Promise<SendAck> } {
    const item: QueuedSend = {
      clientMessageId: input.clientMessageId ?? randomId(),
      conversationId: input.conversationId,
      text: input.text,
      queuedAt: Date.now(),
      ...(input.mentionedUserIds ? { mentionedUserIds: input.mentionedUserIds } : {}),
      ...(input.replyToMessageId ? { replyToMessageId: input.replyToMessageId } : {}),
      ...(input.threadParentId ? { threadParentId: input.threadParentId } : {}),
    };
    return { ...item, ack: this.outbox.enqueue(item) };
  }

  /** Sends not yet acknowledged, oldest first. */
  pending(): QueuedSend[] {
    return this.outbox.pending();
  }

  /** Shows or hides this user's typing indicator to the others (dropped while disconnected). */
  setTyping(conversationId: string, started: boolean): void {
    if (this.current === "open") this.socket?.post({ case: "typing", value: { conversationId, started } });
  }

  /** Follows these users' presence (kept across reconnects). */
  subscribePresence(userIds: string[]): void {
    this.presenceUsers = [...userIds];
    if (this.current === "open") this.socket?.post({ case: "subscribePresence", value: { userIds } });
  }

  /** Says events up to `seq` of a conversation are known (loaded history): later ones continue from there. */
  seed(conversationId: string, seq: bigint): void {
    this.sequencer.seed(conversationId, seq);
  }

  /** Where the client stands per conversation (what the next Resume sends), most recently advanced first. */
  positions(max?: number): Position[] {
    return this.sequencer.positions(max);
  }

  /** The last seq delivered for a conversation. */
  lastSeq(conversationId: string): bigint | undefined {
    return this.sequencer.lastSeq(conversationId);
  }

  private async transmit(item: QueuedSend, previousAttempts: number): Promise<SendAck> {
    if (!this.socket || this.current !== "open") throw new CaasError("not connected", 14);
    const reply = await this.socket.call({
      case: "send",
      value: {
        conversationId: item.conversationId,
        clientMessageId: item.clientMessageId,
        text: item.text,
        mentionedUserIds: item.mentionedUserIds ?? [],
        replyToMessageId: item.replyToMessageId ?? "",
        threadParentId: item.threadParentId ?? "",
        previousAttempts,
      },
    });
    if (reply.frame.case !== "sendAck") throw new CaasError(`unexpected reply ${reply.frame.case ?? "none"} to a send`, 13);
    return reply.frame.value;
  }

  private async connect(): Promise<void> {
    this.setState("connecting");
    let token: string;
    try {
      token = this.refreshFirst ? await this.opts.tokens.refresh() : await this.opts.tokens.get();
      this.refreshFirst = false;
    } catch (err) {
      this.emit("error", CaasError.from(err));
      this.scheduleReconnect();
      return;
    }
    if (this.current === "closed") return;
    const ws = this.opts.webSocket(this.opts.url);
    const socket: FrameSocket = new FrameSocket(
      ws,
      (f) => this.onPush(f),
      (code, reason) => this.onEnd(socket, code, reason),
      () => {
        socket.call({ case: "auth", value: { accessToken: token } }).then(
          (reply) => reply.frame.case === "authOk" && this.onAuthenticated(socket, reply.frame.value, token),
          (err: unknown) => this.emit("error", CaasError.from(err)),
        );
      },
    );
    this.socket = socket;
  }

  private onAuthenticated(socket: FrameSocket, ok: AuthOk, token: string): void {
    if (socket !== this.socket || this.current === "closed") return;
    this.attempt = 0;
    this.retryAfterMs = 0;
    this.lastFrameAt = Date.now();
    this.setState("open");
    this.emit("open", ok);
    const heartbeatMs = ok.heartbeatInterval ? Number(ok.heartbeatInterval.seconds) * 1000 + ok.heartbeatInterval.nanos / 1e6 : 30_000;
    const beat = () => {
      if (socket !== this.socket) return;
      // Two intervals without a frame: the connection is dead even if the socket has not said so.
      if (Date.now() - this.lastFrameAt > 2 * heartbeatMs) return socket.drop(4011, "no frame from the server");
      socket.post({ case: "ping", value: { nonce: 0n } });
      this.timers.push(setTimeout(beat, heartbeatMs / 2));
    };
    this.timers.push(setTimeout(beat, heartbeatMs / 2));
    this.scheduleReauth(socket, token);
    if (this.presenceUsers.length > 0) socket.post({ case: "subscribePresence", value: { userIds: this.presenceUsers } });
    // Positions say exactly what this client holds, so the catch-up repeats nothing it has.
    socket.call({ case: "resume", value: { cursor: this.cursors.load() ?? "", positions: this.sequencer.positions() } }).catch((err: unknown) => {
      // An expired cursor: start again from scratch (the sequencer still drops repeats).
      this.cursors.save("");
      this.emit("error", CaasError.from(err));
      if (socket === this.socket) socket.drop(4009, "resume failed");
    });
    this.outbox.flush();
  }

  private scheduleReauth(socket: FrameSocket, token: string): void {
    const exp = jwtExpiry(token);
    if (exp === undefined || !this.opts.tokens.canRefresh) return;
    const inMs = Math.max(1000, exp - Date.now() - 30_000);
    this.timers.push(
      setTimeout(() => {
        if (socket !== this.socket) return;
        this.opts.tokens.refresh().then(
          (fresh) =>
            socket.call({ case: "reauth", value: { accessToken: fresh } }).then(
              () => this.scheduleReauth(socket, fresh),
              (err: unknown) => this.emit("error", CaasError.from(err)),
            ),
          (err: unknown) => this.emit("error", CaasError.from(err)),
        );
      }, inMs),
    );
  }

  private onPush(f: ServerFrame): void {
    this.lastFrameAt = Date.now();
    const v = f.frame;
    switch (v.case) {
      case "event":
        return this.sequencer.push(v.value);
      case "changes":
        this.emit("changes", v.value);
        for (const e of v.value.events) this.sequencer.push(e);
        if (v.value.limited) void this.sequencer.catchUp(v.value.conversationId);
        for (const r of v.value.receipts) this.emit("receipt", r);
        if (v.value.readState) this.emit("readState", v.value.readState);
        return;
      case "resumeDone":
        this.cursors.save(v.value.cursor);
        return this.emit("synced", { cursor: v.value.cursor });
      case "checkpoint":
        return this.cursors.save(v.value.cursor);
      case "typing":
        return this.emit("typing", v.value);
      case "presence":
        return this.emit("presence", v.value);
      case "receipt":
        return this.emit("receipt", v.value);
      case "readState":
        return this.emit("readState", v.value);
      case "blockChanged":
        return this.emit("blockChanged", v.value);
      case "closing":
        if (v.value.retryAfter) this.retryAfterMs = Number(v.value.retryAfter.seconds) * 1000 + v.value.retryAfter.nanos / 1e6;
        return;
      default:
        return;
    }
  }

  private onEnd(socket: FrameSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearAll(this.timers);
    if (this.current === "closed") return;
    const closeCode = code >= 4000 && code < 4100 ? code - 4000 : undefined;
    const tokenProblem = closeCode === CloseCode.AUTH_FAILED || closeCode === CloseCode.TOKEN_EXPIRED;
    if (closeCode === CloseCode.REVOKED || (tokenProblem && !this.opts.tokens.canRefresh)) {
      this.setState("closed");
      this.emit("closed", { code, reason });
      return;
    }
    this.refreshFirst = tokenProblem;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.current === "closed") return;
    this.setState("waiting");
    const delay = backoffDelay(this.attempt++, this.opts.backoff, this.retryAfterMs);
    this.retryAfterMs = 0;
    this.timers.push(setTimeout(() => this.reconnectNow(), delay));
  }

  private reconnectNow(): void {
    clearAll(this.timers);
    if (this.current === "waiting") void this.connect();
  }

  private setState(s: ConnectionState): void {
    if (this.current === s) return;
    this.current = s;
    this.emit("state", s);
  }
}

/** Clears every timer in the list and empties it. */
function clearAll(timers: ReturnType<typeof setTimeout>[]): void {
  for (const t of timers) clearTimeout(t);
  timers.length = 0;
}
