import http2 from "node:http2";
import net from "node:net";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { startServiceHost, type RunningService } from "../../src/server/service-host.js";

/** A service host with no services of its own (health and reflection only), on `env`'s connection limits. */
export async function probeHost(env: Record<string, string>): Promise<RunningService> {
  const config = loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "200", ...env });
  const logger = createLogger({ service: "probe", instance: "t", level: "silent" });
  return startServiceHost({ definition: { name: "probe", services: [], register: () => {} }, config, logger, port: 0 });
}

/** A raw TCP connection to `url`'s port: what it read and how long after connecting it closed. */
export async function rawConnection(url: string): Promise<{ socket: net.Socket; read(): string; closed: Promise<number> }> {
  const started = Date.now();
  const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  await new Promise((resolve) => socket.once("connect", resolve));
  return { socket, read: () => Buffer.concat(chunks).toString("latin1"), closed };
}

/** Writes `text` one byte every `everyMs` until the socket closes or the text is done. */
export async function trickle(socket: net.Socket, text: string | Buffer, everyMs: number): Promise<void> {
  const bytes = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  for (let i = 0; i < bytes.length; i++) {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(bytes.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The outcome of one gRPC Health/Check on an HTTP/2 session. */
export interface StreamOutcome {
  status?: string;
  rstCode?: number;
}

/** One gRPC Health/Check with `headers` added; `end: false` leaves the request body open after a partial message. */
export function healthCheck(session: http2.ClientHttp2Session, headers: Record<string, string> = {}, end = true): { stream: http2.ClientHttp2Stream; done: Promise<StreamOutcome> } {
  const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers", ...headers });
  let status: string | undefined;
  stream.on("response", (h) => (status ??= h["grpc-status"] as string | undefined));
  stream.on("trailers", (t: http2.IncomingHttpHeaders) => (status ??= t["grpc-status"] as string | undefined));
  stream.on("data", () => {});
  stream.on("error", () => {});
  const done = new Promise<StreamOutcome>((resolve) => stream.on("close", () => resolve({ status, rstCode: stream.rstCode })));
  // An empty HealthCheckRequest is one gRPC message: flag 0, length 0.
  if (end) stream.end(Buffer.alloc(5));
  else stream.write(Buffer.from([0, 0, 0]));
  return { stream, done };
}

/** A reflection bidi stream (ServerReflectionInfo) left open: a request body that lives as long as the call. */
export function openReflection(session: http2.ClientHttp2Session): { stream: http2.ClientHttp2Stream; closed: Promise<number | undefined> } {
  const stream = session.request({ ":method": "POST", ":path": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "content-type": "application/grpc", te: "trailers" });
  stream.on("data", () => {});
  stream.on("error", () => {});
  const closed = new Promise<number | undefined>((resolve) => stream.on("close", () => resolve(stream.rstCode)));
  return { stream, closed };
}

/** An HTTP/2 frame: 9-byte header and payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/** The client connection preface and an empty SETTINGS frame. */
export const H2_PREFACE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), h2Frame(0x4, 0, 0)]);
