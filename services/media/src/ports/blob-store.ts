import type { Readable } from "node:stream";
import type { TenantScope } from "@caas/shared/tenant-scope";

/**
 * How a client uploads one object without the bytes passing through a CAAS service: an
 * HTML-form-style `POST` of `multipart/form-data` (the S3 "POST policy" shape, the one S3 way
 * to enforce a maximum size and an exact content type on a presigned upload; the filesystem
 * adapter accepts the same shape). The client sends every entry of `fields`, unchanged and in
 * this order, then the bytes as a part named `fileField`, which must be the last part of the
 * form. A browser does this with `FormData` (`append` each field, then the file); the file
 * part's own filename and Content-Type are ignored: the stored content type is the signed one.
 *
 * A successful upload answers 2xx (204 unless the backend differs). A refused one answers 4xx
 * and stores nothing: bad or tampered signature, URL or field, or expired (403); more than
 * `maxBytes` bytes (413 on the filesystem, 400 `EntityTooLarge` on S3); a missing or different
 * Content-Type field (415 on the filesystem, 403 on S3). An upload replaces any object already
 * stored under the key, whole (readers see the old bytes or the new, never a mix or a prefix).
 */
export interface PresignedUpload {
  readonly method: "POST";
  readonly url: string;
  /** Form fields to send before the file, in this order; none may be changed, added to or left out. */
  readonly fields: Readonly<Record<string, string>>;
  /** The name of the file part (always the last part). */
  readonly fileField: "file";
  /** The last instant at which the upload may start; the backend judges it by its own clock. */
  readonly expiresAt: Date;
  /** Largest accepted object, in bytes (0 bytes is accepted). */
  readonly maxBytes: number;
  /** The exact content type the object is stored with. */
  readonly contentType: string;
}

/** A presigned `GET` URL (no headers needed). It answers 404 if the object is gone by then. */
export interface PresignedDownload {
  readonly url: string;
  /** The last instant at which the URL is accepted (S3 signs whole seconds: never later than asked). */
  readonly expiresAt: Date;
}

/** What a stored object is. */
export interface BlobInfo {
  /** Bytes. */
  readonly size: number;
  /** The content type it was uploaded or put with. */
  readonly contentType: string;
  /** Opaque, without quotes: versions with different bytes never share one (equal bytes may keep it). */
  readonly etag: string;
}

/** An object read server-side: its info and its bytes, which the caller must consume or destroy. */
export interface BlobObject extends BlobInfo {
  readonly body: Readable;
}

/** Bytes to store: a buffer, or a stream / async iterable of chunks (e.g. a `Readable`). */
export type BlobBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface PresignUploadOptions {
  /** Exact content type (`type/subtype`, optional `; name=value` parameters), at most 255 characters. */
  contentType: string;
  /** Largest accepted object, a positive integer number of bytes (an adapter may cap it lower). */
  maxBytes: number;
  /** Whole seconds, 1 to `MAX_UPLOAD_EXPIRY_SECONDS`. */
  expiresInSeconds: number;
}

export interface PresignDownloadOptions {
  /** Whole seconds, 1 to `MAX_DOWNLOAD_EXPIRY_SECONDS`. */
  expiresInSeconds: number;
  /** Served as `Content-Disposition: attachment` with this filename (1-255 characters, no control characters). */
  filename?: string;
}

export interface CopyBlobOptions {
  /** Copy only the source version with this etag (as `stat` returned it). */
  ifEtag?: string;
}

export interface PutBlobOptions {
  /** Exact content type, as for `presignUpload`. */
  contentType: string;
}

/**
 * Object storage for media: presigned uploads and downloads that clients use directly, plus
 * server-side reads and writes for internal use (thumbnails, exports).
 *
 * Tenancy: every method takes the caller's `scope` first and the adapter namespaces the key
 * by tenant, so the same `key` under two tenants names two unrelated objects, and nothing a
 * tenant is given (a key, a URL, an upload form) can read, write or delete another tenant's
 * object: a URL or form signed for one tenant is refused when altered to name another.
 *
 * Keys: `BLOB_KEY_PATTERN` (1-512 characters of `A-Z a-z 0-9 . _ / -`, starting with a letter
 * or digit), `/`-separated segments that are neither empty nor `.` or `..`. The filesystem
 * adapter maps segments to directories, so one key may not be a directory prefix of another
 * (`a` and `a/b`: the second write fails with `FailedPreconditionError`); the S3 adapter allows
 * both. Keep keys flat or uniformly deep.
 *
 * Consistency: each write (upload, `put`, `copy`, `delete`) is atomic; once its promise resolves (or its
 * HTTP response arrived) every later read on any instance sees it. Concurrent writes to one key:
 * the last to complete wins. Presigning does not look at the object (a download URL for a
 * missing object is valid and answers 404).
 *
 * Bad arguments (key, content type, size, expiry, filename) are programming errors and throw a
 * `RangeError`; a scope that is not a real `TenantScope` throws a `TypeError`.
 */
