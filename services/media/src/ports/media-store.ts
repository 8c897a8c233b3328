import type { TenantScope } from "@caas/shared/tenant-scope";

/** Where a media record stands: reserved by CreateUpload, or confirmed by CompleteUpload. */
export type MediaStateKind = "pending" | "ready";

/**
 * One uploaded (or reserved) file of a tenant. Its upload form writes `uploadBlobKeyOf(id)`;
 * CompleteUpload copies the checked bytes to `blobKey`, which no form is ever signed for.
 */
export interface MediaRecord {
  /** UUIDv7, assigned by the service. */
  id: string;
  ownerId: string;
  /** File name shown to recipients (1-255 characters). */
  name: string;
  /** The exact content type the upload form signs and downloads serve. */
  mimeType: string;
  /** The largest size the upload form accepts, as declared at CreateUpload. */
  maxBytes: number;
  /** Bytes stored; 0 while pending. */
  sizeBytes: number;
  state: MediaStateKind;
  createTimeMs: number;
  /** When it became ready; 0 while pending. */
  readyTimeMs: number;
  /** When it was deleted; 0 while live. A deleted record stays as a tombstone (owner-idempotent delete). */
  deleteTimeMs: number;
  /** Where the READY bytes live (`readyBlobKeyOf`); "" while pending. Written once, never changed. */
  blobKey: string;
}

/** A record whose upload key may still hold bytes, and its tenant (MediaStore.uploadsToSweep). */
export interface UploadToSweep {
  tenantId: string;
  record: MediaRecord;
}

/** The most links one `linkedConversations` call returns (the page size of ChatInternalService.CheckAccess). */
export const MAX_LINKS_PAGE = 100;

/** The most records one `uploadsToSweep` call returns. */
export const MAX_SWEEP_BATCH = 1000;

/**
 * Media metadata and the conversations each media is attached to (written by AttachMedia).
 * Every method takes the tenant scope first; nothing crosses tenants. Each write is atomic on
 * its own; none needs a transaction across records.
 */
export interface MediaStore {
  /** Inserts a new pending record. Ids are unique per tenant: reusing one throws `AlreadyExistsError`. */
  create(scope: TenantScope, record: MediaRecord): Promise<void>;

  /** The record (tombstones included, with `deleteTimeMs` set); undefined when the tenant has none with that id. */
  get(scope: TenantScope, id: string): Promise<MediaRecord | undefined>;

  /** The records of `ids` that exist in the tenant (tombstones included), in no particular order. At most 100 ids. */
  getMany(scope: TenantScope, ids: readonly string[]): Promise<MediaRecord[]>;

  /**
   * Makes a live pending record ready with its stored size and the key of its bytes. Idempotent:
   * an already ready record is returned unchanged (the first size, time and key stay). Returns
   * the record as it is afterwards, or undefined when there is none (a tombstone is returned as
   * is, not made ready).
   */
  markReady(scope: TenantScope, id: string, ready: { sizeBytes: number; readyTimeMs: number; blobKey: string }): Promise<MediaRecord | undefined>;

  /** Turns the record into a tombstone. Idempotent (the first delete time stays); false when there is no record. */
  markDeleted(scope: TenantScope, id: string, deleteTimeMs: number): Promise<boolean>;

  /**
   * Records that each of `mediaIds` (at most 100) is attached to `conversationId`. Idempotent:
   * an existing link keeps its first time.
   */
  link(scope: TenantScope, conversationId: string, mediaIds: readonly string[], linkTimeMs: number): Promise<void>;

  /** Removes the links of `mediaIds` (at most 100) to `conversationId`. Idempotent; ids not linked are skipped. */
  unlink(scope: TenantScope, conversationId: string, mediaIds: readonly string[]): Promise<void>;

  /** Which of `mediaIds` (at most 100) are linked to `conversationId`. */
  linkedTo(scope: TenantScope, conversationId: string, mediaIds: readonly string[]): Promise<Set<string>>;

  /**
   * The conversations `mediaId` is linked to, ordered by conversation id, after `after`
   * (exclusive) when given, at most `limit` (1..MAX_LINKS_PAGE).
   */
  linkedConversations(scope: TenantScope, mediaId: string, query: { after?: string; limit: number }): Promise<string[]>;

  /**
   * The records `ownerId` uploaded (pending, ready and tombstones), ordered by id, after `after`
   * (exclusive) when given, at most `limit` (1..MAX_LINKS_PAGE). For data-subject exports.
   */
  ofOwner(scope: TenantScope, ownerId: string, query: { after?: string; limit: number }): Promise<MediaRecord[]>;

  /** Up to `limit` (1..MAX_LINKS_PAGE) records of the scope's tenant, any owner and state, in no set order (tenant deletion, which removes each). */
  ofTenant(scope: TenantScope, limit: number): Promise<MediaRecord[]>;

  /** Removes the record (whatever its state, tombstones too) and its links for good (data-subject erasure). Idempotent; false when there was none. */
  remove(scope: TenantScope, id: string): Promise<boolean>;

  /*
   * The sweeper's methods. Every record starts with its upload key "open" (a form may write it);
   * once its form has expired the sweeper deletes what the key holds and closes it here.
   */

  /**
   * Across all tenants, for the sweeper only: records created before `createdBefore` whose
   * upload key is still open (pending, ready and tombstones alike), oldest first (ties by tenant,
   * then id), at most `limit` (1..MAX_SWEEP_BATCH). Records leave this list when closed or removed.
   */
  uploadsToSweep(query: { createdBefore: number; limit: number }): Promise<UploadToSweep[]>;

  /**
   * Removes a live PENDING record created before `createdBefore` (an abandoned upload) for good.
   * True when this call removed it; false when there is no such record (any more): ready,
   * deleted, newer, already removed (e.g. by another instance). Pending records have no links.
   */
  removeAbandoned(scope: TenantScope, id: string, createdBefore: number): Promise<boolean>;

  /** Closes the record's upload key: `uploadsToSweep` skips it from now on. Idempotent; a missing record is ignored. */
  closeUpload(scope: TenantScope, id: string): Promise<void>;

  close(): Promise<void>;
}
