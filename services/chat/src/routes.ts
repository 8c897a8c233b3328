import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { notBuiltYet } from "@caas/shared";
import type { ChatServiceRpcs } from "./chat-service.js";
import type { ChatInternalRpcs } from "./chat-internal-service.js";

/** Where the internal RPCs not built yet come from. */
export const STAGE_B = "issue #5 stage B, Chat core I";

/** ChatService with every RPC bound to `impl`. */
export function chatServiceRoutes(impl: ChatServiceRpcs): ServiceImpl<typeof ChatService> {
  const own = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  return Object.fromEntries(ChatService.methods.map((m) => [m.localName, own[m.localName]!.bind(impl)])) as ServiceImpl<typeof ChatService>;
}

/** The full ChatInternalService: the implemented RPCs from `impl`, the others UNIMPLEMENTED (stage B). */
export function chatInternalRoutes(impl: ChatInternalRpcs): ServiceImpl<typeof ChatInternalService> {
  const later = notBuiltYet(ChatInternalService, STAGE_B) as unknown as Record<string, unknown>;
  const own = impl as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  const out: Record<string, unknown> = {};
  for (const m of ChatInternalService.methods) {
    const mine = own[m.localName];
    out[m.localName] = typeof mine === "function" ? mine.bind(impl) : later[m.localName];
  }
  return out as ServiceImpl<typeof ChatInternalService>;
}

/** Registers ChatService and ChatInternalService. */
export function registerChatRoutes(router: ConnectRouter, impl: ChatServiceRpcs, internal: ChatInternalRpcs): void {
  router.service(ChatService, chatServiceRoutes(impl));
  router.service(ChatInternalService, chatInternalRoutes(internal));
}
