import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";

/**
 * The compliance service owns the hash-chained audit log, GDPR export and erasure, retention and legal hold.
 * Its contracts come with its own issue; until then it is a real, reachable shell that serves
 * health, reflection and GET /health on its port, so the mesh and the platform status are whole.
 */
export function createComplianceService(_ctx: ServiceContext): ServiceDefinition {
  return {
    name: "compliance",
    services: [],
    register: () => {},
  };
}
