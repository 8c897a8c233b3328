import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { copyFile, link, mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Clock } from "../clock.js";
import { PRIVATE_DIR_MODE } from "../data-dir.js";
import { FailedPreconditionError, NotFoundError } from "../errors.js";
import {
  MAX_DOWNLOAD_EXPIRY_SECONDS,
  MAX_UPLOAD_EXPIRY_SECONDS,
  checkBlobCopyKeys,
  checkBlobKey,
  checkBlobContentType,
  checkBlobExpiresIn,
  checkBlobFilename,
  checkBlobMaxBytes,
  contentDispositionFor,
  type BlobBody,
  type BlobInfo,
  type BlobStore,
} from "../ports/blob-store.js";
import { tenantOf } from "./checks.js";

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

export interface FsBlobHttpHandlerOptions {
  /** Unexpected failures (answered 500); refusals are not reported. Default: ignored. */
  onError?: (err: unknown) => void;
}

/*
 * Object files hold a fixed 512-byte header (magic line, JSON info, space padding) before the
 * bytes, so an object and its content type and etag are replaced by one atomic rename.
 */
const HEADER_BYTES = 512;
const MAGIC = "CAASBLOB1\n";
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
/** Room for the form's boundaries and fields on top of the object's `maxBytes`. */
const FORM_ALLOWANCE = 64 * 1024;
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 4096;

class TooLargeError extends Error {}
class FormError extends Error {}

