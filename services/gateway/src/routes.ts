import type { ConnectRouter } from "@connectrpc/connect";
import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import type { PlatformServiceImpl } from "./platform-service.js";

/** Registers the gateway's own services on a router. */
export function registerRoutes(router: ConnectRouter, impl: { platform: PlatformServiceImpl }): void {
  router.service(PlatformService, impl.platform);
}
