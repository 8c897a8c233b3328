import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { FormFieldSchema, UploadFormSchema } from "@caas/gen/caas/media/v1/media_pb.js";
import {
  CompleteUploadResponseSchema,
  CreateUploadResponseSchema,
  DeleteMediaResponseSchema,
  GetDownloadUrlResponseSchema,
  GetMediaResponseSchema,
  type CompleteUploadRequest,
  type CompleteUploadResponse,
  type CreateUploadRequest,
  type CreateUploadResponse,
  type DeleteMediaRequest,
  type DeleteMediaResponse,
  type GetDownloadUrlRequest,
  type GetDownloadUrlResponse,
  type GetMediaRequest,
  type GetMediaResponse,
  type MediaService,
} from "@caas/gen/caas/media/v1/media_service_pb.js";
import { checkBlobContentType } from "./ports/blob-store.js";
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import { correlationIdKey, principalKey } from "@caas/shared/context";
import { scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import { completeUpload, DEFAULT_UPLOAD_EXPIRY_SECONDS, mediaNotFound, readableMedia, uploadBlobKeyOf, type MediaDeps } from "./media-core.js";
import type { MediaRecord } from "./ports/media-store.js";
import { mediaView } from "./domain/views.js";

const DEFAULT_DOWNLOAD_EXPIRY_SECONDS = 300;
const NAME = /^[^\x00-\x1f\x7f/\\]+$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The caller of a MediaService RPC: a user access token only. */
export function mediaCallerOf(ctx: HandlerContext): { scope: TenantScope; userId: string } {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a user access token is required");
  if (p.kind !== "user") throw new PermissionDeniedError("MediaService serves end users with a user access token");
  return { scope: scopeFromVerifiedClaims({ tenant: p.tenantId }), userId: p.userId };
}

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

function mediaId(id: string): string {
  if (!UUID.test(id)) throw invalid("media_id", "must be a UUID");
  return id;
}

/**
 * caas.media.v1.MediaService: presigned uploads and downloads of a tenant's files. Tenant and
 * caller come from the access token; the owner may do everything with its media, others may
 * only read media attached to a conversation they can read (chat says which), and every other
 * case is NOT_FOUND without revealing existence.
 */
export class MediaServiceImpl implements ServiceImpl<typeof MediaService> {
  constructor(private readonly deps: MediaDeps) {}

  async createUpload(req: CreateUploadRequest, ctx: HandlerContext): Promise<CreateUploadResponse> {
    const { scope, userId } = mediaCallerOf(ctx);
    if (req.name.length === 0 || req.name.length > 255 || !NAME.test(req.name)) throw invalid("name", "1-255 characters, no control characters, / or \\");
    try {
      checkBlobContentType(req.mimeType);
    } catch {
      throw invalid("mime_type", "must be an exact type/subtype with optional `; name=value` parameters (tokens only, no quotes)");
    }
    if (req.sizeBytes <= 0n) throw invalid("size_bytes", "must be greater than 0");
    if (req.sizeBytes > BigInt(this.deps.maxUploadBytes)) {
      throw invalid("size_bytes", `must be at most ${this.deps.maxUploadBytes} bytes (the platform's largest upload)`);
    }
    const record: MediaRecord = {
      id: newId(),
      ownerId: userId,
      name: req.name,
      mimeType: req.mimeType,
      maxBytes: Number(req.sizeBytes),
      sizeBytes: 0,
      state: "pending",
      createTimeMs: this.deps.clock.nowMs(),
      readyTimeMs: 0,
      deleteTimeMs: 0,
      blobKey: "",
    };
    await this.deps.store.create(scope, record);
    const form = await this.deps.blobs.presignUpload(scope, uploadBlobKeyOf(record.id), {
      contentType: record.mimeType,
      maxBytes: record.maxBytes,
      expiresInSeconds: this.deps.uploadExpirySeconds ?? DEFAULT_UPLOAD_EXPIRY_SECONDS,
    });
    return create(CreateUploadResponseSchema, {
      media: mediaView(record),
      upload: create(UploadFormSchema, {
        method: form.method,
        url: form.url,
        fields: Object.entries(form.fields).map(([name, value]) => create(FormFieldSchema, { name, value })),
        fileField: form.fileField,
        expireTime: timestampFromMs(form.expiresAt.getTime()),
        maxBytes: BigInt(form.maxBytes),
        contentType: form.contentType,
      }),
    });
  }

  async completeUpload(req: CompleteUploadRequest, ctx: HandlerContext): Promise<CompleteUploadResponse> {
    const { scope, userId } = mediaCallerOf(ctx);
    const record = await this.owned(scope, userId, mediaId(req.mediaId));
    return create(CompleteUploadResponseSchema, { media: mediaView(await completeUpload(this.deps, scope, record)) });
  }

  async getMedia(req: GetMediaRequest, ctx: HandlerContext): Promise<GetMediaResponse> {
    const { scope, userId } = mediaCallerOf(ctx);
    return create(GetMediaResponseSchema, { media: mediaView(await readableMedia(this.deps, scope, userId, mediaId(req.mediaId))) });
  }

  async getDownloadUrl(req: GetDownloadUrlRequest, ctx: HandlerContext): Promise<GetDownloadUrlResponse> {
    const { scope, userId } = mediaCallerOf(ctx);
    const record = await readableMedia(this.deps, scope, userId, mediaId(req.mediaId));
    if (record.state !== "ready") throw new FailedPreconditionError(`media ${record.id} is still PENDING: complete the upload first`);
    // The READY copy, never the upload key: the form may still write that one.
    const url = await this.deps.blobs.presignDownload(scope, record.blobKey, {
      expiresInSeconds: this.deps.downloadExpirySeconds ?? DEFAULT_DOWNLOAD_EXPIRY_SECONDS,
      filename: record.name,
    });
    return create(GetDownloadUrlResponseSchema, { url: url.url, expireTime: timestampFromMs(url.expiresAt.getTime()) });
  }

  async deleteMedia(req: DeleteMediaRequest, ctx: HandlerContext): Promise<DeleteMediaResponse> {
    const { scope, userId } = mediaCallerOf(ctx);
    const id = mediaId(req.mediaId);
    const record = await this.deps.store.get(scope, id);
    // The owner may repeat a delete (the bytes are deleted again: a failed blob delete heals).
    if (record?.deleteTimeMs && record.ownerId !== userId) throw mediaNotFound(id);
    if (!record?.deleteTimeMs) await this.owned(scope, userId, id);
    await this.deps.store.markDeleted(scope, id, this.deps.clock.nowMs());
    // Read back: a completion may have made it READY (with its blob key) just before the delete.
    const tombstone = await this.deps.store.get(scope, id);
    if (tombstone?.blobKey) await this.deps.blobs.delete(scope, tombstone.blobKey);
    await this.deps.blobs.delete(scope, uploadBlobKeyOf(id));
    // Before the answer: a failed publish fails the call, and the owner's retry publishes again (same event id).
    await this.deps.publishDeleted?.(scope, { mediaId: id, ownerId: tombstone?.ownerId ?? userId, actorUserId: userId, correlationId: ctx.values.get(correlationIdKey) });
    return create(DeleteMediaResponseSchema, {});
  }

  /** A live record the caller owns; NOT_FOUND when the caller cannot read it, PERMISSION_DENIED when it can but does not own it. */
  private async owned(scope: TenantScope, userId: string, id: string): Promise<MediaRecord> {
    const record = await readableMedia(this.deps, scope, userId, id);
    if (record.ownerId !== userId) throw new PermissionDeniedError(`only the uploader may change media ${id}`);
    return record;
  }
}
