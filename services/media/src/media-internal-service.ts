import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AttachMediaResponseSchema,
  DetachMediaResponseSchema,
  ExpireMediaResponseSchema,
  type AttachMediaRequest,
  type AttachMediaResponse,
  type DetachMediaRequest,
  type DetachMediaResponse,
  type ExpireMediaRequest,
  type ExpireMediaResponse,
  type MediaInternalService,
} from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey } from "@caas/shared/context";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import { MEDIA_RESOURCE, mediaNotFound, uploadBlobKeyOf, type MediaDeps } from "./media-core.js";
import { mediaView } from "./domain/views.js";

/** MediaInternalService's user-data RPCs, served by MediaExportOps (media-exports.ts) and eraseMediaOfUser (media-erasure.ts). */
export type ExportRpcNames = "exportUserData" | "putExportPart" | "sealExport" | "presignExportDownload" | "deleteExport" | "eraseUserData" | "eraseTenantData";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
const MAX_ATTACH = 10;
const MAX_EXPIRE = 500;

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/** Only service principals call MediaInternalService (the host's guard says so too; in-process callers skip it). */
export function requireService(ctx: HandlerContext): string {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a service token is required");
  if (p.kind !== "service") throw new PermissionDeniedError("MediaInternalService serves other CAAS services only");
  return p.service;
}

/**
 * The tenant, conversation and media ids AttachMedia and DetachMedia both take (protovalidate
 * checks them at the edge; in-process callers skip the interceptor). Returns the media ids.
 */
function checkTarget(req: { tenantId: string; conversationId: string; mediaIds: string[] }): string[] {
  if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
  if (!UUID.test(req.conversationId)) throw invalid("conversation_id", "must be a lowercase UUID");
  const ids = req.mediaIds;
  if (ids.length === 0 || ids.length > MAX_ATTACH) throw invalid("media_ids", `between 1 and ${MAX_ATTACH}`);
  ids.forEach((id, i) => {
    if (!UUID.test(id)) throw invalid(`media_ids[${i}]`, "must be a lowercase UUID");
  });
  if (new Set(ids).size !== ids.length) throw invalid("media_ids", "must be unique");
  return ids;
}

/**
 * caas.media.v1.MediaInternalService: chat attaches READY media to a conversation before it
 * commits a message naming them. The request names the tenant (the caller is a verified
 * service); the authority is the uploader (a send) or a conversation the media is already
 * attached to (a forward).
 */
export class MediaInternalServiceImpl implements Omit<ServiceImpl<typeof MediaInternalService>, ExportRpcNames> {
  constructor(private readonly deps: MediaDeps) {}

  async attachMedia(req: AttachMediaRequest, ctx: HandlerContext): Promise<AttachMediaResponse> {
    requireService(ctx);
    const ids = checkTarget(req);
    const authority = req.authority;
    if (authority.case === "uploaderId" && !USER_ID.test(authority.value)) throw invalid("uploader_id", "must be a user id");
    if (authority.case === "sourceConversationId" && !UUID.test(authority.value)) throw invalid("source_conversation_id", "must be a lowercase UUID");
    if (authority.case === undefined) throw invalid("authority", "uploader_id or source_conversation_id is required");

    const scope: TenantScope = scopeForAdmin(req.tenantId);
    const { store, clock } = this.deps;
    const byId = new Map((await store.getMany(scope, ids)).map((r) => [r.id, r]));
    const linked = authority.case === "sourceConversationId" ? await store.linkedTo(scope, authority.value, ids) : undefined;
    const records = ids.map((id) => {
      const r = byId.get(id);
      if (!r || r.deleteTimeMs > 0) throw mediaNotFound(id);
      if (authority.case === "uploaderId" && r.ownerId !== authority.value) throw mediaNotFound(id);
      if (linked && !linked.has(id)) throw mediaNotFound(id);
      return r;
    });
    const pending = records.find((r) => r.state !== "ready");
    if (pending) {
      throw new FailedPreconditionError(`media ${pending.id} is still PENDING: the uploader must complete the upload first`).about(MEDIA_RESOURCE, pending.id);
    }
    await store.link(scope, req.conversationId, ids, clock.nowMs());
    return create(AttachMediaResponseSchema, { media: records.map(mediaView) });
  }

  /** Removes the media's links to the conversation (after a delete for everyone); idempotent. */
  async detachMedia(req: DetachMediaRequest, ctx: HandlerContext): Promise<DetachMediaResponse> {
    requireService(ctx);
    const ids = checkTarget(req);
    await this.deps.store.unlink(scopeForAdmin(req.tenantId), req.conversationId, ids);
    return create(DetachMediaResponseSchema, {});
  }

  /**
   * Deletes media whose retention expired, as DeleteMedia does for the uploader: the record is
   * marked deleted, then its bytes go (a repeat deletes nothing and counts nothing).
   */
  async expireMedia(req: ExpireMediaRequest, ctx: HandlerContext): Promise<ExpireMediaResponse> {
    requireService(ctx);
    if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
    const ids = req.mediaIds;
    if (ids.length === 0 || ids.length > MAX_EXPIRE) throw invalid("media_ids", `between 1 and ${MAX_EXPIRE}`);
    ids.forEach((id, i) => {
      if (!UUID.test(id)) throw invalid(`media_ids[${i}]`, "must be a lowercase UUID");
    });
    if (new Set(ids).size !== ids.length) throw invalid("media_ids", "must be unique");
    const scope = scopeForAdmin(req.tenantId);
    const { store, blobs, clock } = this.deps;
    const live = (await store.getMany(scope, ids)).filter((r) => r.deleteTimeMs === 0);
    if (req.dryRun) return create(ExpireMediaResponseSchema, { deleted: live.length });
    let deleted = 0;
    for (const record of live) {
      if (await store.markDeleted(scope, record.id, clock.nowMs())) deleted++;
      // Read back: a completion may have made it READY (with its blob key) just before the delete.
      const tombstone = await store.get(scope, record.id);
      if (tombstone?.blobKey) await blobs.delete(scope, tombstone.blobKey);
      await blobs.delete(scope, uploadBlobKeyOf(record.id));
    }
    return create(ExpireMediaResponseSchema, { deleted });
  }
}
