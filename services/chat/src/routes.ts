import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { ChatServiceRpcs } from "./chat-service.js";
import type { ChatInternalRpcs } from "./chat-internal-service.js";

/** Every RPC of `service` bound to `impl` (the compiler checked it implements them all). */
function boundRoutes<T extends typeof ChatService | typeof ChatInternalService>(service: T, impl: object): ServiceImpl<T> {
  const own = impl as Record<string, (...args: unknown[]) => unknown>;
  return Object.fromEntries(service.methods.map((m) => [m.localName, own[m.localName]!.bind(impl)])) as ServiceImpl<T>;
}

/** ChatService with every RPC bound to `impl`. */
export function chatServiceRoutes(impl: ChatServiceRpcs): ServiceImpl<typeof ChatService> {
  return boundRoutes(ChatService, impl);
}

/** ChatInternalService with every RPC bound to `impl`. */
export function chatInternalRoutes(impl: ChatInternalRpcs): ServiceImpl<typeof ChatInternalService> {
  return boundRoutes(ChatInternalService, impl);
}

/** Registers ChatService and ChatInternalService. */
export function registerChatRoutes(router: ConnectRouter, impl: ChatServiceRpcs, internal: ChatInternalRpcs): void {
  router.service(ChatService, chatServiceRoutes(impl));
  router.service(ChatInternalService, chatInternalRoutes(internal));
}
