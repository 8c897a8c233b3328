import type { ServiceContext, ServiceDefinition } from "@caas/shared";

export function createSocketService(_ctx: ServiceContext): ServiceDefinition {
  return { name: "socket", services: [], register: () => {} };
}
