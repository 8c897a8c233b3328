import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";

/**
 * The crypto service owns the E2EE key directory (device keys, signed and one-time prekeys) and at-rest key management.
 * Its contracts come with its own issue; until then it is a real, reachable shell that serves
 * health, reflection and GET /health on its port, so the mesh and the platform status are whole.
 */
export function createCryptoService(_ctx: ServiceContext): ServiceDefinition {
  return {
    name: "crypto",
    services: [],
    register: () => {},
  };
}
