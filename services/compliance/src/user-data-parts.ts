import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { SearchInternalService } from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import type { Clock } from "@caas/shared/clock";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import type { ExportArchiveSink, ExportPart } from "./export-job.js";
import type { ErasurePart } from "./privacy-jobs.js";
import type { ExportDeleter } from "./export-archives.js";

/** Events chat scans per erasure or export page. */
const CHAT_PAGE = 500;

/** Media records per export page. */
const MEDIA_PAGE = 100;

/** The services' user-data RPCs as compliance drives them, over the mesh with compliance's service tokens. */
export interface UserDataParts {
  /** Whether the tenant has the user (auth's BatchGetUsers). */
  userExists(tenantId: string, userId: string): Promise<boolean>;
  erasure: { auth: ErasurePart; chat: ErasurePart; media: ErasurePart; search: ErasurePart };
  exports: { auth: ExportPart; chat: ExportPart; media: ExportPart };
  /** The export archive in media's blob store. */
  archive: ExportArchiveSink;
  /** A time-limited download URL of a sealed export (media's PresignExportDownload). */
  presignExport(tenantId: string, exportId: string, expiresInSeconds: number, filename: string): Promise<{ url: string; expireTimeMs: number }>;
  /** Deletes an export's archive and the named entries outside it (media's DeleteExport). */
  deleteExport: ExportDeleter;
}

/** The user-data parts over the mesh (auth's, chat's, media's and search's internal services, with compliance's service token for each). */
export function createUserDataPartsOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): UserDataParts {
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const headers = async (audience: string) => ({ authorization: `Bearer ${await tokens.token(audience)}` });
  const auth = createPeerClient(AuthInternalService, "auth", opts.peers, { defaultTimeoutMs: 10_000 });
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 60_000 });
  // Sealing streams every entry of the archive through media: allow it time.
  const media = createPeerClient(MediaInternalService, "media", opts.peers, { defaultTimeoutMs: 600_000 });
  const search = createPeerClient(SearchInternalService, "search", opts.peers, { defaultTimeoutMs: 60_000 });
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
      async media(tenantId, userId, cursor, held) {
        const r = await media.eraseUserData({ tenantId, userId, pageToken: cursor === "more" ? "" : cursor, heldConversationIds: held }, { headers: await headers("media") });
        return { items: Number(r.mediaErased), next: r.more ? r.nextPageToken : "", skipped: r.skippedConversationIds };
      },
      // Search removes what it erases, so every call starts from the top again: the cursor only says "more".
      async search(tenantId, userId, _cursor, held) {
        const r = await search.eraseUserData({ tenantId, userId, heldConversationIds: held }, { headers: await headers("search") });
        return { items: Number(r.documentsRemoved), next: r.more ? "more" : "" };
      },
    },
    exports: {
      async auth(tenantId, userId) {
        const r = await auth.exportUserData({ tenantId, userId }, { headers: await headers("auth") });
        return { lines: r.jsonLines, files: [], next: "" };
      },
      async chat(tenantId, userId, _exportId, cursor) {
        const r = await chat.exportUserData({ tenantId, userId, pageToken: cursor, pageSize: CHAT_PAGE }, { headers: await headers("chat") });
        return { lines: r.jsonLines, files: [], next: r.nextPageToken };
      },
      async media(tenantId, userId, exportId, cursor) {
        const r = await media.exportUserData({ tenantId, userId, exportId, pageToken: cursor, pageSize: MEDIA_PAGE }, { headers: await headers("media") });
        return { lines: r.jsonLines, files: r.filePaths, next: r.nextPageToken };
      },
    },
    archive: {
      async putPart(tenantId, exportId, path, content) {
        await media.putExportPart({ tenantId, exportId, path, content }, { headers: await headers("media") });
      },
      async discard(tenantId, exportId, paths) {
        // DeleteExport takes at most 20,000 paths a call.
        for (let i = 0; i === 0 || i < paths.length; i += 10_000) await media.deleteExport({ tenantId, exportId, paths: paths.slice(i, i + 10_000) }, { headers: await headers("media") });
      },
      async seal(tenantId, exportId, paths, aboutJson) {
        const r = await media.sealExport({ tenantId, exportId, paths, aboutJson }, { headers: await headers("media") });
        return { size: Number(r.archiveSize), sha256: r.archiveSha256, entries: r.entries };
      },
    },
    async deleteExport(tenantId, exportId, paths) {
      await media.deleteExport({ tenantId, exportId, paths }, { headers: await headers("media") });
    },
    async presignExport(tenantId, exportId, expiresInSeconds, filename) {
      const r = await media.presignExportDownload({ tenantId, exportId, expiresInSeconds, filename }, { headers: await headers("media") });
      return { url: r.url, expireTimeMs: r.expireTime ? Number(r.expireTime.seconds) * 1000 + Math.floor(r.expireTime.nanos / 1e6) : 0 };
    },
  };
}
