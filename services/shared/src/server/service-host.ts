import type http from "node:http";
import type http2 from "node:http2";
import type { Duplex } from "node:stream";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";
import * as reflectionV1 from "@caas/gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "@caas/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createInternalServiceInterceptor } from "../auth/internal-guard.js";
import { startProbeResponder } from "../bus/probe-responder.js";
import type { EventBus } from "../bus/event-bus.js";
import { systemClock, type Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { createCorrelationInterceptor } from "../interceptors/correlation.js";
import { createErrorInterceptor } from "../interceptors/errors.js";
import { createLoggingInterceptor } from "../interceptors/logging.js";
import { anonymousResolver, createPrincipalInterceptor, type PrincipalResolver } from "../interceptors/principal.js";
import { createValidationInterceptor } from "../interceptors/validation.js";
import { createHealthService, HealthRegistry, ServingStatus } from "./health.js";
import { InflightTracker } from "./inflight.js";
import { DualListener } from "./listener.js";
import { createReflectionV1, createReflectionV1alpha, ReflectionIndex } from "./reflection.js";
import { createRpcHandlers } from "./rpc-handler.js";
import { ShutdownSignal } from "./shutdown-signal.js";
import { createInProcessClient } from "../in-process.js";
import type { UniversalClientFn } from "@connectrpc/connect/protocol";

type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;

/** A plain HTTP route next to the RPCs (e.g. GET /.well-known/jwks.json). */
export type HttpRoute = (req: HttpRequest, res: HttpResponse) => void | Promise<void>;

/** What a service contributes to its host: its RPC implementations and optional HTTP extras. */
export interface ServiceDefinition {
  /** Logical service name (gateway, auth, chat, ...). */
  name: string;
  /** The generated services this definition implements; reflection and health list them. */
  services: DescService[];
  /** Registers the implementations of `services` on the router. */
  register: (router: ConnectRouter) => void;
  /** Exact-path HTTP routes served by the same listener. */
  httpRoutes?: Record<string, HttpRoute>;
  /**
   * HTTP routes for every path under a prefix (ending in `/`), any method, the body unread (the
   * media service's signed blob URLs). Exact routes and RPCs win.
   */
  httpPrefixRoutes?: Record<string, HttpRoute>;
  /**
   * Turns credentials into the caller for this service's RPCs. Default: the host's resolver
   * (access tokens checked against the auth service's JWKS). The auth service brings its own, the
   * same shared resolver with its API-key and admin credentials added.
   */
  principalResolver?: PrincipalResolver;
  /**
   * Type names of services this host only forwards to their owner (the gateway): their requests
   * are not validated here but by the owner, after it has authenticated the caller, so a caller
   * with a wrong credential learns UNAUTHENTICATED and nothing about the request shape.
   */
  forwardedServices?: readonly string[];
  /**
   * Runs first for every HTTP request on the listener, RPCs included, on both protocols; returns
   * true when it has answered the request itself (the gateway's CORS preflights). It may also set
   * response headers and return false to let the request go on.
   */
  httpFilter?: (req: HttpRequest, res: HttpResponse) => boolean;
  /** HTTP/1.1 upgrades (the socket service's /ws). */
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Called after the listener is bound, with its base URL (the host always passes it), before the service reports SERVING (start consumers). */
  start?: (bound?: { url: string; port: number }) => Promise<void>;
  /** Called when the server begins to drain, before listeners close (close streams, stop loops). */
  drain?: () => Promise<void>;
  /** Called last, after the listener closed and in-flight calls ended (release stores). */
  close?: () => Promise<void>;
}

export interface ServiceHostOptions {
  definition: ServiceDefinition;
  config: Config;
  logger: Logger;
  /** Overrides config.ports[name] (tests and the embedded platform use 0). */
  port?: number;
  /** Used when the definition brings no resolver of its own (default: everyone is anonymous). */
  principalResolver?: PrincipalResolver;
  /** Extra interceptors run inside the standard ones, just before the handler. */
  interceptors?: Interceptor[];
  /** When given, the instance answers event-bus probes (PlatformService.ProbeEventBus). */
  bus?: EventBus;
  clock?: Clock;
}

/** A running service: where it listens and how to stop it. */
export interface RunningService {
  name: string;
  port: number;
  /** Base URL peers use (http://host:port). */
  url: string;
  health: HealthRegistry;
  /**
   * Calls this instance's RPCs in this process, through the same handlers and interceptors as its
   * listener; refuses (UNAVAILABLE) from the moment the listener begins to close. The embedded
   * platform gives it to the peer directory (PeerDirectory.setInProcess).
   */
  inProcess: UniversalClientFn;
  close(): Promise<void>;
}

/** The HTTP paths of client- and bidi-streaming methods: their request body lives as long as the call. */
function streamingRequestPaths(services: DescService[]): Set<string> {
  const paths = new Set<string>();
  for (const s of services) for (const m of s.methods) if (m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming") paths.add(`/${s.typeName}/${m.name}`);
  return paths;
}

/**
 * Serves one service definition on one port: Connect, gRPC and gRPC-web over HTTP/2 and
 * HTTP/1.1, grpc.health.v1, reflection v1 and v1alpha, plain GET /health, with the standard
 * interceptor chain (correlation id, logging, error mapping, principal, validation).
 */
export async function startServiceHost(opts: ServiceHostOptions): Promise<RunningService> {
  const { definition, config, logger } = opts;
  const serviceNames = definition.services.map((s) => s.typeName);
  const health = new HealthRegistry(serviceNames);
  const files: DescFile[] = [...definition.services.map((s) => s.file), Health.file, reflectionV1.ServerReflection.file, reflectionV1alpha.ServerReflection.file];
  const reflection = new ReflectionIndex(files, [...serviceNames, Health.typeName, reflectionV1.ServerReflection.typeName, reflectionV1alpha.ServerReflection.typeName]);
  // Every call in progress links its signal to this one (connect's handler context) until it
  // ends: kept in a Set, so that a call costs the same with 50,000 streams open as with none.
  const shutdown = new ShutdownSignal();
  const inflight = new InflightTracker();

  const interceptors: Interceptor[] = [
    createCorrelationInterceptor({ logger }),
    createLoggingInterceptor({ logger, shutdownSignal: shutdown.asAbortSignal() }),
    createErrorInterceptor(),
    createPrincipalInterceptor({ resolver: definition.principalResolver ?? opts.principalResolver ?? anonymousResolver }),
    createInternalServiceInterceptor(),
    createValidationInterceptor({ skipServices: definition.forwardedServices }),
    inflight.interceptor,
    ...(opts.interceptors ?? []),
  ];

  const routes = (router: ConnectRouter) => {
    definition.register(router);
    router.service(Health, createHealthService(health));
    router.service(reflectionV1.ServerReflection, createReflectionV1(reflection));
    router.service(reflectionV1alpha.ServerReflection, createReflectionV1alpha(reflection));
  };

  const httpRoutes: Record<string, HttpRoute> = {
    "/health": (_req, res) => {
      const serving = health.get("") === ServingStatus.SERVING;
      const body = JSON.stringify({
        service: definition.name,
        instance: config.instanceId,
        status: serving ? "SERVING" : "NOT_SERVING",
      });
      res.writeHead(serving ? 200 : 503, { "content-type": "application/json" });
      res.end(body);
    },
    ...definition.httpRoutes,
  };

  const { node: handler, paths } = createRpcHandlers({
    routes,
    logger,
    interceptors,
    readMaxBytes: config.limits.readMaxBytes,
    writeMaxBytes: config.limits.writeMaxBytes,
    shutdownSignal: shutdown.asAbortSignal(),
    fallback(req, res) {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      let route = req.method === "GET" || req.method === "HEAD" ? httpRoutes[path] : undefined;
      for (const [prefix, r] of Object.entries(definition.httpPrefixRoutes ?? {})) if (!route && path.startsWith(prefix)) route = r;
      if (route) {
        Promise.resolve(route(req, res)).catch((err: unknown) => {
          logger.error({ err, path }, "http route failed");
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    },
  });

  const filter = definition.httpFilter;
  const listener = new DualListener({
    host: config.host,
    port: opts.port ?? config.ports[definition.name as keyof Config["ports"]] ?? 0,
    handler: filter ? (req, res) => filter(req, res) || handler(req, res) : handler,
    onUpgrade: definition.onUpgrade,
    limits: config.connections,
    streamingPaths: streamingRequestPaths([...definition.services, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection]),
    onRefused: (what, address) => logger.info({ address, what }, "connection limit: client cut off"),
  });
  const port = await listener.listen();
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  await definition.start?.({ url, port });
  const probes = opts.bus ? await startProbeResponder({ bus: opts.bus, service: definition.name, instanceId: config.instanceId, logger, clock: opts.clock ?? systemClock }) : undefined;
  health.setAll(ServingStatus.SERVING);
  logger.info({ port, url, services: serviceNames }, "listening");

  let closing: Promise<void> | undefined;
  let accepting = true;
  return {
    name: definition.name,
    port,
    url,
    health,
    inProcess: createInProcessClient({ service: definition.name, paths, accepting: () => accepting }),
    close() {
      closing ??= (async () => {
        // 1. Tell load balancers and watchers; Watch streams end after saying NOT_SERVING.
        health.shutdown();
        // 2. Let the service close what it owns (realtime sessions get a close frame, consumers stop).
        await probes?.close();
        await definition.drain?.();
        // 3. Refuse new connections, GOAWAY the rest, let in-flight calls finish in the grace period.
        const graceEnd = Date.now() + config.shutdownGraceMs;
        accepting = false;
        const closingListener = listener.close(config.shutdownGraceMs);
        await inflight.idle(config.shutdownGraceMs);
        // 4. Abort what is still running, then wait for the connections to go.
        shutdown.abort();
        await closingListener;
        await definition.close?.();
        logger.info({ tookMs: config.shutdownGraceMs - Math.max(0, graceEnd - Date.now()) }, "stopped");
      })();
      return closing;
    },
  };
}
