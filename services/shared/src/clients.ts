import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import type { ClientHttp2Stream, Http2Session } from "node:http2";
import { createGrpcTransport, createNodeHttpClient, Http2SessionManager } from "@connectrpc/connect-node";
import { createTransport as createGrpcProtocolTransport } from "@connectrpc/connect/protocol-grpc";
import { systemClock, type Clock } from "./clock.js";
import type { Config, ServiceName } from "./config.js";
import { currentScope } from "./context.js";
import { newId } from "./ids.js";
import { CORRELATION_HEADER } from "./interceptors/correlation.js";
import { createStreamLanes, DEFAULT_STREAMS_PER_LANE } from "./stream-lanes.js";
import { validateReadWriteMaxBytes, type UniversalClientFn } from "@connectrpc/connect/protocol";
import { createInProcessTransport, InProcessRefusal } from "./in-process.js";
import { withStreamBodyRelay } from "./stream-body-relay.js";

/**
 * The mesh address book: base URLs per service. In cluster mode it comes from configuration; in
 * embedded mode the platform fills it in after each listener binds (ports may be 0).
 *
 * It also remembers instances that just failed with UNAVAILABLE (a killed or restarting process):
 * round-robin skips them for `unavailableCooldownMs`, then tries them again, so one dead chat
 * instance costs its in-flight calls, not every other call until it is back.
 */
export class PeerDirectory {
  private readonly urls = new Map<ServiceName, string[]>();
  /** URL -> time (ms) until which it is skipped. */
  private readonly unavailableUntil = new Map<string, number>();
  /** URL -> the instance's in-process client, for instances running in this process (embedded mode). */
  private readonly local = new Map<string, UniversalClientFn>();

  constructor(
    private readonly clock: Clock = systemClock,
    readonly unavailableCooldownMs = 2_000,
  ) {}

  static fromConfig(config: Config): PeerDirectory {
    const dir = new PeerDirectory();
    for (const [name, urls] of Object.entries(config.peers) as [ServiceName, string[]][]) {
      if (urls.length > 0) dir.set(name, urls);
    }
    return dir;
  }

  set(name: ServiceName, urls: string[]): void {
    this.urls.set(name, [...urls]);
  }

  get(name: ServiceName): string[] {
    return this.urls.get(name) ?? [];
  }

  /** The instances of `name` to call now: those not recently unavailable, or all when none is left. */
  available(name: ServiceName): string[] {
    const all = this.get(name);
    const now = this.clock.nowMs();
    const up = all.filter((url) => (this.unavailableUntil.get(url) ?? 0) <= now);
    return up.length > 0 ? up : all;
  }

  /** Records that a call to `url` failed with UNAVAILABLE: skip it for the cooldown. */
  markUnavailable(url: string): void {
    this.unavailableUntil.set(url, this.clock.nowMs() + this.unavailableCooldownMs);
  }

  /**
   * Calls to `url` go to `client` in this process instead of over loopback HTTP/2: the instance
   * runs here (embedded mode, CAAS_MESH_TRANSPORT=in-process). Only the composition root sets it.
   */
  setInProcess(url: string, client: UniversalClientFn): void {
    this.local.set(url, client);
  }

  /** The in-process client of the instance at `url`, when it runs in this process. */
  inProcess(url: string): UniversalClientFn | undefined {
    return this.local.get(url);
  }

  entries(): [ServiceName, string[]][] {
    return [...this.urls.entries()];
  }
}

export interface PeerClientOptions {
  /** Deadline for calls whose caller set none (ms); 0 for none (long-lived streams). Default 5000. */
  defaultTimeoutMs?: number;
  /** Pin the call to one URL instead of round-robin over the service's instances. */
  url?: string;
  /** Open streams per HTTP/2 connection to one instance before another connection is opened (default 100; stream-lanes.ts). */
  streamsPerConnection?: number;
}

/**
 * Carries the request scope onto outbound calls: the correlation id (a new one for calls a
 * service starts by itself), the caller's Authorization header unchanged (unless the call set
 * its own, e.g. a service token), and the caller's remaining deadline.
 */
