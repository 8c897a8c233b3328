import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import type { Clock } from "@caas/shared/clock";
import type { MembershipLookup } from "../ports/membership-lookup.js";

/** MembershipLookup answered by chat's ListMemberships over the mesh, with crypto's service token (audience `chat`). */
export function chatMembershipLookup(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): MembershipLookup {
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 10_000 });
  const tokens = createPeerServiceTokenSource({ service: "crypto", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  return {
    async conversationsOf(scope, userId) {
      const ids: string[] = [];
      let pageToken = "";
      do {
        const headers = { authorization: `Bearer ${await tokens.token("chat")}` };
        const page = await chat.listMemberships({ tenantId: scope.tenantId, userId, pageSize: 5000, pageToken }, { headers });
        for (const m of page.memberships) ids.push(m.conversationId);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return ids;
    },
  };
}
