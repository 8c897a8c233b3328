import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { createMeshPrincipalResolver, type ServiceContext, type ServiceDefinition } from "@caas/shared";
import { createEdgePrincipalResolver } from "./edge-resolver.js";
import { PUBLIC_SERVICES } from "./forwarding.js";
import { PlatformServiceImpl } from "./platform-service.js";
import { ProbeCollector } from "./probe-collector.js";
import { registerRoutes } from "./routes.js";

export { PlatformServiceImpl } from "./platform-service.js";
export { PUBLIC_SERVICES, createForwarder } from "./forwarding.js";

/**
 * The gateway: the public edge. It serves the platform status and the event-bus probe, and
 * forwards every public service (auth's tenant-admin, user-admin and end-user APIs, chat,
 * realtime) to its owner, generically from the generated descriptors. Rate limits at the edge
 * come with the rest of issue #4.
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
  return {
    name: "gateway",
    services: [PlatformService, ...PUBLIC_SERVICES.map((p) => p.service)],
    register: (router) => registerRoutes(router, { platform, peers: ctx.peers }),
    principalResolver: createEdgePrincipalResolver(
      createMeshPrincipalResolver({ peers: ctx.peers, clock: ctx.clock, revocations: ctx.revocations, serviceAudience: "gateway" }),
    ),
    start: () => probes.start(),
    drain: () => probes.stop(),
  };
}
