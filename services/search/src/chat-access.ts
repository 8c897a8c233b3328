import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import type { Clock } from "@caas/shared/clock";
import type { Client } from "@connectrpc/connect";
import type { ConversationAccess } from "./ports/conversation-access.js";

/** ChatInternalService as search calls it: with search's service token added to every call. */
export type ChatInternalCalls = Pick<Client<typeof ChatInternalService>, "listReadableConversations" | "checkAccess" | "syncInternal" | "scanConversations">;

/** ChatInternalService over the mesh with search's own service token (audience `chat`). */
export function chatInternalOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): ChatInternalCalls {
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 10_000 });
  const tokens = createPeerServiceTokenSource({ service: "search", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const auth = async () => ({ headers: { authorization: `Bearer ${await tokens.token("chat")}` } });
  return {
    listReadableConversations: async (req) => chat.listReadableConversations(req, await auth()),
    checkAccess: async (req) => chat.checkAccess(req, await auth()),
    syncInternal: async (req) => chat.syncInternal(req, await auth()),
    scanConversations: async (req) => chat.scanConversations(req, await auth()),
  };
}

/** ConversationAccess answered by chat's ListReadableConversations and CheckAccess. */
export function createChatConversationAccess(chat: ChatInternalCalls): ConversationAccess {
  return {
    async listReadable(scope, userId) {
      const out = [];
      let pageToken = "";
      do {
        const page = await chat.listReadableConversations({ tenantId: scope.tenantId, userId, pageSize: 5000, pageToken });
        for (const c of page.conversations) out.push({ conversationId: c.conversationId, title: c.title, maxSeq: Number(c.lastVisibleSeq) });
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return out;
    },
    async check(scope, userId, conversationIds) {
      if (conversationIds.length === 0) return [];
      const res = await chat.checkAccess({ tenantId: scope.tenantId, userId, conversationIds: [...conversationIds] });
      return res.accesses.filter((a) => a.firstVisibleSeq > 0n).map((a) => ({ conversationId: a.conversationId, title: "", maxSeq: Number(a.lastVisibleSeq) }));
    },
  };
}

/** Reads a conversation's stored log after a seq (gap fill), through SyncInternal. */
export function syncFromChat(chat: ChatInternalCalls): (tenantId: string, conversationId: string, afterSeq: number, limit: number) => Promise<Event[]> {
  return async (tenantId, conversationId, afterSeq, limit) => (await chat.syncInternal({ tenantId, conversationId, afterSeq: BigInt(afterSeq), limit })).events;
}
