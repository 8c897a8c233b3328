import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { FailedPreconditionError } from "@caas/shared/errors";
import { contentDispositionFor } from "../ports/blob-store.js";
import { bodyStream, isValidKey } from "./blob-store-fs-file.js";
import { downloadPayload, fsInternalsOf, TooLargeError, uploadPayload, type FsBlobStore, type FsInternals } from "./blob-store-fs.js";
import { FormError, FormReader } from "./multipart-reader.js";

export interface FsBlobHttpHandlerOptions {
  /** Unexpected failures (answered 500); refusals are not reported. Default: ignored. */
  onError?: (err: unknown) => void;
}

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
/** Room for the form's boundaries and fields on top of the object's `maxBytes`. */
const FORM_ALLOWANCE = 64 * 1024;
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 4096;

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
 *  - 403 for a missing, bad or expired signature (nothing is stored or parsed), 404 for paths
 *    outside the prefix, 405 for other methods.
 * A refused upload closes the connection instead of reading the rest of its body, except that a
 * short rest is read first (up to 64 KiB: a refusal mid-form, 413 while streaming or 415, and a
 * refusal before the form whose Content-Length is that small), so a client that is still
 * sending a small form sees the status rather than a broken pipe (Node 24's fetch reports the
 * broken pipe, not the early response).
 */
export function createFsBlobHttpHandler(store: FsBlobStore, options: FsBlobHttpHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const fs = fsInternalsOf(store);
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

async function download(fs: FsInternals, req: IncomingMessage, res: ServerResponse, tenant: string, key: string, params: URLSearchParams): Promise<void> {
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

async function upload(fs: FsInternals, req: IncomingMessage, res: ServerResponse, tenant: string, key: string, params: URLSearchParams): Promise<void> {
  const expires = params.get("expires") ?? "";
  const maxBytes = params.get("maxBytes") ?? "";
  const contentType = params.get("contentType") ?? "";
  if (!/^\d{1,15}$/.test(maxBytes) || !fs.verify(uploadPayload(tenant, key, params), params.get("signature"))) {
    return refuseShort(req, res, 403, "bad signature");
  }
  if (fs.clock.nowMs() > Number(expires)) return refuseShort(req, res, 403, "expired");
  const max = Number(maxBytes);
  const boundary = /^multipart\/form-data\s*;.*?\bboundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(req.headers["content-type"] ?? "");
  if (!boundary) return refuseShort(req, res, 400, "expected a multipart/form-data body");
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
 * Refuses an upload before reading its form: a body whose Content-Length is at most
 * FORM_ALLOWANCE is read (and dropped) first so the client sees the status; a longer or unsized
 * one is not read, and the connection closes.
 */
async function refuseShort(req: IncomingMessage, res: ServerResponse, status: number, message: string): Promise<void> {
  const length = Number(req.headers["content-length"] ?? Number.NaN);
  if (!req.complete && Number.isSafeInteger(length) && length <= FORM_ALLOWANCE) {
    await new Promise<void>((resolve) => {
      req
        .once("end", resolve)
        .once("close", resolve)
        .once("error", () => resolve());
      req.resume();
    });
  }
  reply(req, res, status, message);
}

function reply(req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
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
