import type http from "node:http";
import type { Duplex } from "node:stream";
import { toBinary } from "@bufbuild/protobuf";
import { WebSocketServer, type WebSocket } from "ws";
import { ServerFrameSchema, type CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Logger } from "@caas/shared/logger";
import type { OriginAllowlist } from "@caas/shared/server/origin";
import type { FrameSink, Session } from "../session.js";
import { shortReason, wsCloseStatus } from "../frames.js";

/**
 * One unfragmented, unmasked binary WebSocket message (RFC 6455 section 5.2: FIN, opcode 2, the
 * payload length in 7, 16 or 64 bits), header and payload in one buffer. A server's frames are
 * never masked, so a message's bytes are the same on every connection.
 */
export function wsBinaryMessage(payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x82;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  out.set(payload, head);
  return out;
}

/**
 * Pushed event frames as whole WebSocket messages, by the event they carry. The hub hands one
 * Event object to every recipient session and the frame (reply_to 0) is the same for all of them,
 * so a fan-out to N connections encodes and frames once, not N times. Events are never mutated
 * after dispatch.
 */
const pushedMessages = new WeakMap<object, Buffer>();
/** The last pushed frame framed: a flush writes one event's frame to many connections in a row, so most lookups are this pointer compare. */
let lastPushed: ServerFrame | undefined;
let lastBytes: Buffer | undefined;

/** A ServerFrame as one WebSocket message's bytes; a pushed event's message is built once per event. */
export function wsFrameMessage(f: ServerFrame): Buffer {
  if (f === lastPushed) return lastBytes!;
  if (f.replyTo !== 0n || f.frame.case !== "event") return wsBinaryMessage(toBinary(ServerFrameSchema, f));
  let bytes = pushedMessages.get(f.frame.value);
  if (!bytes) {
    bytes = wsBinaryMessage(toBinary(ServerFrameSchema, f));
    pushedMessages.set(f.frame.value, bytes);
  }
  lastPushed = f;
  lastBytes = bytes;
  return bytes;
}

/**
 * A flush's frames as one socket write of whole WebSocket messages, built here rather than by
 * ws.send (which writes header and payload separately per message): with perMessageDeflate off
 * ws's sender never queues, so writes on the socket keep their order with the control frames ws
 * writes itself (pong, close), and ws.bufferedAmount (the slow-consumer bound) still counts these
 * bytes. A class rather than closures per connection: memory per idle connection.
 */
class WebSocketSink implements FrameSink {
  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly maxBufferedBytes: number,
  ) {}

  write(frames: ServerFrame[]): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (frames.length === 1) this.socket.write(wsFrameMessage(frames[0]!));
    else this.socket.write(Buffer.concat(frames.map(wsFrameMessage)));
  }

  congested(): boolean {
    return this.ws.bufferedAmount > this.maxBufferedBytes;
  }

  end(code: CloseCode, reason: string): void {
    const ws = this.ws;
    if (ws.readyState === ws.OPEN) ws.close(wsCloseStatus(code), shortReason(reason));
    setTimeout(() => ws.terminate(), 5_000).unref();
  }
}

/** The WebSocket path on the socket service's port. */
export const WS_PATH = "/ws";

/** How the WebSocket endpoint is bounded and where its sessions come from. */
export interface WebSocketEndpointOptions {
  /** Largest ClientFrame (AuthOk.max_frame_bytes): a bigger message closes with 4006 FRAME_TOO_LARGE. */
  maxFrameBytes: number;
  /** ws maxPayload (above maxFrameBytes): a message bigger still is cut off by ws with 1009 (RFC 6455 "message too big"). */
  maxPayload: number;
  /** Bytes the socket may hold unsent before the session counts as a slow consumer. */
  maxBufferedBytes: number;
  newSession(sink: FrameSink): Session;
  /** Browsers whose Origin is not admitted are refused with 403 before the handshake; clients without Origin pass. */
  origins: OriginAllowlist;
  logger: Logger;
}

/** The /ws endpoint: the service host hands it HTTP/1.1 upgrades. */
export interface WebSocketEndpoint {
  onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

/**
 * Binary WebSocket frames at /ws, one ClientFrame or ServerFrame per message. Each flush's frames
 * for a connection go out as one socket write. Text messages and undecodable bytes
 * close with 4010 (PROTOCOL_ERROR), a message over max_frame_bytes with 4006 (FRAME_TOO_LARGE);
 * other close codes are 4000 + CloseCode.
 */
export function createWebSocketEndpoint(opts: WebSocketEndpointOptions): WebSocketEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false, clientTracking: true });

  // One listener for every connection (it needs nothing of the connection).
  const onError = (err: Error) => opts.logger.debug({ err: err.message }, "websocket error");

  function attach(ws: WebSocket, socket: Duplex): void {
    const sink = new WebSocketSink(ws, socket, opts.maxBufferedBytes);
    const session = opts.newSession(sink);
    ws.on("message", (data, isBinary) => {
      if (!isBinary) {
        session.protocolError(0n, "text messages are not accepted: send binary ClientFrames");
        return;
      }
      const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      if (bytes.byteLength > opts.maxFrameBytes) session.frameTooLarge(bytes.byteLength);
      else session.receiveBytes(bytes);
    });
    ws.on("close", () => session.detach());
    ws.on("error", onError);
  }

  return {
    onUpgrade(req, socket, head) {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== WS_PATH) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      // The same allowlist as the gateway's: a page refused there must not reach the socket
      // service's own port either (the gateway relays the browser's Origin and Host unchanged).
      const origin = req.headers.origin;
      if (!opts.origins.admits(origin, req.headers.host)) {
        opts.logger.info({ origin }, "/ws refused: origin not allowed");
        socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => attach(ws, socket));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
