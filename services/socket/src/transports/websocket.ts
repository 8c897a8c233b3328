import type http from "node:http";
import type { Duplex } from "node:stream";
import { toBinary } from "@bufbuild/protobuf";
import { WebSocketServer, type WebSocket } from "ws";
import { ServerFrameSchema, type CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { Logger } from "@caas/shared";
import type { FrameSink, Session } from "../session.js";
import { shortReason, wsCloseStatus } from "../frames.js";

/**
 * Encoded pushed event frames, by the event they carry. The hub hands one Event object to every
 * recipient session; its frame bytes are the same for all of them (reply_to 0), so a fan-out to
 * N connections encodes once, not N times. Events are never mutated after dispatch.
 */
const pushedEvents = new WeakMap<object, Uint8Array>();

/** A ServerFrame's wire bytes; pushed event frames are encoded once per event. */
export function encodeFrame(f: ServerFrame): Uint8Array {
  if (f.replyTo !== 0n || f.frame.case !== "event") return toBinary(ServerFrameSchema, f);
  let bytes = pushedEvents.get(f.frame.value);
  if (!bytes) {
    bytes = toBinary(ServerFrameSchema, f);
    pushedEvents.set(f.frame.value, bytes);
  }
  return bytes;
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
  logger: Logger;
}

/** The /ws endpoint: the service host hands it HTTP/1.1 upgrades. */
export interface WebSocketEndpoint {
  onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

/**
 * Binary WebSocket frames at /ws, one ClientFrame or ServerFrame per message. Each tick's frames
 * for a connection go out corked into one socket write. Text messages and undecodable bytes
 * close with 4010 (PROTOCOL_ERROR), a message over max_frame_bytes with 4006 (FRAME_TOO_LARGE);
 * other close codes are 4000 + CloseCode.
 */
export function createWebSocketEndpoint(opts: WebSocketEndpointOptions): WebSocketEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false, clientTracking: true });

  function attach(ws: WebSocket, socket: Duplex): void {
    const sink: FrameSink = {
      write(frames: ServerFrame[]) {
        if (ws.readyState !== ws.OPEN) return;
        socket.cork();
        for (const f of frames) ws.send(encodeFrame(f));
        socket.uncork();
      },
      congested: () => ws.bufferedAmount > opts.maxBufferedBytes,
      end(code: CloseCode, reason: string) {
        if (ws.readyState === ws.OPEN) ws.close(wsCloseStatus(code), shortReason(reason));
        setTimeout(() => ws.terminate(), 5_000).unref();
      },
    };
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
    ws.on("error", (err) => opts.logger.debug({ err: err.message }, "websocket error"));
  }

  return {
    onUpgrade(req, socket, head) {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== WS_PATH) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => attach(ws, socket));
    },
    close: () => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close(() => resolve());
    }),
  };
}
