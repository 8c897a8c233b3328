import type { ServiceContext, ServiceDefinition } from "@caas/shared";

export function createAuthService(_ctx: ServiceContext): ServiceDefinition {
  return { name: "auth", services: [], register: () => {} };
}
