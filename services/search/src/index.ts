import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";

/**
 * The search service owns the indexing consumer and full-text search with access control.
 * Its contracts come with its own issue; until then it is a real, reachable shell that serves
 * health, reflection and GET /health on its port, so the mesh and the platform status are whole.
 */
export function createSearchService(_ctx: ServiceContext): ServiceDefinition {
  return {
    name: "search",
    services: [],
    register: () => {},
  };
}
