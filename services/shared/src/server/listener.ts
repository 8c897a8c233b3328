import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface DualListenerOptions {
  host: string;
  /** 0 picks a free port; read the bound port from `port` after `listen`. */
  port: number;
  handler: Handler;
  /** Gets HTTP/1.1 upgrade requests (WebSocket at /ws); without it upgrades are refused. */
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * One TCP port serving HTTP/2 (prior knowledge, h2c: gRPC, Connect, gRPC-web) and HTTP/1.1
 * (Connect and gRPC-web from browsers, plain GET /health, WebSocket upgrades) with one handler.
 *
 * It reads the first bytes of each connection: the HTTP/2 client preface starts with "PRI".
 * HTTP/1 sockets are handed to an http.Server after `unshift`ing the bytes. Node's http2 reads the
 * socket's native handle and would never see unshifted bytes, so HTTP/2 connections get a small
 * JS Duplex relay that replays the first chunk (STACK-NOTES "Connect on Node").
 */
export class DualListener {
  readonly h1: http.Server;
  readonly h2: http2.Http2Server;
  private readonly tcp: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.Http2Session>();
  /** TCP sockets under an HTTP/2 session: destroyed once their session has closed. */
  private readonly h2Sockets = new Set<net.Socket>();
  private accepting = true;
  private boundPort = 0;

  constructor(private readonly opts: DualListenerOptions) {
    this.h1 = http.createServer({ keepAliveTimeout: 65_000 }, opts.handler as http.RequestListener);
    const h2Handler = opts.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
    this.h2 = http2.createServer({}, (req, res) => {
      // Registered after the compatibility layer's own listener, so it runs once the trailers are submitted.
      req.stream.once("wantTrailers", () => stopUnreadRequest(req.stream));
      h2Handler(req, res);
    });
    this.h2.on("session", (s) => {
      this.sessions.add(s);
      if (!this.accepting) s.close();
      s.on("close", () => {
        this.sessions.delete(s);
        if (!this.accepting && this.sessions.size === 0) for (const sock of this.h2Sockets) sock.destroy();
      });
    });
    this.h1.on("upgrade", (req, socket, head) => {
      if (opts.onUpgrade) opts.onUpgrade(req, socket, head);
      else socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    });
    this.tcp = net.createServer({ noDelay: true }, (socket) => this.route(socket));
  }

  private route(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < 3) return;
      socket.off("data", onData);
      socket.pause();
      if (buffered.subarray(0, 3).toString("latin1") === "PRI") {
        this.h2Sockets.add(socket);
        socket.on("close", () => this.h2Sockets.delete(socket));
        this.h2.emit("connection", relay(socket, buffered));
      } else {
        socket.unshift(buffered);
        this.h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once("error", reject);
      this.tcp.listen(this.opts.port, this.opts.host, () => {
        this.tcp.off("error", reject);
        resolve();
      });
    });
    // The HTTP/1 server never listens itself; its connection tracking (idle detection for
    // closeIdleConnections, headersTimeout/requestTimeout against slow clients) starts on
    // "listening", so give it that event.
    this.h1.emit("listening");
    const addr = this.tcp.address();
    this.boundPort = typeof addr === "object" && addr ? addr.port : 0;
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /**
   * Stops accepting connections and asks clients to go away: HTTP/2 sessions get GOAWAY (their
   * in-flight streams may finish), idle HTTP/1 keep-alive sockets are closed, busy ones are
   * closed as soon as their response is done. Resolves when every connection is gone or after
   * `graceMs`, when whatever is left is destroyed.
   */
  async close(graceMs: number): Promise<void> {
    this.accepting = false;
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const s of this.sessions) s.close();
    if (this.sessions.size === 0) for (const sock of this.h2Sockets) sock.destroy();
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      this.h1.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    // Stops the HTTP/1 server's connection-checking timer (it reports "not running": ignore).
    this.h1.close(() => {});
    await closed;
  }
}

/**
 * Once a response is complete while the client is still sending its request (a message refused
 * as too large, an RPC that failed before reading all its input), asks the client to stop with
 * RST_STREAM NO_ERROR, as RFC 9113 section 8.1 allows. Node does this itself only when the handler
 * never started reading the body; connect reads up to the limit first, so without this the stream
 * stayed half-open: the rest of the body was never acknowledged with WINDOW_UPDATEs, the client
 * waited on flow control for ever and kept the whole message buffered (a Node client over its
 * 10 MB session memory then refuses every later stream of the connection with ENHANCE_YOUR_CALM).
 * The RST_STREAM is sent after the trailers already submitted (Node flushes pending frames first).
 */
function stopUnreadRequest(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed || stream.closed || stream.state.remoteClose) return;
  stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

/** A Duplex over `socket` that first yields `first`, then whatever the socket reads. */
function relay(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  duplex.push(first);
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  socket.on("error", (e) => duplex.destroy(e));
  // http2 looks at these to decide on timeouts and keep-alive; keep them truthful.
  Object.assign(duplex, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    setNoDelay: () => duplex,
    setKeepAlive: () => duplex,
    setTimeout: (ms: number, cb?: () => void) => {
      socket.setTimeout(ms, cb);
      return duplex;
    },
  });
  return duplex;
}
