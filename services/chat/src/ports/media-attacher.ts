import type { TenantScope } from "@caas/shared/tenant-scope";

/** What a message's attachment takes from a media record (caas.media.v1.Media). */
export interface AttachedMedia {
  id: string;
  /** The uploaded file name (the attachment's default name). */
  name: string;
  mimeType: string;
  sizeBytes: bigint;
}

/**
 * Whose authority attaches media: a send attaches the sender's own uploads; a forward attaches
 * media already attached to the source conversation (the caller checked that the forwarding user
 * can read the source message there).
 */
export type AttachAuthority = { uploaderId: string } | { sourceConversationId: string };

/**
 * The media service as chat needs it: attaching uploaded media to a conversation before a
 * message that names them is committed, so the conversation's members may then read them.
 */
export interface MediaAttacher {
  /**
   * Attaches READY media to `conversationId` and returns their records, one per id, in request
   * order (1..10 unique lowercase UUIDs). Idempotent: attaching again changes nothing.
   * Errors: NotFoundError when a media id is unknown in the tenant, deleted, not the uploader's
   * (uploaderId) or not attached to the source conversation (sourceConversationId);
   * FailedPreconditionError when one is still PENDING; UnavailableError when the media service
   * cannot be reached (the caller then commits nothing).
   */
  attach(scope: TenantScope, conversationId: string, mediaIds: readonly string[], authority: AttachAuthority): Promise<AttachedMedia[]>;

  /**
   * Detaches media (1..10 unique ids) from `conversationId` after the message naming them was
   * deleted for everyone, so its members can no longer read them through it. Idempotent.
   * Rejects (UnavailableError or other) when the media service did not do it: the caller retries.
   */
  detach(scope: TenantScope, conversationId: string, mediaIds: readonly string[]): Promise<void>;
}
