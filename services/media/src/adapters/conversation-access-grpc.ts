import type { CheckAccessRequest, CheckAccessResponse } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import type { Clock } from "@caas/shared/clock";
import type { ConversationAccess } from "../ports/conversation-access.js";

/** One ChatInternalService.CheckAccess call, however it reaches chat (over the mesh, or in-process in tests). */
export type CheckAccessCall = (req: Pick<CheckAccessRequest, "tenantId" | "userId" | "conversationIds">) => Promise<CheckAccessResponse>;

/**
 * ConversationAccess answered by chat's CheckAccess: a conversation is readable when the user may
 * read any part of its log (current members and viewers of open conversations, and former
 * members, who keep the history up to their departure).
 */
export function createChatConversationAccess(checkAccess: CheckAccessCall): ConversationAccess {
  return {
    async readable(scope, userId, conversationIds) {
      if (conversationIds.length === 0) return new Set();
      const res = await checkAccess({ tenantId: scope.tenantId, userId, conversationIds: [...conversationIds] });
      return new Set(res.accesses.filter((a) => a.firstVisibleSeq > 0n).map((a) => a.conversationId));
    },
  };
}

/** CheckAccess over the mesh with media's own service token (audience `chat`). */
export function checkAccessOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): CheckAccessCall {
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 5_000 });
  const tokens = createPeerServiceTokenSource({ service: "media", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  return async (req) => chat.checkAccess(req, { headers: { authorization: `Bearer ${await tokens.token("chat")}` } });
}
