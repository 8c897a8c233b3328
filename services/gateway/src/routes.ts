import type { ConnectRouter } from "@connectrpc/connect";
import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import type { PeerDirectory } from "@caas/shared/clients";
import { createForwarder, PUBLIC_SERVICES, type ForwardGuard } from "./forwarding.js";
import type { OutstandingBound } from "./outstanding-bound.js";
import type { PlatformServiceImpl } from "./platform-service.js";

/**
 * Registers the gateway's own services and a forwarder for every public service; `guard` (the
 * edge rate limits) runs before every forwarded call, and `bound` caps the calls outstanding to each owner.
 */
export function registerRoutes(router: ConnectRouter, deps: { platform: PlatformServiceImpl; peers: PeerDirectory; guard?: ForwardGuard; bound?: OutstandingBound }): void {
  router.service(PlatformService, deps.platform);
  for (const { service, owner } of PUBLIC_SERVICES) router.service(service, createForwarder(service, owner, deps.peers, deps.guard, deps.bound));
}
