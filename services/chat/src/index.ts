import type { ServiceContext, ServiceDefinition } from "@caas/shared";

export function createChatService(_ctx: ServiceContext): ServiceDefinition {
  return { name: "chat", services: [], register: () => {} };
}
