import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { Client, CopyConditions, S3Error, type IncompleteUploadedBucketItem } from "minio";
import type { Clock } from "@caas/shared/clock";
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
  contentDispositionFor,
  type BlobInfo,
  type BlobObject,
  type BlobStore,
} from "../ports/blob-store.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { tenantOf } from "./checks.js";

export interface S3BlobStoreOptions {
  /** `http(s)://host[:port]`; or give `endPoint` (the host), `port` and `useSSL` instead. */
  endpoint?: string;
  endPoint?: string;
  port?: number;
  useSSL?: boolean;
  /**
   * `http(s)://host[:port]` clients reach the same S3 server at, when it differs from `endpoint`
   * (e.g. `http://minio:9000` inside a compose network): presigned forms and URLs name it.
   * Default: the endpoint.
   */
  publicEndpoint?: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** Created at start when missing. */
  bucket: string;
  /** Starts every object key: empty (default) or `/`-terminated segments, e.g. `caas/`. */
  prefix?: string;
  /** Stamps presigned URLs and forms (the S3 server judges their expiry by its own clock). */
  clock: Clock;
  /** Part size of multipart `put`s, at least 5 MiB (the S3 minimum, and the default). */
  partSizeBytes?: number;
  /** The largest `maxBytes` a presigned upload may allow. Default 5 GiB (the S3 single-upload limit). */
  maxUploadBytes?: number;
}

/** A `BlobStore` on an S3 bucket. */
export interface S3BlobStore extends BlobStore {
  readonly bucket: string;
  /**
   * Deletes every object and incomplete multipart upload under this store's prefix, then, with
   * `removeBucket`, the bucket if nothing else is left in it. For tests and tooling.
   */
  purge(options?: { removeBucket?: boolean }): Promise<void>;
}

const MIB = 1024 * 1024;
/** Bodies are handed to the client in slices no larger than this, so parts come out `partSize` long. */
const SLICE_BYTES = MIB;

/**
 * The cluster-mode `BlobStore` on S3 (MinIO, versitygw, AWS) through the `minio` client, which
 * only this file imports. Objects live at `<prefix><tenant>/<key>` (tenant ids contain no `/`).
 * Uploads are presigned POST policies (`eq $key`, `eq $Content-Type`, `content-length-range
 * 0..maxBytes`, expiration); downloads are presigned SigV4 GETs, with
 * `response-content-disposition` for a filename. `copy` is one server-side CopyObject (up to
 * 5 GiB, the largest upload). A `put` up to one part long is one PutObject;
 * a longer one is a multipart upload (aborted if the body fails). Any number of instances may
 * share a bucket, but concurrent multipart `put`s of one key are not supported: the client
 * resumes a pending upload of the same key.
 */
