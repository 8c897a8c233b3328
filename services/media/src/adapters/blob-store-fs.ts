import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { copyFile, link, mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Clock } from "@caas/shared/clock";
import { PRIVATE_DIR_MODE } from "@caas/shared/data-dir";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import {
  MAX_DOWNLOAD_EXPIRY_SECONDS,
  MAX_UPLOAD_EXPIRY_SECONDS,
  checkBlobCopyKeys,
  checkBlobKey,
  checkBlobContentType,
  checkBlobExpiresIn,
  checkBlobFilename,
  checkBlobMaxBytes,
  type BlobInfo,
  type BlobStore,
} from "../ports/blob-store.js";
import { tenantOf } from "./checks.js";
import { bodyStream, chunksOf, encodeHeader, HEADER_BYTES, isMissing, openBlobFile, writeAll } from "./blob-store-fs-file.js";

export interface FsBlobStoreOptions {
  /** Directory of every tenant's objects (created when first written). */
  root: string;
  /**
   * Absolute URL where `createFsBlobHttpHandler` is reachable by clients, e.g.
   * `http://127.0.0.1:3005/blobs`. Its path is the handler's prefix (`/blobs/`).
   */
  publicBaseUrl: string;
  /** HMAC-SHA256 key of the signed URLs, at least 32 bytes; every process serving `root` shares it. */
  secret: string | Uint8Array;
  /** Stamps and checks the expiry of signed URLs. */
  clock: Clock;
  /** The largest `maxBytes` a presigned upload may allow. */
  maxUploadBytes: number;
}

/** A `BlobStore` on the local filesystem, whose signed URLs `createFsBlobHttpHandler` serves. */
export interface FsBlobStore extends BlobStore {
  /** The path prefix of every signed URL (the path of `publicBaseUrl`, ending in `/`). */
  readonly pathPrefix: string;
}

/** Thrown by an upload whose bytes exceed the signed `maxBytes` (the HTTP side answers 413). */
export class TooLargeError extends Error {}

