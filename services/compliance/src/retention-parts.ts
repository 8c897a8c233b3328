import { Code, ConnectError } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import type { Clock } from "@caas/shared/clock";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";

/** Events chat scans per retention page. */
const CHAT_PAGE = 500;
/** Media ids per ExpireMedia call (its limit). */
export const MEDIA_BATCH = 500;

/** One retention cut of a conversation, as chat applies it. */
export interface RetentionCut {
  messageBeforeMs: number;
  mediaBeforeMs: number;
  heldUserIds: string[];
  dryRun: boolean;
}

/** What one page of a cut did (or, in a dry run, would do). */
export interface CutPage {
  messagesExpired: number;
  messagesHeld: number;
  mediaIds: string[];
  next: string;
}

/** The auth, chat and media RPCs retention drives (over the mesh in production). */
export interface RetentionParts {
  /** The tenant's TenantSettings.message_retention in ms (auth's GetTenantPolicy); 0 when unset or the tenant is unknown. */
  tenantMessageRetention(tenantId: string): Promise<number>;
  /** A page of the tenants whose settings set a message retention (auth's ListTenantRetention); next "" at the end. */
  tenantsWithMessageRetention(after: string): Promise<{ ids: string[]; next: string }>;
  /** A page of the tenant's conversation ids (ScanConversations); next "" at the end. */
  conversations(tenantId: string, pageToken: string): Promise<{ ids: string[]; next: string }>;
  /** Whether the tenant has the conversation (and it is not deleted). */
  conversationExists(tenantId: string, conversationId: string): Promise<boolean>;
  /** One page of a cut (ChatInternalService.ApplyRetention); undefined when chat does not know the conversation. */
  applyCut(tenantId: string, conversationId: string, cut: RetentionCut, pageToken: string): Promise<CutPage | undefined>;
  /** Deletes (or counts, in a dry run) live media among at most MEDIA_BATCH ids. */
  expireMedia(tenantId: string, mediaIds: string[], dryRun: boolean): Promise<number>;
}

/** The retention parts over the mesh, with compliance's service tokens for auth, chat and media. */
export function createRetentionPartsOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): RetentionParts {
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const headers = async (audience: string) => ({ authorization: `Bearer ${await tokens.token(audience)}` });
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 60_000 });
  const media = createPeerClient(MediaInternalService, "media", opts.peers, { defaultTimeoutMs: 30_000 });
  const auth = createPeerClient(AuthInternalService, "auth", opts.peers, { defaultTimeoutMs: 10_000 });
  const notFound = (err: unknown) => ConnectError.from(err).code === Code.NotFound;
  const ms = (d: { seconds: bigint; nanos: number } | undefined) => (d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0);
  return {
    async tenantMessageRetention(tenantId) {
      try {
        return ms((await auth.getTenantPolicy({ tenantId }, { headers: await headers("auth") })).messageRetention);
      } catch (err) {
        if (notFound(err)) return 0;
        throw err;
      }
    },
    async tenantsWithMessageRetention(after) {
      const r = await auth.listTenantRetention({ afterTenantId: after, limit: 500 }, { headers: await headers("auth") });
      return { ids: r.tenants.map((t) => t.tenantId), next: r.nextAfterTenantId };
    },
    async conversations(tenantId, pageToken) {
      const r = await chat.scanConversations({ tenantId, pageToken, pageSize: 500 }, { headers: await headers("chat") });
      return { ids: r.conversations.map((c) => c.id), next: r.nextPageToken };
    },
    async conversationExists(tenantId, conversationId) {
      try {
        await chat.getConversationMembers({ tenantId, conversationId, pageSize: 1 }, { headers: await headers("chat") });
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },
    async applyCut(tenantId, conversationId, cut, pageToken) {
      try {
        const r = await chat.applyRetention(
          {
            tenantId,
            conversationId,
            ...(cut.messageBeforeMs > 0 ? { messageBefore: timestampFromMs(cut.messageBeforeMs) } : {}),
            ...(cut.mediaBeforeMs > 0 ? { mediaBefore: timestampFromMs(cut.mediaBeforeMs) } : {}),
            heldUserIds: cut.heldUserIds,
            dryRun: cut.dryRun,
            pageSize: CHAT_PAGE,
            pageToken,
          },
          { headers: await headers("chat") },
        );
        return { messagesExpired: Number(r.messagesExpired), messagesHeld: Number(r.messagesHeld), mediaIds: r.mediaIds, next: r.nextPageToken };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
    async expireMedia(tenantId, mediaIds, dryRun) {
      const r = await media.expireMedia({ tenantId, mediaIds, dryRun }, { headers: await headers("media") });
      return r.deleted;
    },
  };
}