export interface BlobStore {
  /** A form a client can upload `key` with until `expiresInSeconds` from now. Repeatable: each call signs anew. */
  presignUpload(scope: TenantScope, key: string, options: PresignUploadOptions): Promise<PresignedUpload>;

  /** A URL that downloads `key` (with its content type and length) until `expiresInSeconds` from now. */
  presignDownload(scope: TenantScope, key: string, options: PresignDownloadOptions): Promise<PresignedDownload>;

  /** The object's size, content type and etag; `NotFoundError` when there is none for this tenant. */
  stat(scope: TenantScope, key: string): Promise<BlobInfo>;

  /** The object's info and bytes (one consistent version); `NotFoundError` when there is none. */
  get(scope: TenantScope, key: string): Promise<BlobObject>;

  /**
   * Stores `body` under `key` with `contentType`, replacing any object there, and returns what
   * was stored. Not size-capped: for internal use. Large bodies are written in parts where the
   * backend supports it (S3 multipart); nothing is visible until the whole body was stored, and
   * a body stream that fails leaves the previous object in place.
   */
  put(scope: TenantScope, key: string, body: BlobBody, options: PutBlobOptions): Promise<BlobInfo>;

  /**
   * Copies the object at `fromKey` to `toKey` of the same tenant inside the backend (the bytes do
   * not pass through the caller), replacing any object at `toKey`, and returns what was stored.
   * The copy is one consistent version of `fromKey` and independent of it from then on: a later
   * upload, put or delete of `fromKey` leaves `toKey` unchanged. Atomic like every write (readers
   * of `toKey` see the old object or the whole copy). With `ifEtag`, only the version with that
   * etag is copied: another one is `FailedPreconditionError` and nothing is written.
   * `NotFoundError` when `fromKey` has no object; `fromKey === toKey` is a RangeError.
   */
  copy(scope: TenantScope, fromKey: string, toKey: string, options?: CopyBlobOptions): Promise<BlobInfo>;

  /** Removes the object. Idempotent: deleting a missing key (or another tenant's) does nothing. */
  delete(scope: TenantScope, key: string): Promise<void>;
}

/*
 * Argument rules shared by every adapter, so all of them refuse exactly the same inputs (the
 * contract suite checks that). A bad argument is a programming error: RangeError.
 */

/** The shape of a key; `checkBlobKey` also refuses empty, `.` and `..` segments. */
export const BLOB_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,511}$/;

/** Upload forms live at most an hour (versitygw refuses POST forms signed earlier than that). */
export const MAX_UPLOAD_EXPIRY_SECONDS = 3600;

/** Download URLs live at most 7 days (the SigV4 presign limit). */
export const MAX_DOWNLOAD_EXPIRY_SECONDS = 604_800;

const CONTENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(; ?[A-Za-z0-9_.-]+=[A-Za-z0-9_.+-]+)*$/;

/** `key` if it is a valid blob key. */
export function checkBlobKey(key: unknown): string {
  if (typeof key !== "string" || !BLOB_KEY_PATTERN.test(key) || key.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new RangeError(`invalid blob key ${JSON.stringify(key)}`);
  }
  return key;
}

/** `contentType` if it is a valid exact content type. */
export function checkBlobContentType(contentType: unknown): string {
  if (typeof contentType !== "string" || contentType.length > 255 || !CONTENT_TYPE.test(contentType)) {
    throw new RangeError(`invalid content type ${JSON.stringify(contentType)}`);
  }
  return contentType;
}

/** A whole number of seconds from 1 to `max`. */
export function checkBlobExpiresIn(seconds: unknown, max: number): number {
  if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1 || seconds > max) {
    throw new RangeError(`expiresInSeconds must be an integer from 1 to ${max}, got ${String(seconds)}`);
  }
  return seconds;
}

/** A positive integer number of bytes no larger than `limit`. */
export function checkBlobMaxBytes(maxBytes: unknown, limit: number): number {
  if (typeof maxBytes !== "number" || !Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > limit) {
    throw new RangeError(`maxBytes must be an integer from 1 to ${limit}, got ${String(maxBytes)}`);
  }
  return maxBytes;
}

/** Two distinct valid keys for `copy`. */
export function checkBlobCopyKeys(fromKey: unknown, toKey: unknown): [string, string] {
  const from = checkBlobKey(fromKey);
  const to = checkBlobKey(toKey);
  if (from === to) throw new RangeError(`cannot copy blob key ${JSON.stringify(from)} onto itself`);
  return [from, to];
}

/** A download filename: 1-255 characters without control characters. */
export function checkBlobFilename(filename: unknown): string {
  if (typeof filename !== "string" || filename.length === 0 || filename.length > 255 || /\p{Cc}/u.test(filename)) {
    throw new RangeError(`invalid download filename ${JSON.stringify(filename)}`);
  }
  return filename;
}

/**
 * The `Content-Disposition` value every adapter serves for a download `filename` (RFC 6266):
 * an ASCII fallback plus the exact name as RFC 8187 `filename*`. Pure ASCII, so it survives
 * any HTTP stack.
 */
export function contentDispositionFor(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const exact = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${exact}`;
}
