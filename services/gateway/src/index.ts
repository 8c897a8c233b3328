import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import type { ServiceContext, ServiceDefinition } from "@caas/shared";
import { PlatformServiceImpl } from "./platform-service.js";
import { ProbeCollector } from "./probe-collector.js";
import { registerRoutes } from "./routes.js";

export { PlatformServiceImpl } from "./platform-service.js";

/**
 * The gateway: the public edge. This version serves the platform status; authentication, rate
 * limits and generic forwarding of public services arrive with the Identity issue (#4).
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
    services: [PlatformService],
    register: (router) => registerRoutes(router, { platform }),
    start: () => probes.start(),
    drain: () => probes.stop(),
  };
}
