import type { ConnectRouter } from "@connectrpc/connect";
import { SearchInternalService } from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import type { SearchInternalServiceImpl } from "./search-internal-service.js";
import type { SearchServiceImpl } from "./search-service.js";

/** Registers SearchService and SearchInternalService on a router. */
export function registerSearchRoutes(router: ConnectRouter, service: SearchServiceImpl, internal: SearchInternalServiceImpl): void {
  router.service(SearchService, service);
  router.service(SearchInternalService, internal);
}