export async function createS3BlobStore(opts: S3BlobStoreOptions): Promise<S3BlobStore> {
  const { clock, bucket } = opts;
  const prefix = opts.prefix ?? "";
  if (!/^([A-Za-z0-9._-]+\/){0,8}$/.test(prefix) || prefix.length > 256) {
    throw new RangeError(`S3 prefix must be empty or /-terminated segments, got ${JSON.stringify(prefix)}`);
  }
  const partSize = opts.partSizeBytes ?? 5 * MIB;
  if (!Number.isSafeInteger(partSize) || partSize < 5 * MIB) throw new RangeError("partSizeBytes must be at least 5 MiB");
  const maxUploadBytes = checkBlobMaxBytes(opts.maxUploadBytes ?? 5 * 1024 * MIB, 5 * 1024 * MIB);
  const s3 = createMinioClient(opts, partSize);
  await s3.ensureBucket();

  const objectKey = (scope: TenantScope, key: string) => `${prefix}${tenantOf(scope)}/${checkBlobKey(key)}`;
  const notFound = (key: string) => new NotFoundError(`blob ${JSON.stringify(key)}`);

  return {
    bucket,

    async presignUpload(scope, key, options) {
      const name = objectKey(scope, key);
      const contentType = checkBlobContentType(options.contentType);
      const maxBytes = checkBlobMaxBytes(options.maxBytes, maxUploadBytes);
      const seconds = checkBlobExpiresIn(options.expiresInSeconds, MAX_UPLOAD_EXPIRY_SECONDS);
      const expiresAt = new Date(clock.nowMs() + seconds * 1000);
      const { url, fields } = await s3.presignPost(name, contentType, maxBytes, expiresAt);
      return { method: "POST", url, fields, fileField: "file", expiresAt, maxBytes, contentType };
    },

    async presignDownload(scope, key, options) {
      const name = objectKey(scope, key);
      const seconds = checkBlobExpiresIn(options.expiresInSeconds, MAX_DOWNLOAD_EXPIRY_SECONDS);
      const filename = options.filename === undefined ? undefined : checkBlobFilename(options.filename);
      // X-Amz-Date has whole seconds: sign at the whole second so expiresAt is exact.
      const signedAt = Math.floor(clock.nowMs() / 1000) * 1000;
      const url = await s3.presignGet(name, seconds, new Date(signedAt), filename);
      return { url, expiresAt: new Date(signedAt + seconds * 1000) };
    },

    async stat(scope, key) {
      const info = await s3.stat(objectKey(scope, key));
      if (!info) throw notFound(key);
      return info;
    },

    async get(scope, key) {
      const object = await s3.get(objectKey(scope, key));
      if (!object) throw notFound(key);
      return object;
    },

    async put(scope, key, body, options) {
      const name = objectKey(scope, key);
      const contentType = checkBlobContentType(options.contentType);
      if (body instanceof Uint8Array) {
        const size = body.byteLength;
        const etag = size <= partSize ? await s3.put(name, Buffer.from(body.buffer, body.byteOffset, size), size, contentType) : await s3.putMultipart(name, Readable.from(slices(body)), contentType);
        return { size, contentType, etag };
      }
      if (body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
        throw new TypeError("a blob body is a Uint8Array or an async iterable of Uint8Array");
      }
      // Read up to one part: a body that ends by then is one PutObject, a longer one multipart.
      const source = body[Symbol.asyncIterator]();
      const head: Uint8Array[] = [];
      let size = 0;
      while (size <= partSize) {
        const next = await source.next();
        if (next.done) {
          const whole = Buffer.concat(head);
          return { size, contentType, etag: await s3.put(name, whole, size, contentType) };
        }
        size += checkChunk(next.value).byteLength;
        head.push(next.value);
      }
      const rest = async function* () {
        let done = false;
        try {
          for (const chunk of head) yield* slices(chunk);
          for (let next = await source.next(); !(done = next.done === true); next = await source.next()) {
            size += checkChunk(next.value).byteLength;
            yield* slices(next.value);
          }
        } finally {
          if (!done) await source.return?.();
        }
      };
      const etag = await s3.putMultipart(name, Readable.from(rest()), contentType);
      return { size, contentType, etag };
    },

    async copy(scope, fromKey, toKey, options = {}) {
      const [from, to] = checkBlobCopyKeys(fromKey, toKey);
      const copied = await s3.copy(objectKey(scope, from), objectKey(scope, to), options.ifEtag);
      if (copied === "missing") throw notFound(from);
      if (copied === "changed") throw new FailedPreconditionError(`blob ${JSON.stringify(from)} is no longer version ${options.ifEtag}`);
      // Only this store writes `to`; what it holds now is the copy.
      const info = await s3.stat(objectKey(scope, to));
      if (!info) throw notFound(to);
      return info;
    },

    async delete(scope, key) {
      await s3.remove(objectKey(scope, key));
    },

    async purge(options = {}) {
      await s3.removeAll(prefix);
      if (options.removeBucket) await s3.removeBucketIfEmpty();
    },
  };
}

