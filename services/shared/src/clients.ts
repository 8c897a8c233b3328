import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Config, ServiceName } from "./config.js";
import { currentScope } from "./context.js";
import { newId } from "./ids.js";
import { CORRELATION_HEADER } from "./interceptors/correlation.js";

/**
 * The mesh address book: base URLs per service. In cluster mode it comes from configuration; in
 * embedded mode the platform fills it in after each listener binds (ports may be 0).
 */
export class PeerDirectory {
  private readonly urls = new Map<ServiceName, string[]>();

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

  entries(): [ServiceName, string[]][] {
    return [...this.urls.entries()];
  }
}

export interface PeerClientOptions {
  /** Deadline for calls whose caller set none (ms); 0 for none (long-lived streams). Default 5000. */
  defaultTimeoutMs?: number;
  /** Pin the call to one URL instead of round-robin over the service's instances. */
  url?: string;
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

function transportFor(baseUrl: string, defaultTimeoutMs: number): Transport {
  const key = `${baseUrl}|${defaultTimeoutMs}`;
  let t = transports.get(key);
  if (!t) {
    t = createGrpcTransport({
      baseUrl,
      interceptors: [createOutboundScopeInterceptor()],
      defaultTimeoutMs: defaultTimeoutMs > 0 ? defaultTimeoutMs : undefined,
      pingIntervalMs: 30_000,
    });
    transports.set(key, t);
  }
  return t;
}

/**
 * A generated client for a peer service. Instances are looked up on every call (round-robin), so
 * the directory may change after the client is built: peers are wired after binding.
 */
export function createPeerClient<T extends DescService>(
  service: T,
  peer: ServiceName,
  directory: PeerDirectory,
  opts: PeerClientOptions = {},
): Client<T> {
  const timeout = opts.defaultTimeoutMs ?? 5_000;
  let next = 0;
  const pick = (): Transport => {
    const urls = opts.url ? [opts.url] : directory.get(peer);
    if (urls.length === 0) {
      throw new ConnectError(`no address configured for peer service "${peer}" (CAAS_${peer.toUpperCase()}_URL)`, Code.Unavailable);
    }
    const url = urls[next++ % urls.length]!;
    return transportFor(url, timeout);
  };
  const transport: Transport = {
    unary: (...args) => pick().unary(...args),
    stream: (...args) => pick().stream(...args),
  };
  return createClient(service, transport);
}
