import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { ChatServiceRpcs } from "./chat-service.js";
import type { ChatInternalRpcs } from "./chat-internal-service.js";
import type { UserDataRpcNames } from "./ops/user-data-ops.js";

/** Every RPC of `service` that `impl` has, bound to it (callers' parameter types make the compiler check which it must have). */
function boundRoutes<T extends typeof ChatService | typeof ChatInternalService>(service: T, impl: object): ServiceImpl<T> {
  const own = impl as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  return Object.fromEntries(
    service.methods.flatMap((m) => {
      const fn = own[m.localName];
      return fn ? [[m.localName, fn.bind(impl)]] : [];
    }),
  ) as ServiceImpl<T>;
}

/** ChatService with every RPC bound to `impl`. */
export function chatServiceRoutes(impl: ChatServiceRpcs): ServiceImpl<typeof ChatService> {
  return boundRoutes(ChatService, impl);
}

/** ChatInternalService with every RPC bound to `internal`, the user-data ones to `userData`. */
export function chatInternalRoutes(internal: Omit<ChatInternalRpcs, UserDataRpcNames>, userData: Pick<ChatInternalRpcs, UserDataRpcNames>): ServiceImpl<typeof ChatInternalService> {
  return {
    ...boundRoutes(ChatInternalService, internal),
    exportUserData: userData.exportUserData.bind(userData),
    eraseUserData: userData.eraseUserData.bind(userData),
    applyRetention: userData.applyRetention.bind(userData),
    eraseTenantData: userData.eraseTenantData.bind(userData),
  };
}

/** Registers ChatService and ChatInternalService. */
export function registerChatRoutes(router: ConnectRouter, impl: ChatServiceRpcs & { userData: Pick<ChatInternalRpcs, UserDataRpcNames> }, internal: Omit<ChatInternalRpcs, UserDataRpcNames>): void {
  router.service(ChatService, chatServiceRoutes(impl));
  router.service(ChatInternalService, chatInternalRoutes(internal, impl.userData));
}
