import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import type { Clock } from "@caas/shared/clock";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import type { ErasurePart } from "./privacy-jobs.js";

/** Events chat scans per erasure page. */
const CHAT_PAGE = 500;

/** The services' user-data RPCs as compliance drives them, over the mesh with compliance's service tokens. */
export interface UserDataParts {
  /** Whether the tenant has the user (auth's BatchGetUsers). */
  userExists(tenantId: string, userId: string): Promise<boolean>;
  erasure: { auth: ErasurePart; chat: ErasurePart };
}

/** The user-data parts over the mesh (AuthInternalService and ChatInternalService with compliance's service token for each). */
export function createUserDataPartsOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): UserDataParts {
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const headers = async (audience: string) => ({ authorization: `Bearer ${await tokens.token(audience)}` });
  const auth = createPeerClient(AuthInternalService, "auth", opts.peers, { defaultTimeoutMs: 10_000 });
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 60_000 });
  return {
    async userExists(tenantId, userId) {
      const { users } = await auth.batchGetUsers({ tenantId, userIds: [userId] }, { headers: await headers("auth") });
      return users.length > 0;
    },
    erasure: {
      async auth(tenantId, userId) {
        const r = await auth.eraseUserData({ tenantId, userId }, { headers: await headers("auth") });
        return { items: r.sessionsRevoked + r.loginsRemoved + (r.found ? 1 : 0), next: "" };
      },
      async chat(tenantId, userId, cursor, held) {
        const r = await chat.eraseUserData({ tenantId, userId, pageToken: cursor, pageSize: CHAT_PAGE, heldConversationIds: held }, { headers: await headers("chat") });
        return { items: Number(r.messagesErased + r.reactionsRemoved + r.readStatesDropped), next: r.nextPageToken, skipped: r.skippedConversationIds };
      },
    },
  };
}
