import type { ConnectRouter } from "@connectrpc/connect";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import type { SearchServiceImpl } from "./search-service.js";

/** Registers SearchService on a router. */
export function registerSearchRoutes(router: ConnectRouter, service: SearchServiceImpl): void {
  router.service(SearchService, service);
}
