import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { notBuiltYet } from "@caas/shared";
import type { ChatServiceRpcs } from "./chat-service.js";

/** Where the RPCs not built in stage A come from. */
export const STAGE_B = "issue #5 stage B, Chat core I";
export const CHAT_CORE_II = "issue #6, Chat core II";

/** ChatService RPCs of Chat core I that stage B builds; the rest of the unbuilt ones belong to Chat core II. */
const STAGE_B_RPCS = new Set([
  "updateConversation",
  "archiveConversation",
  "unarchiveConversation",
  "deleteConversation",
  "joinConversation",
  "createInvite",
  "acceptInvite",
  "revokeInvite",
]);

/**
 * The full ChatService: the implemented RPCs from `impl`, every other one answering UNIMPLEMENTED
 * with a message naming the issue that builds it.
 */
export function chatServiceRoutes(impl: ChatServiceRpcs): ServiceImpl<typeof ChatService> {
  const stageB = notBuiltYet(ChatService, STAGE_B) as unknown as Record<string, unknown>;
  const coreII = notBuiltYet(ChatService, CHAT_CORE_II) as unknown as Record<string, unknown>;
  const own = impl as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  const out: Record<string, unknown> = {};
  for (const m of ChatService.methods) {
    const mine = own[m.localName];
    out[m.localName] = typeof mine === "function" ? mine.bind(impl) : STAGE_B_RPCS.has(m.localName) ? stageB[m.localName] : coreII[m.localName];
  }
  return out as ServiceImpl<typeof ChatService>;
}

/** Registers ChatService (and ChatInternalService, built with stage B: it needs service tokens). */
export function registerChatRoutes(router: ConnectRouter, impl: ChatServiceRpcs): void {
  router.service(ChatService, chatServiceRoutes(impl));
  router.service(ChatInternalService, notBuiltYet(ChatInternalService, STAGE_B));
}