interface FsInternals {
  readonly pathPrefix: string;
  readonly clock: Clock;
  verify(payload: readonly string[], signature: string | null): boolean;
  write(tenant: string, key: string, contentType: string, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<BlobInfo>;
  openBlob(tenant: string, key: string): Promise<{ info: BlobInfo; fh: FileHandle } | undefined>;
}

const internals = new WeakMap<FsBlobStore, FsInternals>();

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
    createHmac("sha256", secret).update(["caas-blob-v1", ...payload].join("\n")).digest();

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
        url: `${urlBase}${tenant}/${key}?${params}`,
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
      return { url: `${urlBase}${tenant}/${key}?${params}`, expiresAt: new Date(expiresAt) };
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

/**
 * The HTTP side of `createFsBlobStore`, for plain `node:http` (or the HTTP/1 side of a service
 * listener): route every request whose path starts with `store.pathPrefix` to it. It answers
 *  - `GET <prefix><tenant>/<key>?expires&[filename]&signature`: 200 with the bytes, Content-Type,
 *    Content-Length, ETag and (with a filename) Content-Disposition; 404 when there is no object;
 *  - `POST <prefix><tenant>/<key>?expires&maxBytes&contentType&signature` with the
 *    `PresignedUpload` form: 204 with the ETag once the object is stored; 413 once the file part
 *    exceeds the signed size (checked while streaming, and up front from Content-Length); 415
 *    when the form's Content-Type field is missing or differs; 400 for a malformed form; 409
 *    when the key collides with another key's directory;
 *  - 403 for a missing, bad or expired signature (nothing is read first), 404 for paths outside
 *    the prefix, 405 for other methods.
 * A refused upload closes the connection instead of reading the rest of its body, except that
 * a refusal mid-form (413 while streaming, 415) first reads up to 64 KiB more, so a client that
 * is still sending a small form sees the status rather than a broken pipe.
 */
export function createFsBlobHttpHandler(
  store: FsBlobStore,
  options: FsBlobHttpHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const fs = internals.get(store);
  if (!fs) throw new TypeError("createFsBlobHttpHandler needs a store made by createFsBlobStore");
  return (req, res) => {
    serve(fs, req, res).catch((err: unknown) => {
      options.onError?.(err);
      reply(req, res, 500, "internal error");
    });
  };
}

async function serve(fs: FsInternals, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const rest = path.startsWith(fs.pathPrefix) ? path.slice(fs.pathPrefix.length) : "";
  const slash = rest.indexOf("/");
  const tenant = rest.slice(0, Math.max(slash, 0));
  const key = rest.slice(slash + 1);
  if (!TENANT.test(tenant) || !isValidKey(key)) return reply(req, res, 404, "not found");
  if (req.method === "GET") return download(fs, req, res, tenant, key, params);
  if (req.method === "POST") return upload(fs, req, res, tenant, key, params);
  return reply(req, res, 405, "method not allowed", { allow: "GET, POST" });
}

async function download(
  fs: FsInternals,
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  key: string,
  params: URLSearchParams,
): Promise<void> {
  const expires = params.get("expires") ?? "";
  const filename = params.get("filename") ?? "";
  if (!fs.verify(downloadPayload(tenant, key, params), params.get("signature"))) {
    return reply(req, res, 403, "bad signature");
  }
  if (fs.clock.nowMs() > Number(expires)) return reply(req, res, 403, "expired");
  const blob = await fs.openBlob(tenant, key);
  if (!blob) return reply(req, res, 404, "not found");
  const { info, fh } = blob;
  res.writeHead(200, {
    "content-type": info.contentType,
    "content-length": info.size,
    etag: `"${info.etag}"`,
    "x-content-type-options": "nosniff",
    ...(filename ? { "content-disposition": contentDispositionFor(filename) } : {}),
  });
  await pipeline(bodyStream(fh, info.size), res).catch(() => res.destroy());
}

async function upload(
  fs: FsInternals,
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  key: string,
  params: URLSearchParams,
): Promise<void> {
  const expires = params.get("expires") ?? "";
  const maxBytes = params.get("maxBytes") ?? "";
  const contentType = params.get("contentType") ?? "";
  if (!/^\d{1,15}$/.test(maxBytes) || !fs.verify(uploadPayload(tenant, key, params), params.get("signature"))) {
    return reply(req, res, 403, "bad signature");
  }
  if (fs.clock.nowMs() > Number(expires)) return reply(req, res, 403, "expired");
  const max = Number(maxBytes);
  const boundary = /^multipart\/form-data\s*;.*?\bboundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(
    req.headers["content-type"] ?? "",
  );
  if (!boundary) return reply(req, res, 400, "expected a multipart/form-data body");
  if (Number(req.headers["content-length"] ?? 0) > max + FORM_ALLOWANCE) return reply(req, res, 413, "too large");

  const form = new FormReader(req, (boundary[1] ?? boundary[2])!);
  // A refusal mid-form reads a short rest of the body first: closing on a client still sending
  // it makes the client fail with EPIPE instead of seeing the status. A long rest is not read.
  const refuse = async (status: number, message: string) => {
    await form.drain(FORM_ALLOWANCE).catch(() => false);
    reply(req, res, status, message);
  };
  try {
    const fields = new Map<string, string>();
    for (;;) {
      const part = await form.nextPart();
      if (!part) return reply(req, res, 400, "the form has no file part");
      if (part.name.toLowerCase() === "file") break;
      if (fields.size >= MAX_FIELDS) throw new FormError("too many form fields");
      // Field names are case-insensitive, as on S3.
      fields.set(part.name.toLowerCase(), await form.readField(MAX_FIELD_BYTES));
    }
    if (fields.get("content-type") !== contentType) return await refuse(415, "wrong content type");
    const info = await fs.write(tenant, key, contentType, form.body(), max);
    res.writeHead(204, { etag: `"${info.etag}"`, ...(req.complete ? {} : { connection: "close" }) });
    res.end();
  } catch (err) {
    if (err instanceof TooLargeError) return await refuse(413, "too large");
    if (err instanceof FormError) return reply(req, res, 400, err.message);
    if (err instanceof FailedPreconditionError) return reply(req, res, 409, err.message);
    if (req.destroyed) return; // the client went away mid-upload: nothing was stored
    throw err;
  }
}

/**
 * A streaming reader of a multipart/form-data body (RFC 7578): parts in order, each part's body
 * as chunks, holding back only a possible partial delimiter between chunks.
 */
class FormReader {
  private readonly source: AsyncIterator<Buffer>;
  private readonly delimiter: Buffer;
  // Starts with CRLF so the first boundary line reads like every later delimiter.
  private buf: Buffer = Buffer.from("\r\n");
  private inBody = true;

