import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CaasError } from "../errors.js";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../gen/caas/realtime/v1/frame_pb.js";

/** The part of the WebSocket API the SDK uses: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Opens a WebSocket to a URL (the browser's `WebSocket`, or `ws` in Node). */
export type WebSocketFactory = (url: string) => WebSocketLike;

/** A client frame's content, without its id. */
export type FrameBody = MessageInitShape<typeof ClientFrameSchema>["frame"];

/** How long a frame waits for its reply before it counts as lost (then retried like a drop). */
const REPLY_TIMEOUT_MS = 15_000;

/**
 * One WebSocket connection speaking the realtime frames: numbered requests matched to their
 * replies, pushed frames handed to `onPush`. It never reconnects; the session does.
 */
export class FrameSocket {
  private nextId = 1n;
  private readonly waiting = new Map<bigint, { resolve(f: ServerFrame): void; reject(e: CaasError): void; timer: ReturnType<typeof setTimeout> }>();
  private ended = false;

  constructor(
    private readonly ws: WebSocketLike,
    private readonly onPush: (f: ServerFrame) => void,
    private readonly onEnd: (code: number, reason: string) => void,
    onOpen: () => void,
  ) {
    ws.binaryType = "arraybuffer";
    ws.onopen = () => onOpen();
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.end(ev.code, ev.reason);
    // A failed connection is followed by close; nothing to do here.
    ws.onerror = () => undefined;
  }

  /** Sends a frame without asking for a reply. */
  post(frame: FrameBody): void {
    if (this.ended) return;
    this.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 0n, frame })));
  }

  /** Sends a frame and resolves with its reply; a FrameError reply rejects as a CaasError. */
  call(frame: FrameBody): Promise<ServerFrame> {
    if (this.ended) return Promise.reject(new CaasError("not connected", Code.Unavailable));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new CaasError("no reply from the server in time", Code.DeadlineExceeded));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      this.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, frame })));
    });
  }

  /**
   * Ends the connection now, without waiting for the close handshake (a network that went away
   * may never complete it); `onEnd` runs at once.
   */
  drop(code: number, reason: string): void {
    if (this.ended) return;
    try {
      this.ws.close(1000, reason);
    } catch {
      // Already closing or never opened.
    }
    this.end(code, reason);
  }

  private receive(data: unknown): void {
    if (this.ended) return;
    const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
    if (!bytes) return;
    const frame = fromBinary(ServerFrameSchema, bytes);
    const w = frame.replyTo !== 0n ? this.waiting.get(frame.replyTo) : undefined;
    // Resume answers with `changes` frames before its ResumeDone: those are pushes too.
    if (w && frame.frame.case !== "changes") {
      this.waiting.delete(frame.replyTo);
      clearTimeout(w.timer);
      if (frame.frame.case === "error") w.reject(CaasError.fromFrame(frame.frame.value));
      else w.resolve(frame);
      if (frame.frame.case === "resumeDone" || frame.frame.case === "readState") this.onPush(frame);
      return;
    }
    this.onPush(frame);
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new CaasError(`connection closed (${code}${reason ? ` ${reason}` : ""})`, Code.Unavailable));
    }
    this.waiting.clear();
    this.onEnd(code, reason);
  }
}
