import { createHash } from "node:crypto";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { BlobStore } from "./ports/blob-store.js";
import { MAX_ACCESS_BATCH, type ConversationAccess } from "./ports/conversation-access.js";
import type { MediaRecord, MediaStore } from "./ports/media-store.js";

/** Everything the media RPCs run on; the composition root (or a test) builds it. */
export interface MediaDeps {
  store: MediaStore;
  /** Tenant-scoped object storage; keys come from `blobKeyOf`. */
  blobs: BlobStore;
  clock: Clock;
  /** Who may read linked media besides its owner (chat's CheckAccess in production). */
  access: ConversationAccess;
  /** The largest upload CreateUpload accepts (CAAS_MEDIA_MAX_BYTES). */
  maxUploadBytes: number;
  /** Lifetime of upload forms. Default 900 s. */
  uploadExpirySeconds?: number;
  /** Lifetime of download URLs. Default 300 s. */
  downloadExpirySeconds?: number;
  /** Publishes a deletion for the audit log (`caas.media.events.v1`); none in unit tests that do not need it. */
  publishDeleted?: (scope: TenantScope, deleted: { mediaId: string; ownerId: string; actorUserId: string; correlationId: string }) => Promise<void>;
}

/** Lifetime of upload forms unless MediaDeps says otherwise. */
export const DEFAULT_UPLOAD_EXPIRY_SECONDS = 900;

/**
 * Where a media's upload form puts the bytes (the blob store adds the tenant). The form may
 * write it again until it expires, so nothing is ever served from it: CompleteUpload copies the
 * checked bytes to `readyBlobKeyOf`.
 */
export function uploadBlobKeyOf(mediaId: string): string {
  return `media/${mediaId}`;
}

/** The upload key (`uploadBlobKeyOf`), by its first name. */
export const blobKeyOf = uploadBlobKeyOf;

/**
 * Where the bytes of a READY media live: named after the media and the etag of the version
 * CompleteUpload checked and copied (copied only if still that version), and never named in an
 * upload form. Whatever is ever written there is that one version, so the bytes readers get
 * never change.
 */
export function readyBlobKeyOf(mediaId: string, etag: string): string {
  const tag = /^[A-Za-z0-9-]{1,64}$/.test(etag) ? etag : createHash("sha256").update(etag, "utf8").digest("hex");
  return `ready/${mediaId}/${tag}`;
}

/** NOT_FOUND for a media: unknown, deleted, another tenant's, or not readable by the caller alike. */
/** The ResourceInfo type media's errors name (with the media id), so callers need not parse text. */
export const MEDIA_RESOURCE = "caas.media.v1.Media";

export function mediaNotFound(id: string): NotFoundError {
  return new NotFoundError(`media ${id}`).about(MEDIA_RESOURCE, id);
}

/**
 * The media record `userId` may read, or NOT_FOUND: the owner reads its own; anyone else only
 * live media linked to a conversation they can read (asked of chat in pages of 100 links).
 */
export async function readableMedia(deps: MediaDeps, scope: TenantScope, userId: string, id: string): Promise<MediaRecord> {
  const record = await deps.store.get(scope, id);
  if (!record || record.deleteTimeMs > 0) throw mediaNotFound(id);
  if (record.ownerId === userId) return record;
  if (await linkedAndReadable(deps, scope, userId, id)) return record;
  throw mediaNotFound(id);
}

async function linkedAndReadable(deps: MediaDeps, scope: TenantScope, userId: string, id: string): Promise<boolean> {
  let after: string | undefined;
  for (;;) {
    const page = await deps.store.linkedConversations(scope, id, { ...(after !== undefined ? { after } : {}), limit: MAX_ACCESS_BATCH });
    if (page.length === 0) return false;
    if ((await deps.access.readable(scope, userId, page)).size > 0) return true;
    if (page.length < MAX_ACCESS_BATCH) return false;
    after = page[page.length - 1];
  }
}

/**
 * Confirms an upload: the object at the upload key must exist, be no larger than declared and
 * carry the declared content type (a mismatching object is deleted; the client may upload again
 * while the form lives). The checked version is then copied inside the blob store to its ready
 * key and the record made READY with that key, and the upload key is deleted. READY records come
 * back as they are (their upload key deleted again: the form may have written it since).
 *
 * Safe to repeat after a crash at any step: before `markReady` the record is still PENDING and
 * a repeat copies again (onto the same key, for the same version); after it, a repeat returns
 * the READY record. A completion that loses a race (deleted, swept, or completed by a
 * concurrent call with another version) deletes its own copy.
 */
export async function completeUpload(deps: MediaDeps, scope: TenantScope, record: MediaRecord): Promise<MediaRecord> {
  const uploadKey = uploadBlobKeyOf(record.id);
  if (record.state === "ready") {
    if (record.blobKey !== uploadKey) await deps.blobs.delete(scope, uploadKey);
    return record;
  }
  const nothingYet = () => new FailedPreconditionError(`media ${record.id}: nothing was uploaded yet`);
  const info = await deps.blobs.stat(scope, uploadKey).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw nothingYet();
    throw err;
  });
  if (info.size > record.maxBytes || info.contentType !== record.mimeType) {
    await deps.blobs.delete(scope, uploadKey);
    throw new FailedPreconditionError(
      info.size > record.maxBytes
        ? `media ${record.id}: the upload has ${info.size} bytes, more than the declared ${record.maxBytes}; it was discarded`
        : `media ${record.id}: the upload's content type ${JSON.stringify(info.contentType)} is not the declared ${JSON.stringify(record.mimeType)}; it was discarded`,
    );
  }
  const blobKey = readyBlobKeyOf(record.id, info.etag);
  const copied = await deps.blobs.copy(scope, uploadKey, blobKey, { ifEtag: info.etag }).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw nothingYet();
    if (err instanceof FailedPreconditionError) {
      throw new FailedPreconditionError(`media ${record.id}: the upload was replaced while it was being completed; call CompleteUpload again`);
    }
    throw err;
  });
  const ready = await deps.store.markReady(scope, record.id, { sizeBytes: copied.size, readyTimeMs: deps.clock.nowMs(), blobKey });
  if (!ready || ready.deleteTimeMs > 0) {
    await deps.blobs.delete(scope, blobKey);
    throw mediaNotFound(record.id);
  }
  if (ready.blobKey !== blobKey) await deps.blobs.delete(scope, blobKey);
  await deps.blobs.delete(scope, uploadKey);
  return ready;
}