export function createOutboundScopeInterceptor(): Interceptor {
  return (next) => async (req) => {
    const scope = currentScope();
    if (!req.header.has(CORRELATION_HEADER)) req.header.set(CORRELATION_HEADER, scope?.correlationId ?? newId());
    if (scope?.authorization && !req.header.has("authorization")) req.header.set("authorization", scope.authorization);
    if (scope?.deadlineMs !== undefined) {
      const remaining = Math.max(1, Math.floor(scope.deadlineMs - Date.now()));
      const current = Number(req.header.get("grpc-timeout")?.replace(/m$/, "") ?? Infinity);
      if (remaining < current) req.header.set("grpc-timeout", `${remaining}m`);
    }
    return next(req);
  };
}

const transports = new Map<string, Transport>();
const streamTransports = new Map<string, Transport>();
const inProcessTransports = new WeakMap<UniversalClientFn, Map<number, Transport>>();

/** The transport of calls to an instance in this process: its handlers, in memory (in-process.ts). */
function inProcessTransportFor(client: UniversalClientFn, baseUrl: string, defaultTimeoutMs: number): Transport {
  let byTimeout = inProcessTransports.get(client);
  if (!byTimeout) inProcessTransports.set(client, (byTimeout = new Map<number, Transport>()));
  let t = byTimeout.get(defaultTimeoutMs);
  if (!t) {
    // Streams called from a relay scope hand the peer's body on as bytes (stream-body-relay.ts).
    t = createInProcessTransport(withStreamBodyRelay(client), baseUrl, [createOutboundScopeInterceptor()], defaultTimeoutMs > 0 ? defaultTimeoutMs : undefined);
    byTimeout.set(defaultTimeoutMs, t);
  }
  return t;
}

/**
 * connect-node's HTTP/2 session manager with an 'error' listener of ours on every session it
 * hands out, kept for the session's life. connect-node destroys a session with "PING timed out"
 * from its ping callback (a ping answered after `pingTimeoutMs`) even after it has removed its
 * own listeners from that session (it left the session's state: connectrpc/connect-es#1795, fix
 * not released for 2.1.x), and an 'error' event nobody listens to ends the process: the gateway
 * crashed that way on a starved machine. With this listener the destroyed session only fails its
 * streams (their calls see the error) and the next call opens a new session, whatever the ping
 * timing; errors reach connect-node's listeners as before while they are attached.
 */
export class GuardedSessionManager extends Http2SessionManager {
  private readonly guarded = new WeakSet<Http2Session>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.guarded.has(session)) {
      this.guarded.add(session);
      session.on("error", () => undefined);
    }
    return stream;
  }
}

/** A transport over one HTTP/2 connection of its own to `baseUrl`. */
function newPeerTransport(baseUrl: string, defaultTimeoutMs: number): Transport {
  return createGrpcTransport({
    baseUrl,
    interceptors: [createOutboundScopeInterceptor()],
    defaultTimeoutMs: defaultTimeoutMs > 0 ? defaultTimeoutMs : undefined,
    // A vanished peer is found within ping interval + timeout (45 s) on a stream that carries
    // nothing; calls have their own deadlines meanwhile.
    sessionManager: new GuardedSessionManager(baseUrl, { pingIntervalMs: 30_000, pingTimeoutMs: 15_000 }),
  });
}

function transportFor(baseUrl: string, defaultTimeoutMs: number): Transport {
  const key = `${baseUrl}|${defaultTimeoutMs}`;
  let t = transports.get(key);
  if (!t) {
    t = newPeerTransport(baseUrl, defaultTimeoutMs);
    transports.set(key, t);
  }
  return t;
}

/**
 * A transport of streams over one HTTP/2 connection of its own to `baseUrl`, as newPeerTransport's
 * but asking for uncompressed responses and with the relay of stream-body-relay.ts: a stream
 * called from a relay scope hands the peer's messages on as the bytes received, which a
 * compressed message could not be (the caller's protocol may not have negotiated the codec).
 */
function newPeerStreamTransport(baseUrl: string, defaultTimeoutMs: number): Transport {
  const sessionManager = new GuardedSessionManager(baseUrl, { pingIntervalMs: 30_000, pingTimeoutMs: 15_000 });
  return createGrpcProtocolTransport({
    baseUrl,
    httpClient: withStreamBodyRelay(createNodeHttpClient({ httpVersion: "2", sessionProvider: () => sessionManager })),
    useBinaryFormat: true,
    interceptors: [createOutboundScopeInterceptor()],
    defaultTimeoutMs: defaultTimeoutMs > 0 ? defaultTimeoutMs : undefined,
    acceptCompression: [],
    sendCompression: null,
    ...validateReadWriteMaxBytes(undefined, undefined, undefined),
  });
}

