import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { createMeshPrincipalResolver, openRateLimiter, principalKey, type ServiceContext, type ServiceDefinition } from "@caas/shared";
import { createOriginPolicy } from "./cors.js";
import { createEdgePrincipalResolver } from "./edge-resolver.js";
import { EdgeRateLimits } from "./edge-rate-limits.js";
import { actionOf } from "./rate-limit-actions.js";
import { PUBLIC_SERVICES } from "./forwarding.js";
import { PlatformServiceImpl } from "./platform-service.js";
import { ProbeCollector } from "./probe-collector.js";
import { registerRoutes } from "./routes.js";
import { createWsRelay } from "./ws-relay.js";

export { PlatformServiceImpl } from "./platform-service.js";
export { PUBLIC_SERVICES, createForwarder, type ForwardGuard } from "./forwarding.js";
export { createOriginPolicy, CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, type OriginPolicy } from "./cors.js";
export { createWsRelay, WS_PATH } from "./ws-relay.js";
export { EdgeRateLimits } from "./edge-rate-limits.js";
export { METHOD_ACTIONS, OWNER_COUNTED, actionOf, methodName } from "./rate-limit-actions.js";

/**
 * The gateway: the public edge. It serves the platform status and the event-bus probe, and
 * forwards every public service (auth's tenant-admin, user-admin and end-user APIs, chat,
 * realtime) to its owner, generically from the generated descriptors. Every forwarded call of a
 * signed-in user is rate limited per user and per tenant by action (CAAS_RATE_LIMITS), in memory
 * embedded and in Redis (CAAS_REDIS_GATEWAY_URL, else CAAS_REDIS_URL) in cluster mode; sends
 * are the exception, counted once by chat whatever path they take (ADR 0023). Browsers on the
 * origins of CAAS_CORS_ORIGINS may call it cross-origin, and /ws is relayed to a socket instance
 * under the same Origin allowlist (ADR 0055).
 */
export function createGatewayService(ctx: ServiceContext): ServiceDefinition {
  const probes = new ProbeCollector(ctx.bus, ctx.config.instanceId, ctx.clock);
  const platform = new PlatformServiceImpl({
    probes,
    peers: ctx.peers,
    clock: ctx.clock,
    mode: ctx.config.mode,
    version: ctx.config.version,
  });
  const rate = openRateLimiter(ctx.config, ctx.logger, ctx.clock, {
    service: "gateway",
    prefix: "caas:gateway",
    redisUrl: ctx.config.cluster.redisGatewayUrl,
  });
  const limits = new EdgeRateLimits(rate.limiter, ctx.config.rateLimits);
  const origins = createOriginPolicy(ctx.config.corsOrigins);
  const ws = createWsRelay({ peers: ctx.peers, origins, logger: ctx.logger });
  return {
    name: "gateway",
    services: [PlatformService, ...PUBLIC_SERVICES.map((p) => p.service)],
    forwardedServices: PUBLIC_SERVICES.map((p) => p.service.typeName),
    register: (router) =>
      registerRoutes(router, {
        platform,
        peers: ctx.peers,
        guard: (method, input, hctx) => limits.check(hctx.values.get(principalKey), actionOf(method, input)),
      }),
    principalResolver: createEdgePrincipalResolver(
      createMeshPrincipalResolver({ peers: ctx.peers, clock: ctx.clock, revocations: ctx.revocations, serviceAudience: "gateway" }),
    ),
    httpFilter: origins.filter,
    onUpgrade: ws.onUpgrade,
    start: () => probes.start(),
    drain: async () => {
      ws.close();
      await probes.stop();
    },
    close: () => rate.close(),
  };
}
