import { EventEmitter, once } from "node:events";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import WebSocket from "ws";
import { bearer } from "../support/tenants.js";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { ConnectRequestSchema, ConnectResponseSchema, RealtimeService, type ConnectRequest, type ConnectResponse } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";

/** A ClientFrame as written by tests. */
export type FrameInit = MessageInitShape<typeof ClientFrameSchema>;

export { bearer, tenantWithUsers } from "../support/tenants.js";

/** One realtime connection as a test sees it: what arrived, how to send, how it ended. */
export class RealtimeConnection {
  readonly frames: ServerFrame[] = [];
  closed?: { code: number | string; reason: string };
  private readonly events = new EventEmitter();

  constructor(
    readonly label: string,
    private readonly sender: (frame: FrameInit) => void,
    private readonly closer: () => void,
  ) {
    this.events.setMaxListeners(100);
  }

  /** Records an incoming frame (called by the transport). */
  receive(frame: ServerFrame): void {
    this.frames.push(frame);
    this.events.emit("frame");
  }

  /** Records the end of the connection (called by the transport). */
  end(code: number | string, reason: string): void {
    this.closed ??= { code, reason };
    this.events.emit("frame");
  }

  send(frame: FrameInit): void {
    this.sender(frame);
  }

  close(): void {
    this.closer();
  }

  /** The first frame (already received or arriving within `ms`) matching `pred`. */
  async waitFor(pred: (f: ServerFrame) => boolean, ms = 10_000, what = "a matching frame"): Promise<ServerFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`${this.label}: closed (${this.closed.code} ${this.closed.reason}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${ms} ms`);
      await Promise.race([once(this.events, "frame"), new Promise((r) => setTimeout(r, left))]);
    }
  }

  /** Resolves when the connection has ended. */
  async waitClosed(ms = 10_000): Promise<{ code: number | string; reason: string }> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: still open after ${ms} ms`);
      await Promise.race([once(this.events, "frame"), new Promise((r) => setTimeout(r, left))]);
    }
    return this.closed;
  }

  /** Sends `frame` and waits for its reply (reply_to = frame.id). */
  async call(frame: FrameInit, ms = 10_000): Promise<ServerFrame> {
    this.send(frame);
    return this.waitFor((f) => f.replyTo === BigInt(frame.id ?? 0), ms, `reply to ${frame.id}`);
  }
}

/**
 * A WebSocket client at /ws (binary frames); resolves once the socket is open. `origin` sends an
 * Origin header as a browser page on that origin would.
 */
export async function wsConnection(
  baseUrl: string,
  label = "ws",
  opts: { origin?: string } = {},
): Promise<RealtimeConnection & { raw(bytes: Uint8Array | string): void; burst(frames: FrameInit[]): void }> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws`, opts.origin !== undefined ? { origin: opts.origin } : {});
  const conn = new RealtimeConnection(
    label,
    (f) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, f))),
    () => ws.close(),
  ) as RealtimeConnection & { raw(bytes: Uint8Array | string): void; burst(frames: FrameInit[]): void };
  conn.raw = (bytes) => ws.send(bytes);
  /** Sends the frames as one TCP write (corked), so the server reads them together. */
  conn.burst = (frames) => {
    const socket = (ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (const f of frames) ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, f)));
    process.nextTick(() => socket.uncork());
  };
  ws.on("message", (data: Buffer) => conn.receive(fromBinary(ServerFrameSchema, data)));
  ws.on("close", (code, reason) => conn.end(code, reason.toString()));
  ws.on("error", () => undefined);
  await once(ws, "open");
  return conn;
}

/** A gRPC bidi RealtimeService.Connect stream on @grpc/grpc-js, optionally with a bearer header. */
export function grpcConnection(baseUrl: string, token?: string, label = "grpc"): RealtimeConnection {
  const client = new grpc.Client(baseUrl.replace(/^http:\/\//, ""), grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token) md.set("authorization", `Bearer ${token}`);
  const call = client.makeBidiStreamRequest<ConnectRequest, ConnectResponse>(
    "/caas.realtime.v1.RealtimeService/Connect",
    (m) => Buffer.from(toBinary(ConnectRequestSchema, m)),
    (b) => fromBinary(ConnectResponseSchema, b),
    md,
  );
  const conn = new RealtimeConnection(
    label,
    (f) => call.write(create(ConnectRequestSchema, { frame: f })),
    () => {
      call.cancel();
      client.close();
    },
  );
  call.on("data", (r: ConnectResponse) => r.frame && conn.receive(r.frame));
  call.on("status", (s: grpc.StatusObject) => conn.end(s.code, s.details));
  call.on("error", () => undefined);
  return conn;
}

/** A gRPC-web Subscribe stream (HTTP/1.1) plus its unary Send, for one user's token. */
export function grpcWebConnection(baseUrl: string, token: string, label = "grpc-web"): RealtimeConnection & { rpc: ReturnType<typeof createClient<typeof RealtimeService>> } {
  const rpc = createClient(RealtimeService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(token)] }));
  const abort = new AbortController();
  const conn = new RealtimeConnection(
    label,
    (f) => {
      const connectionId = conn.frames.find((x) => x.frame.case === "authOk")?.frame.value as { connectionId?: string } | undefined;
      rpc.send({ connectionId: connectionId?.connectionId ?? "", frame: f }).then(
        (r) => r.frame && conn.receive(r.frame),
        (err: unknown) =>
          conn.receive(create(ServerFrameSchema, { replyTo: BigInt(f.id ?? 0), frame: { case: "error", value: { code: (err as { code?: number }).code ?? 2, message: String(err) } } })),
      );
    },
    () => abort.abort(),
  ) as RealtimeConnection & { rpc: typeof rpc };
  conn.rpc = rpc;
  void (async () => {
    try {
      for await (const r of rpc.subscribe({}, { signal: abort.signal, timeoutMs: 0 })) if (r.frame) conn.receive(r.frame);
      conn.end("ended", "");
    } catch (err) {
      conn.end((err as { code?: number }).code ?? "error", String(err));
    }
  })();
  return conn;
}