/** The S3 operations this adapter uses, and nothing else (keys are full object names). */
interface S3Client {
  ensureBucket(): Promise<void>;
  presignPost(name: string, contentType: string, maxBytes: number, expiresAt: Date): Promise<{ url: string; fields: Record<string, string> }>;
  presignGet(name: string, expiresInSeconds: number, signedAt: Date, filename: string | undefined): Promise<string>;
  /** undefined when the object does not exist. */
  stat(name: string): Promise<BlobInfo | undefined>;
  get(name: string): Promise<BlobObject | undefined>;
  /** One PutObject; returns the etag. */
  put(name: string, body: Buffer, size: number, contentType: string): Promise<string>;
  /** A multipart upload of `body`, aborted when it fails; returns the etag. */
  putMultipart(name: string, body: Readable, contentType: string): Promise<string>;
  /** A server-side CopyObject (metadata copied), of version `ifEtag` only when given. */
  copy(from: string, to: string, ifEtag: string | undefined): Promise<"copied" | "missing" | "changed">;
  remove(name: string): Promise<void>;
  removeAll(prefix: string): Promise<void>;
  removeBucketIfEmpty(): Promise<void>;
}

function createMinioClient(opts: S3BlobStoreOptions, partSize: number): S3Client {
  const { bucket, region } = opts;
  const client = new Client({
    ...endpointOf(opts),
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region,
    pathStyle: true,
    // Fixed part size: otherwise a stream of unknown length is planned for 5 TiB (528 MiB parts).
    partSize,
  });
  // Presigning is computed locally (the region is given): a client on the public address signs.
  const signer =
    opts.publicEndpoint === undefined
      ? client
      : new Client({ ...endpointOf({ ...opts, endpoint: opts.publicEndpoint }), accessKey: opts.accessKey, secretKey: opts.secretKey, region, pathStyle: true });
  const missing = (err: unknown) => err instanceof S3Error && (err.code === "NoSuchKey" || err.code === "NotFound");
  const unquote = (etag: string) => etag.replace(/^"|"$/g, "");

  return {
    async ensureBucket() {
      if (await client.bucketExists(bucket)) return;
      try {
        await client.makeBucket(bucket, region);
      } catch (err) {
        // Another instance created it first.
        if (!(err instanceof S3Error && /^BucketAlready(OwnedByYou|Exists)$/.test(err.code ?? ""))) throw err;
      }
    },

    async presignPost(name, contentType, maxBytes, expiresAt) {
      const policy = signer.newPostPolicy();
      policy.setBucket(bucket);
      policy.setKey(name);
      policy.setContentType(contentType);
      policy.setContentLengthRange(0, maxBytes);
      policy.setExpires(expiresAt);
      const { postURL, formData } = await signer.presignedPostPolicy(policy);
      // The bucket is named by the URL; its form field is not checked by every server, so leave it out.
      const fields: Record<string, string> = {};
      for (const [field, value] of Object.entries(formData)) {
        if (field !== "bucket") fields[field] = String(value);
      }
      return { url: postURL, fields };
    },

    presignGet(name, expiresInSeconds, signedAt, filename) {
      const headers: Record<string, string> = filename === undefined ? {} : { "response-content-disposition": contentDispositionFor(filename) };
      return signer.presignedGetObject(bucket, name, expiresInSeconds, headers, signedAt);
    },

    async stat(name) {
      try {
        const stat = await client.statObject(bucket, name);
        const contentType = String(stat.metaData["content-type"] ?? "application/octet-stream");
        return { size: stat.size, contentType, etag: unquote(stat.etag) };
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },

    async get(name) {
      let body: Readable;
      try {
        body = await client.getObject(bucket, name);
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
      // The client answers with the HTTP response itself: its headers describe exactly these bytes.
      const headers = (body as Partial<IncomingMessage>).headers;
      const size = Number(headers?.["content-length"]);
      if (!headers || !Number.isSafeInteger(size)) {
        body.destroy();
        throw new Error("S3 GetObject answered without a Content-Length");
      }
      return {
        size,
        contentType: headers["content-type"] ?? "application/octet-stream",
        etag: unquote(String(headers.etag ?? "")),
        body,
      };
    },

    async put(name, body, size, contentType) {
      const { etag } = await client.putObject(bucket, name, body, size, { "Content-Type": contentType });
      return unquote(etag);
    },

    async putMultipart(name, body, contentType) {
      // The client pipes `body` without watching it for errors (a failing body would hang the
      // upload forever), so watch it here; the abandoned upload is aborted below.
      const bodyFailed = new Promise<never>((_, reject) => body.once("error", reject));
      const upload = client.putObject(bucket, name, body, undefined, { "Content-Type": contentType });
      for (const p of [bodyFailed, upload]) p.catch(() => {}); // settled late or never: not unhandled
      try {
        const { etag } = await Promise.race([upload, bodyFailed]);
        return unquote(etag);
      } catch (err) {
        body.destroy();
        await client.removeIncompleteUpload(bucket, name).catch(() => {});
        throw err;
      }
    },

    async copy(from, to, ifEtag) {
      const conditions = new CopyConditions();
      if (ifEtag !== undefined) conditions.setMatchETag(`"${ifEtag}"`);
      try {
        await client.copyObject(bucket, to, `/${bucket}/${from}`, conditions);
        return "copied";
      } catch (err) {
        if (missing(err)) return "missing";
        if (err instanceof S3Error && err.code === "PreconditionFailed") return "changed";
        throw err;
      }
    },

    async remove(name) {
      await client.removeObject(bucket, name);
    },

    async removeAll(prefix) {
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length > 0) await client.removeObjects(bucket, batch);
        batch = [];
      };
      // The streams are Node Readables, whose iterators yield `any`: name the item types they carry.
      for await (const object of client.listObjects(bucket, prefix, true) as AsyncIterable<{ name?: string }>) {
        if (object.name) batch.push(object.name);
        if (batch.length === 1000) await flush();
      }
      await flush();
      const pending = new Set<string>();
      for await (const upload of client.listIncompleteUploads(bucket, prefix, true) as AsyncIterable<IncompleteUploadedBucketItem>) pending.add(upload.key);
      for (const key of pending) await client.removeIncompleteUpload(bucket, key);
    },

    async removeBucketIfEmpty() {
      try {
        await client.removeBucket(bucket);
      } catch (err) {
        if (!(err instanceof S3Error && err.code === "BucketNotEmpty")) throw err;
      }
    },
  };
}