  constructor(source: AsyncIterable<Buffer>, boundary: string) {
    this.source = source[Symbol.asyncIterator]();
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** The next part's name (its headers consumed), or undefined after the closing delimiter. */
  async nextPart(): Promise<{ name: string } | undefined> {
    if (this.inBody) for await (const _ of this.body()); // skips the preamble or an unread part
    while (this.buf.length < 2) await this.more();
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) return undefined; // "--": the closing delimiter
    let end: number;
    while ((end = this.buf.indexOf("\r\n\r\n")) < 0) {
      if (this.buf.length > 8192) throw new FormError("form part headers too long");
      await this.more();
    }
    const headers = this.buf.subarray(0, end).toString("latin1");
    this.buf = this.buf.subarray(end + 4);
    this.inBody = true;
    const disposition = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers);
    const name = disposition && /(?:^|;)\s*name="([^"]*)"/i.exec(disposition[1]!);
    if (!name?.[1]) throw new FormError("form part without a name");
    return { name: name[1] };
  }

  /** The current part's body, as chunks; ends at the next delimiter (consumed). */
  async *body(): AsyncGenerator<Buffer> {
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        if (at > 0) yield this.buf.subarray(0, at);
        this.buf = this.buf.subarray(at + this.delimiter.length);
        this.inBody = false;
        return;
      }
      const keep = this.delimiter.length - 1;
      if (this.buf.length > keep) {
        const out = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        yield out;
      }
      await this.more();
    }
  }

  /** Reads and drops the rest of the request body, at most `limit` bytes more; true when it ended within them. */
  async drain(limit: number): Promise<boolean> {
    let seen = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (seen <= limit) {
      const next = await this.source.next();
      if (next.done) return true;
      seen += next.value.length;
    }
    return false;
  }

  /** The current part's body as text, refusing more than `limit` bytes. */
  async readField(limit: number): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.body()) {
      size += chunk.length;
      if (size > limit) throw new FormError("form field too long");
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  private async more(): Promise<void> {
    const next = await this.source.next();
    if (next.done) throw new FormError("truncated form body");
    this.buf = this.buf.length === 0 ? next.value : Buffer.concat([this.buf, next.value]);
  }
}

function uploadPayload(tenant: string, key: string, params: URLSearchParams): string[] {
  const get = (name: string) => params.get(name) ?? "";
  return ["POST", tenant, key, get("expires"), get("maxBytes"), get("contentType")];
}

function downloadPayload(tenant: string, key: string, params: URLSearchParams): string[] {
  return ["GET", tenant, key, params.get("expires") ?? "", params.get("filename") ?? ""];
}

function reply(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    // Not reading the rest of a refused upload: close instead of draining it.
    ...(req.complete ? {} : { connection: "close" }),
    ...headers,
  });
  res.end(body);
}

/** The checked header of the object file at `path` and an open handle; undefined when there is none. */
async function openBlobFile(path: string): Promise<{ info: BlobInfo; fh: FileHandle } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(header, 0, HEADER_BYTES, 0);
    const info = bytesRead === HEADER_BYTES ? decodeHeader(header) : undefined;
    if (!info || (await fh.stat()).size !== HEADER_BYTES + info.size) throw new Error(`corrupt blob file ${path}`);
    return { info, fh };
  } catch (err) {
    await fh.close();
    if (isMissing(err)) return undefined; // e.g. EISDIR: the key is another key's directory
    throw err;
  }
}

function bodyStream(fh: FileHandle, size: number): Readable {
  if (size === 0) {
    void fh.close();
    return Readable.from([]);
  }
  return fh.createReadStream({ start: HEADER_BYTES, end: HEADER_BYTES + size - 1 });
}

function chunksOf(body: BlobBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    return (async function* () {
      yield body;
    })();
  }
  if (body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
    throw new TypeError("a blob body is a Uint8Array or an async iterable of Uint8Array");
  }
  return body;
}

async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength; ) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

function encodeHeader(info: BlobInfo): Buffer {
  const text = `${MAGIC}${JSON.stringify({ size: info.size, contentType: info.contentType, etag: info.etag })}`;
  // A content type is at most 255 ASCII characters, so the text always fits.
  const header = Buffer.alloc(HEADER_BYTES, " ");
  header.write(text, "utf8");
  header[HEADER_BYTES - 1] = 0x0a;
  return header;
}

function decodeHeader(header: Buffer): BlobInfo | undefined {
  if (header.subarray(0, MAGIC.length).toString("latin1") !== MAGIC) return undefined;
  try {
    const v = JSON.parse(header.subarray(MAGIC.length).toString("utf8")) as Partial<BlobInfo>;
    if (typeof v.size !== "number" || typeof v.contentType !== "string" || typeof v.etag !== "string") return undefined;
    return { size: v.size, contentType: v.contentType, etag: v.etag };
  } catch {
    return undefined;
  }
}

function isValidKey(key: string): boolean {
  try {
    checkBlobKey(key);
    return true;
  } catch {
    return false;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
