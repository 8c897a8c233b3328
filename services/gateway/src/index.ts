import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { createMeshPrincipalResolver } from "@caas/shared/identity/mesh-resolver";
import { openRateLimiter } from "@caas/shared/rate-limiting/select";
import { principalKey } from "@caas/shared/context";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { createOriginPolicy } from "./cors.js";
import { createEdgePrincipalResolver } from "./edge-resolver.js";
import { EdgeRateLimits } from "./edge-rate-limits.js";
import { actionOf } from "./domain/rate-limit-actions.js";
import { PUBLIC_SERVICES } from "./forwarding.js";
import { PlatformServiceImpl } from "./platform-service.js";
import { ProbeCollector } from "./probe-collector.js";
import { registerRoutes } from "./routes.js";
import { OutstandingBound } from "./outstanding-bound.js";
import { createWsRelay } from "./ws-relay.js";
import { createDemoRoutes } from "./demo/demo-routes.js";
import { createEarlyRefusal } from "./early-refusal.js";

/**
 * The gateway: the public edge. It serves the platform status and the event-bus probe, and
 * forwards every public service (auth's tenant-admin, user-admin and end-user APIs, chat,
 * realtime) to its owner, generically from the generated descriptors. Every forwarded call of a
 * signed-in user is rate limited per user and per tenant by action (CAAS_RATE_LIMITS), in memory
 * embedded and in Redis (CAAS_REDIS_GATEWAY_URL, else CAAS_REDIS_URL) in cluster mode; sends
 * are the exception, counted once by chat whatever path they take (ADR 0023). Browsers on the
 * origins of CAAS_CORS_ORIGINS may call it cross-origin, and /ws is relayed to a socket instance
 * under the same Origin allowlist (ADR 0055). With CAAS_DEMO=1 (embedded mode) it also serves the
 * web chat demo at /demo. A call its outstanding bound refuses is refused as soon as its headers
 * are read, before the RPC stack (early-refusal.ts, ADR 0211).
 */
export async function createGatewayService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const probes = new ProbeCollector(ctx.bus, ctx.config.instanceId, ctx.clock);
  const platform = new PlatformServiceImpl({
    probes,
    peers: ctx.peers,
    clock: ctx.clock,
    mode: ctx.config.mode,
    version: ctx.config.version,
  });
  const rate = await openRateLimiter(ctx.config, ctx.logger, ctx.clock, {
    service: "gateway",
    prefix: "caas:gateway",
    redisUrl: ctx.config.cluster.redisGatewayUrl,
  });
  const limits = new EdgeRateLimits(rate.limiter, ctx.config.rateLimits);
  const origins = createOriginPolicy(ctx.config.corsOrigins);
  const ws = createWsRelay({ peers: ctx.peers, origins, logger: ctx.logger, maxBufferedBytes: ctx.config.connections.wsMaxBufferedBytes });
  const bound = new OutstandingBound({
    max: ctx.config.connections.gatewayMaxOutstanding,
    targetMs: ctx.config.connections.gatewayTargetWaitMs,
    overloadedTargetMs: ctx.config.connections.gatewayOverloadedWaitMs,
  });
  // After the CORS filter, so a browser can read the refusal (ADR 0211).
  const refuseEarly = createEarlyRefusal({ bound, services: PUBLIC_SERVICES, logger: ctx.logger });
  const demo = ctx.config.demo && ctx.config.mode === "embedded" ? createDemoRoutes({ dataDir: ctx.config.dataDir, peers: ctx.peers, logger: ctx.logger }) : undefined;
  return {
    name: "gateway",
    services: [PlatformService, ...PUBLIC_SERVICES.map((p) => p.service)],
    forwardedServices: PUBLIC_SERVICES.map((p) => p.service.typeName),
    register: (router) =>
      registerRoutes(router, {
        platform,
        peers: ctx.peers,
        guard: (method, input, hctx) => limits.check(hctx.values.get(principalKey), actionOf(method, input)),
        bound,
      }),
    principalResolver: createEdgePrincipalResolver(createMeshPrincipalResolver({ peers: ctx.peers, clock: ctx.clock, revocations: ctx.revocations, serviceAudience: "gateway" })),
    ...(demo ? { httpRoutes: demo.httpRoutes, httpPrefixRoutes: demo.httpPrefixRoutes } : {}),
    httpFilter: (req, res) => origins.filter(req, res) || refuseEarly(req, res),
    onUpgrade: ws.onUpgrade,
    start: () => probes.start(),
    drain: async () => {
      ws.close();
      await probes.stop();
    },
    close: () => rate.close(),
  };
}