/** What the HTTP side of the store (blob-store-fs-http.ts) reaches through `fsInternalsOf`. */
export interface FsInternals {
  readonly pathPrefix: string;
  readonly clock: Clock;
  verify(payload: readonly string[], signature: string | null): boolean;
  write(tenant: string, key: string, contentType: string, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<BlobInfo>;
  openBlob(tenant: string, key: string): Promise<{ info: BlobInfo; fh: FileHandle } | undefined>;
}

const internals = new WeakMap<FsBlobStore, FsInternals>();

/** The internals of a store made by `createFsBlobStore`, or undefined for any other object. */
export function fsInternalsOf(store: FsBlobStore): FsInternals | undefined {
  return internals.get(store);
}

/**
 * The embedded-mode `BlobStore`: objects are files under `<root>/<tenant>/<key>` (key segments
 * are directories), written to `<root>/.tmp` first, synced, then renamed into place, so a partial
 * upload is never visible. Presigned URLs are HMAC-SHA256 signed (method, tenant, key, expiry,
 * and for uploads the maximum size and content type) and served by `createFsBlobHttpHandler`,
 * which the media service mounts under `publicBaseUrl`. `copy` hard-links the source file into
 * the temp dir and renames it into place (copying the bytes where hard links are unavailable).
 * Several processes may share one root on
 * one filesystem (with one secret); empty directories left by deletes are not removed.
 */
export function createFsBlobStore(opts: FsBlobStoreOptions): FsBlobStore {
  const { root, clock } = opts;
  const secret = typeof opts.secret === "string" ? Buffer.from(opts.secret, "utf8") : Buffer.from(opts.secret);
  if (secret.length < 32) throw new RangeError("the blob URL secret must be at least 32 bytes");
  const maxUploadBytes = checkBlobMaxBytes(opts.maxUploadBytes, Number.MAX_SAFE_INTEGER);
  const base = new URL(opts.publicBaseUrl);
  if (!/^https?:$/.test(base.protocol) || base.search || base.hash) {
    throw new RangeError(`publicBaseUrl must be an http(s) URL without query or fragment, got ${opts.publicBaseUrl}`);
  }
  const pathPrefix = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
  const urlBase = `${base.origin}${pathPrefix}`;
  const tmpDir = join(root, ".tmp"); // tenant ids contain no ".", so no tenant directory is named so
  let tmpReady: Promise<unknown> | undefined;

  const blobPath = (tenant: string, key: string) => join(root, tenant, ...key.split("/"));
  const sign = (payload: readonly string[]) =>
    createHmac("sha256", secret)
      .update(["caas-blob-v1", ...payload].join("\n"))
      .digest();

  const tmpFile = async () => {
    tmpReady ??= mkdir(tmpDir, { recursive: true, mode: PRIVATE_DIR_MODE }).catch((err: unknown) => {
      tmpReady = undefined;
      throw err;
    });
    await tmpReady;
    return join(tmpDir, randomUUID());
  };
  /** Moves a finished temp file onto `key` in one rename (replacing what was there). */
  const place = async (tmp: string, tenant: string, key: string) => {
    const target = blobPath(tenant, key);
    try {
      await mkdir(dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
      await rename(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST" || code === "ENOTDIR" || code === "EISDIR" || code === "ENOTEMPTY") {
        throw new FailedPreconditionError(`blob key ${JSON.stringify(key)} conflicts with another key's directory`);
      }
      throw err;
    }
  };

  const fs: FsInternals = {
    pathPrefix,
    clock,
    verify(payload, signature) {
      if (signature === null || !/^[0-9a-f]{64}$/.test(signature)) return false;
      return timingSafeEqual(sign(payload), Buffer.from(signature, "hex"));
    },

    async write(tenant, key, contentType, source, maxBytes) {
      const tmp = await tmpFile();
      const fh = await open(tmp, "wx", 0o600);
      let closed = false;
      let renamed = false;
      try {
        const md5 = createHash("md5");
        let size = 0;
        for await (const chunk of source) {
          if (!(chunk instanceof Uint8Array)) throw new TypeError("blob body chunks must be Uint8Array");
          if (size + chunk.byteLength > maxBytes) throw new TooLargeError();
          md5.update(chunk);
          await writeAll(fh, chunk, HEADER_BYTES + size);
          size += chunk.byteLength;
        }
        const info: BlobInfo = { size, contentType, etag: md5.digest("hex") };
        await writeAll(fh, encodeHeader(info), 0);
        await fh.datasync();
        closed = true;
        await fh.close();
        await place(tmp, tenant, key);
        renamed = true;
        return info;
      } finally {
        if (!closed) await fh.close().catch(() => {});
        if (!renamed) await unlink(tmp).catch(() => {});
      }
    },

    async openBlob(tenant, key) {
      return openBlobFile(blobPath(tenant, key));
    },
  };

  const store: FsBlobStore = {
    pathPrefix,

    async presignUpload(scope, key, options) {
      const tenant = tenantOf(scope);
      checkBlobKey(key);
      const contentType = checkBlobContentType(options.contentType);
      const maxBytes = checkBlobMaxBytes(options.maxBytes, maxUploadBytes);
      const expiresAt = clock.nowMs() + checkBlobExpiresIn(options.expiresInSeconds, MAX_UPLOAD_EXPIRY_SECONDS) * 1000;
      const params = new URLSearchParams({ expires: String(expiresAt), maxBytes: String(maxBytes), contentType });
      params.set("signature", sign(uploadPayload(tenant, key, params)).toString("hex"));
      return {
        method: "POST",
        url: `${urlBase}${tenant}/${key}?${params.toString()}`,
        fields: { "Content-Type": contentType },
        fileField: "file",
        expiresAt: new Date(expiresAt),
        maxBytes,
        contentType,
      };
    },

    async presignDownload(scope, key, options) {
      const tenant = tenantOf(scope);
      checkBlobKey(key);
      const expiresAt = clock.nowMs() + checkBlobExpiresIn(options.expiresInSeconds, MAX_DOWNLOAD_EXPIRY_SECONDS) * 1000;
      const params = new URLSearchParams({ expires: String(expiresAt) });
      if (options.filename !== undefined) params.set("filename", checkBlobFilename(options.filename));
      params.set("signature", sign(downloadPayload(tenant, key, params)).toString("hex"));
      return { url: `${urlBase}${tenant}/${key}?${params.toString()}`, expiresAt: new Date(expiresAt) };
    },

    async stat(scope, key) {
      const blob = await fs.openBlob(tenantOf(scope), checkBlobKey(key));
      if (!blob) throw new NotFoundError(`blob ${JSON.stringify(key)}`);
      await blob.fh.close();
      return blob.info;
    },

    async get(scope, key) {
      const blob = await fs.openBlob(tenantOf(scope), checkBlobKey(key));
      if (!blob) throw new NotFoundError(`blob ${JSON.stringify(key)}`);
      return { ...blob.info, body: bodyStream(blob.fh, blob.info.size) };
    },

    async put(scope, key, body, options) {
      const tenant = tenantOf(scope);
      checkBlobKey(key);
      const contentType = checkBlobContentType(options.contentType);
      return fs.write(tenant, key, contentType, chunksOf(body), Number.POSITIVE_INFINITY);
    },

    async copy(scope, fromKey, toKey, options = {}) {
      const tenant = tenantOf(scope);
      const [from, to] = checkBlobCopyKeys(fromKey, toKey);
      const source = blobPath(tenant, from);
      const tmp = await tmpFile();
      let placed = false;
      try {
        // Object files are never changed in place (every write renames a new file over the old),
        // so a hard link is a copy that later writes or deletes of the source leave alone.
        try {
          await link(source, tmp);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (isMissing(err)) throw new NotFoundError(`blob ${JSON.stringify(from)}`);
          if (code !== "EPERM" && code !== "EXDEV" && code !== "EMLINK" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
          // No hard link here (or the source is a directory): copy the file's bytes instead.
          try {
            await copyFile(source, tmp, fsConstants.COPYFILE_EXCL);
          } catch (copyErr) {
            if (isMissing(copyErr)) throw new NotFoundError(`blob ${JSON.stringify(from)}`);
            throw copyErr;
          }
          const fh = await open(tmp, "r+");
          await fh.datasync().finally(() => fh.close());
        }
        const blob = await openBlobFile(tmp);
        if (!blob) throw new NotFoundError(`blob ${JSON.stringify(from)}`);
        await blob.fh.close();
        if (options.ifEtag !== undefined && blob.info.etag !== options.ifEtag) {
          throw new FailedPreconditionError(`blob ${JSON.stringify(from)} is no longer version ${options.ifEtag}`);
        }
        await place(tmp, tenant, to);
        placed = true;
        return blob.info;
      } finally {
        if (!placed) await unlink(tmp).catch(() => {});
      }
    },

    async delete(scope, key) {
      const path = blobPath(tenantOf(scope), checkBlobKey(key));
      try {
        await unlink(path);
      } catch (err) {
        if (!isMissing(err) && (err as NodeJS.ErrnoException).code !== "EPERM") throw err;
      }
    },
  };
  internals.set(store, fs);
  return store;
}

/** What an upload URL signs: method, tenant, key, expiry, maximum size and content type. */
export function uploadPayload(tenant: string, key: string, params: URLSearchParams): string[] {
  const get = (name: string) => params.get(name) ?? "";
  return ["POST", tenant, key, get("expires"), get("maxBytes"), get("contentType")];
}

/** What a download URL signs: method, tenant, key, expiry and the download filename. */
export function downloadPayload(tenant: string, key: string, params: URLSearchParams): string[] {
  return ["GET", tenant, key, params.get("expires") ?? "", params.get("filename") ?? ""];
}