/** Streams to `baseUrl`: spread over as many connections as their number needs (stream-lanes.ts). */
function streamTransportFor(baseUrl: string, defaultTimeoutMs: number, streamsPerLane: number): Transport {
  const key = `${baseUrl}|${defaultTimeoutMs}|${streamsPerLane}`;
  let t = streamTransports.get(key);
  if (!t) {
    t = createStreamLanes(() => newPeerStreamTransport(baseUrl, defaultTimeoutMs), streamsPerLane);
    streamTransports.set(key, t);
  }
  return t;
}

/**
 * A generated client for a peer service. Instances are looked up on every call (round-robin), so
 * the directory may change after the client is built: peers are wired after binding.
 */
export function createPeerClient<T extends DescService>(service: T, peer: ServiceName, directory: PeerDirectory, opts: PeerClientOptions = {}): Client<T> {
  const timeout = opts.defaultTimeoutMs ?? 5_000;
  let next = 0;
  const pick = (): string => {
    const urls = opts.url ? [opts.url] : directory.available(peer);
    if (urls.length === 0) {
      throw new ConnectError(`no address configured for peer service "${peer}" (CAAS_${peer.toUpperCase()}_URL)`, Code.Unavailable);
    }
    return urls[next++ % urls.length]!;
  };
  /**
   * Remembers an UNAVAILABLE instance so the next calls go to the others, and passes the error
   * on. A stream the peer reset (CANCEL), or a connection reset under the call (connect-node
   * reports ECONNRESET as ABORTED), although our caller did not cancel, means the instance went
   * away mid-call (killed, restarting): that is UNAVAILABLE to the caller, who may retry.
   */
  const noteFailure = (url: string, signal: AbortSignal | undefined, err: unknown): never => {
    let e = ConnectError.from(err);
    if ((e.code === Code.Canceled || connectionReset(e)) && !signal?.aborted) e = new ConnectError(`${peer} instance went away mid-call: ${e.rawMessage}`, Code.Unavailable, undefined, undefined, e);
    if (e.code === Code.Unavailable) directory.markUnavailable(url);
    throw e;
  };
  // An instance in this process is called in memory (the directory says which); others over HTTP/2.
  const unaryTo = (url: string): Transport => {
    const local = directory.inProcess(url);
    return local ? inProcessTransportFor(local, url, timeout) : transportFor(url, timeout);
  };
  const streamTo = (url: string): Transport => {
    const local = directory.inProcess(url);
    return local ? inProcessTransportFor(local, url, timeout) : streamTransportFor(url, timeout, opts.streamsPerConnection ?? DEFAULT_STREAMS_PER_LANE);
  };
  const transport: Transport = {
    unary: async (...args) => {
      const url = pick();
      try {
        return await unaryTo(url).unary(...args);
      } catch (err) {
        // A refused connection never delivered the request, so it is safe to send it once more
        // to another instance (when there is one); anything else goes back to the caller.
        if (!opts.url && connectionRefused(err)) {
          directory.markUnavailable(url);
          const other = pick();
          if (other !== url)
            return unaryTo(other)
              .unary(...args)
              .catch((e: unknown) => noteFailure(other, args[1], e));
        }
        return noteFailure(url, args[1], err);
      }
    },
    stream: (...args) => {
      const url = pick();
      return streamTo(url)
        .stream(...args)
        .catch((err: unknown) => noteFailure(url, args[1], err));
    },
  };
  return createClient(service, transport);
}

/** Whether connect-node turned a reset or destroyed connection into ABORTED (node-error.js). */
function connectionReset(e: ConnectError): boolean {
  if (e.code !== Code.Aborted) return false;
  for (let c: unknown = e.cause; c instanceof Error || (typeof c === "object" && c !== null); c = (c as { cause?: unknown }).cause) {
    const code = (c as { code?: unknown }).code;
    if (code === "ECONNRESET" || code === "ERR_STREAM_DESTROYED" || code === "ERR_HTTP2_INVALID_STREAM") return true;
    if (c === (c as { cause?: unknown }).cause) break;
  }
  return false;
}

/** Whether a call failed because the instance refused the connection, or an in-process call while it shuts down (nothing was sent). */
function connectionRefused(err: unknown): boolean {
  const e = ConnectError.from(err);
  return e.code === Code.Unavailable && (e.cause instanceof InProcessRefusal || (e.cause as { code?: unknown } | undefined)?.code === "ECONNREFUSED");
}
