import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import type { ConnectionLimits } from "../config-types.js";
import { AddressLimit, clientAddress, refusalBytes } from "./address-limit.js";
import { H2HeaderWatch } from "./h2-header-watch.js";

/** A connection's bytes before any arrived (shared: nothing writes to it). */
const EMPTY = Buffer.alloc(0);

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface DualListenerOptions {
  host: string;
  /** 0 picks a free port; read the bound port from `port` after `listen`. */
  port: number;
  handler: Handler;
  /** Gets HTTP/1.1 upgrade requests (WebSocket at /ws); without it upgrades are refused. */
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Bounds on slow and abusive clients (config.connections); without them Node's defaults apply and nothing is counted per address. */
  limits?: Omit<ConnectionLimits, "wsMaxBufferedBytes">;
  /** Request paths whose body may stay open for as long as the call lives (client- and bidi-streaming RPCs): exempt from the request timeout. */
  streamingPaths?: ReadonlySet<string>;
  /** Told why a connection or stream was cut (slow headers, slow body, over the per-address bound). */
  onRefused?: (what: string, address: string) => void;
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
  private readonly perAddress?: AddressLimit;

  constructor(private readonly opts: DualListenerOptions) {
    const limits = opts.limits;
    this.perAddress = limits ? new AddressLimit(limits.maxConnectionsPerAddress, limits.exemptAddresses) : undefined;
    this.h1 = http.createServer(
      {
        keepAliveTimeout: 65_000,
        ...(limits && {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          maxHeaderSize: limits.maxHeaderBytes,
          // Node checks the two timeouts on this interval (30 s by default), so a bound of a few seconds needs a finer one.
          connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
        }),
      },
      opts.handler as http.RequestListener,
    );
    const h2Handler = opts.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
    const h2Options: http2.ServerOptions = limits ? { settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes } } : {};
    this.h2 = http2.createServer(h2Options, (req, res) => {
      // Registered after the compatibility layer's own listener, so it runs once the trailers are submitted.
      req.stream.once("wantTrailers", () => stopUnreadRequest(req.stream));
      if (limits && !opts.streamingPaths?.has((req.url ?? "").split("?")[0] ?? "")) this.boundRequestBody(req.stream, limits.requestTimeoutMs);
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
    socket.on("error", destroySelf);
    const address = clientAddress(socket);
    const admitted = this.perAddress?.admit(address) ?? true;
    const release = admitted ? this.perAddress : undefined;
    // One close listener for both (a listener, its closure and once()'s wrapper live as long as the connection).
    socket.on("close", () => {
      this.sockets.delete(socket);
      release?.release(address);
    });
    const limits = this.opts.limits;
    // Until the first bytes say which protocol it speaks, a connection is under the header timeout (a refused one under a short one).
    const firstBytesMs = admitted ? limits?.headersTimeoutMs : Math.min(1_000, limits?.headersTimeoutMs ?? 1_000);
    let firstBytesTimer = firstBytesMs === undefined ? undefined : setTimeout(() => socket.destroy(), firstBytesMs).unref();
    let buffered: Buffer = EMPTY;
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < 3) return;
      clearTimeout(firstBytesTimer);
      socket.off("data", onData);
      // The listeners above live as long as the connection and share this function's closure
      // context: let go of the first chunk and the timer so the connection does not keep them.
      const first = buffered;
      buffered = EMPTY;
      firstBytesTimer = undefined;
      socket.pause();
      const isH2 = first.subarray(0, 3).toString("latin1") === "PRI";
      if (!admitted) {
        this.opts.onRefused?.(`over ${this.perAddress?.max} connections from one address`, address);
        socket.end(refusalBytes(isH2, this.perAddress?.max ?? 0));
        setTimeout(() => socket.destroy(), 1_000).unref();
        return;
      }
      if (isH2) {
        this.h2Sockets.add(socket);
        socket.on("close", () => this.h2Sockets.delete(socket));
        const watch = limits
          ? new H2HeaderWatch(limits.headersTimeoutMs, (what) => {
              this.opts.onRefused?.(what, address);
              socket.destroy();
            })
          : undefined;
        if (watch) socket.once("close", () => watch.stop());
        this.h2.emit("connection", relay(socket, first, watch));
      } else {
        socket.unshift(first);
        this.h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once("error", reject);
      const backlog = this.opts.limits?.listenBacklog;
      this.tcp.listen({ port: this.opts.port, host: this.opts.host, ...(backlog !== undefined && { backlog }) }, () => {
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

  /** Connections counted against the per-address bound for `address` (tests and diagnostics). */
  connectionsFrom(address: string): number {
    return this.perAddress?.count(address) ?? 0;
  }

  /**
   * The request side of an HTTP/2 stream must end within `ms` (slowloris sending a body a byte at
   * a time): else the stream alone is reset with CANCEL. Node's http2 has no request timeout, and
   * its idle timeout never fires on a trickle.
   */
  private boundRequestBody(stream: http2.ServerHttp2Stream, ms: number): void {
    if (stream.state.remoteClose) return;
    const timer = setTimeout(() => {
      if (stream.destroyed || stream.closed || stream.state.remoteClose) return;
      const session = stream.session?.socket;
      this.opts.onRefused?.(`request body not complete within ${ms} ms`, session?.remoteAddress ?? "");
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, ms).unref();
    stream.once("close", () => clearTimeout(timer));
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

/** A Duplex over `socket` that first yields `first`, then whatever the socket reads; `watch` sees every byte. */
function relay(socket: net.Socket, first: Buffer, watch?: H2HeaderWatch): Duplex {
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
  watch?.feed(first);
  duplex.push(first);
  socket.on("data", (chunk: Buffer) => {
    watch?.feed(chunk);
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

/** An error on a connection destroys it (`this` is the socket: one function for every connection). */
function destroySelf(this: net.Socket): void {
  this.destroy();
}