function endpointOf(opts: S3BlobStoreOptions): { endPoint: string; port?: number; useSSL: boolean } {
  if (opts.endpoint === undefined) {
    if (!opts.endPoint) throw new RangeError("S3 blob store needs endpoint or endPoint");
    return { endPoint: opts.endPoint, ...(opts.port === undefined ? {} : { port: opts.port }), useSSL: opts.useSSL ?? true };
  }
  const url = new URL(opts.endpoint);
  if (!/^https?:$/.test(url.protocol) || (url.pathname !== "/" && url.pathname !== "") || url.search) {
    throw new RangeError(`S3 endpoint must be http(s)://host[:port], got ${opts.endpoint}`);
  }
  const useSSL = url.protocol === "https:";
  return { endPoint: url.hostname.replace(/^\[|\]$/g, ""), port: url.port ? Number(url.port) : useSSL ? 443 : 80, useSSL };
}

function* slices(data: Uint8Array): Generator<Buffer> {
  for (let at = 0; at < data.byteLength; at += SLICE_BYTES) {
    yield Buffer.from(data.buffer, data.byteOffset + at, Math.min(SLICE_BYTES, data.byteLength - at));
  }
}

function checkChunk(chunk: unknown): Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new TypeError("blob body chunks must be Uint8Array");
  return chunk;
}
