import type { ServiceContext, ServiceDefinition } from "@caas/shared";

/**
 * The media service owns uploads and downloads through presigned URLs, file metadata and authorization.
 * Its contracts come with its own issue; until then it is a real, reachable shell that serves
 * health, reflection and GET /health on its port, so the mesh and the platform status are whole.
 */
export function createMediaService(_ctx: ServiceContext): ServiceDefinition {
  return {
    name: "media",
    services: [],
    register: () => {},
  };
}
