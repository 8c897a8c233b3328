import type { ConnectRouter } from "@connectrpc/connect";
import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import type { PeerDirectory } from "@caas/shared";
import { createForwarder, PUBLIC_SERVICES } from "./forwarding.js";
import type { PlatformServiceImpl } from "./platform-service.js";

/** Registers the gateway's own services and a forwarder for every public service. */
export function registerRoutes(router: ConnectRouter, deps: { platform: PlatformServiceImpl; peers: PeerDirectory }): void {
  router.service(PlatformService, deps.platform);
  for (const { service, owner } of PUBLIC_SERVICES) router.service(service, createForwarder(service, owner, deps.peers));
}
