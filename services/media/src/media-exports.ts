import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Readable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import tar from "tar-stream";
import {
  DeleteExportResponseSchema,
  ExportUserDataResponseSchema,
  PresignExportDownloadResponseSchema,
  PutExportPartResponseSchema,
  SealExportResponseSchema,
  type DeleteExportRequest,
  type DeleteExportResponse,
  type ExportUserDataRequest,
  type ExportUserDataResponse,
  type PresignExportDownloadRequest,
  type PresignExportDownloadResponse,
  type PutExportPartRequest,
  type PutExportPartResponse,
  type SealExportRequest,
  type SealExportResponse,
} from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { InvalidArgumentError, NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { MediaDeps } from "./media-core.js";
import { MAX_LINKS_PAGE, type MediaRecord } from "./ports/media-store.js";
import { requireService } from "./media-internal-service.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
/** An entry path inside an export archive: a part directory, then a file name (files copied by ExportUserData sit one level deeper). */
const ENTRY_PATH = /^[a-z][a-z0-9_-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const MAX_PART_BYTES = 3 * 1024 * 1024;
const MAX_ENTRIES = 20_000;

/** The blob key of an export's entry (the blob store adds the tenant). */
export function exportEntryKey(exportId: string, path: string): string {
  return `exports/${exportId}/${path}`;
}

/** The blob key of a sealed export archive. */
export function exportArchiveKey(exportId: string): string {
  return `exports/${exportId}/archive.tar`;
}

/** The archive path of a media file's bytes. */
function filePathOf(mediaId: string): string {
  return `media/files/${mediaId}`;
}

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

function checked(req: { tenantId: string; exportId: string }): { scope: TenantScope; exportId: string } {
  if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
  if (!UUID.test(req.exportId)) throw invalid("export_id", "must be a lowercase UUID");
  return { scope: scopeForAdmin(req.tenantId), exportId: req.exportId };
}

/**
 * Media's part of data-subject exports, for the compliance service (service tokens only). The
 * archive is assembled here because the blob store is media's: compliance puts its JSON-lines
 * parts, media copies the user's files beside them inside the store, and SealExport streams all of
 * them into one tar with a manifest, a chunk at a time (memory does not grow with the archive).
 */
export class MediaExportOps {
  constructor(private readonly deps: MediaDeps) {}

  async exportUserData(req: ExportUserDataRequest, ctx: HandlerContext): Promise<ExportUserDataResponse> {
    requireService(ctx);
    const { scope, exportId } = checked(req);
    if (!USER_ID.test(req.userId)) throw invalid("user_id", "must be a user id");
    if (req.pageToken !== "" && !UUID.test(req.pageToken)) throw invalid("page_token", "not a token of this call");
    const limit = req.pageSize === 0 ? MAX_LINKS_PAGE : Math.min(req.pageSize, MAX_LINKS_PAGE);
    const records = await this.deps.store.ofOwner(scope, req.userId, { ...(req.pageToken ? { after: req.pageToken } : {}), limit });
    const out = create(ExportUserDataResponseSchema, {});
    for (const r of records) {
      const archivePath = await this.copyFile(scope, exportId, r);
      if (archivePath) out.filePaths.push(archivePath);
      out.jsonLines.push(JSON.stringify({ kind: "media", ...metadataOf(r), archivePath }));
    }
    out.nextPageToken = records.length === limit ? records[records.length - 1]!.id : "";
    return out;
  }

  async putExportPart(req: PutExportPartRequest, ctx: HandlerContext): Promise<PutExportPartResponse> {
    requireService(ctx);
    const { scope, exportId } = checked(req);
    if (!ENTRY_PATH.test(req.path) || req.path.startsWith("media/files/")) throw invalid("path", "must be <part>/<file name>");
    if (req.content.length > MAX_PART_BYTES) throw invalid("content", `at most ${MAX_PART_BYTES} bytes`);
    const info = await this.deps.blobs.put(scope, exportEntryKey(exportId, req.path), req.content, { contentType: "application/x-ndjson" });
    return create(PutExportPartResponseSchema, { size: BigInt(info.size) });
  }

  async sealExport(req: SealExportRequest, ctx: HandlerContext): Promise<SealExportResponse> {
    requireService(ctx);
    const { scope, exportId } = checked(req);
    checkedPaths(req.paths);
    let about: unknown;
    try {
      about = JSON.parse(req.aboutJson || "{}");
    } catch {
      throw invalid("about_json", "must be JSON");
    }
    const archiveKey = exportArchiveKey(exportId);
    // Sealed before (a retried call): describe the archive, finish deleting the parts.
    const sealed = await this.deps.blobs.stat(scope, archiveKey).catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err)));
    const result = sealed ? { size: sealed.size, sha256: await this.hashOf(scope, archiveKey), entries: req.paths.length + 1 } : await this.pack(scope, exportId, req.paths, about);
    for (const p of req.paths) await this.deps.blobs.delete(scope, exportEntryKey(exportId, p));
    return create(SealExportResponseSchema, { archiveSize: BigInt(result.size), archiveSha256: result.sha256, entries: result.entries });
  }

  async presignExportDownload(req: PresignExportDownloadRequest, ctx: HandlerContext): Promise<PresignExportDownloadResponse> {
    requireService(ctx);
    const { scope, exportId } = checked(req);
    if (req.expiresInSeconds < 1 || req.expiresInSeconds > 604_800) throw invalid("expires_in_seconds", "1..604800");
    if (req.filename.length === 0 || req.filename.length > 255 || /\p{Cc}/u.test(req.filename)) throw invalid("filename", "1-255 characters, no control characters");
    const key = exportArchiveKey(exportId);
    const info = await this.deps.blobs.stat(scope, key).catch((err: unknown) => Promise.reject(err instanceof NotFoundError ? new NotFoundError("export archive") : err));
    const signed = await this.deps.blobs.presignDownload(scope, key, { expiresInSeconds: req.expiresInSeconds, filename: req.filename });
    return create(PresignExportDownloadResponseSchema, { url: signed.url, expireTime: timestampFromDate(signed.expiresAt), archiveSize: BigInt(info.size) });
  }

  /** Deletes an export's archive and the named entries outside it (an export that never sealed); missing objects are skipped. */
  async deleteExport(req: DeleteExportRequest, ctx: HandlerContext): Promise<DeleteExportResponse> {
    requireService(ctx);
    const { scope, exportId } = checked(req);
    const paths = checkedPaths(req.paths);
    for (const p of paths) await this.deps.blobs.delete(scope, exportEntryKey(exportId, p));
    const key = exportArchiveKey(exportId);
    const found = await this.deps.blobs.stat(scope, key).then(
      () => true,
      (err: unknown) => (err instanceof NotFoundError ? false : Promise.reject(err)),
    );
    await this.deps.blobs.delete(scope, key);
    return create(DeleteExportResponseSchema, { archiveDeleted: found });
  }

  /** Copies a live READY file's bytes into the export (inside the blob store); its archive path, or "" when there are none to copy. */
  private async copyFile(scope: TenantScope, exportId: string, r: MediaRecord): Promise<string> {
    if (r.state !== "ready" || r.deleteTimeMs > 0 || r.blobKey === "") return "";
    const path = filePathOf(r.id);
    try {
      await this.deps.blobs.copy(scope, r.blobKey, exportEntryKey(exportId, path));
      return path;
    } catch (err) {
      if (err instanceof NotFoundError) return "";
      throw err;
    }
  }

  /** Streams the entries and the manifest into the archive object; the archive's size, hash and entry count. */
  private async pack(scope: TenantScope, exportId: string, paths: string[], about: unknown): Promise<{ size: number; sha256: string; entries: number }> {
    const pack = tar.pack();
    // A failed feed destroys the pack: the error reaches put through the body's iteration, not as an 'error' event nobody listens to.
    pack.on("error", () => undefined);
    const archiveHash = createHash("sha256");
    const body = (async function* () {
      for await (const chunk of pack as AsyncIterable<Uint8Array>) {
        archiveHash.update(chunk);
        yield chunk;
      }
    })();
    const mtime = new Date(this.deps.clock.nowMs());
    const feed = async () => {
      const entries: { path: string; size: number; sha256: string }[] = [];
      for (const path of paths) {
        const obj = await this.deps.blobs
          .get(scope, exportEntryKey(exportId, path))
          .catch((err: unknown) => Promise.reject(err instanceof NotFoundError ? new NotFoundError(`export part ${path}`) : err));
        entries.push({ path, size: obj.size, sha256: await writeEntry(pack, path, obj.size, obj.body, mtime) });
      }
      const manifest = Buffer.from(`${JSON.stringify({ format: "caas-export/1", export: about, entries }, null, 2)}\n`);
      await new Promise<void>((resolve, reject) => pack.entry({ name: "manifest.json", size: manifest.length, mtime }, manifest, (err) => (err ? reject(err) : resolve())));
      pack.finalize();
    };
    const fed = feed().catch((err: unknown) => {
      pack.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    const [info] = await Promise.all([this.deps.blobs.put(scope, exportArchiveKey(exportId), body, { contentType: "application/x-tar" }), fed]);
    return { size: info.size, sha256: archiveHash.digest("hex"), entries: paths.length + 1 };
  }

  private async hashOf(scope: TenantScope, key: string): Promise<string> {
    const obj = await this.deps.blobs.get(scope, key);
    const hash = createHash("sha256");
    for await (const chunk of obj.body as AsyncIterable<Uint8Array>) hash.update(chunk);
    return hash.digest("hex");
  }
}

/** Writes one tar entry from a stream, honouring back-pressure; the hex SHA-256 of its bytes. */
async function writeEntry(pack: tar.Pack, name: string, size: number, body: Readable, mtime: Date): Promise<string> {
  const hash = createHash("sha256");
  let entry!: ReturnType<tar.Pack["entry"]>;
  const done = new Promise<void>((resolve, reject) => {
    entry = pack.entry({ name, size, mtime }, (err) => (err ? reject(err) : resolve()));
  });
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      if (!entry.write(chunk)) await once(entry as unknown as NodeJS.EventEmitter, "drain");
    }
    entry.end();
  } catch (err) {
    entry.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  await done;
  return hash.digest("hex");
}

/** Entry paths as SealExport and DeleteExport take them: at most MAX_ENTRIES, unique, no "." or ".." segments. */
function checkedPaths(paths: string[]): string[] {
  if (paths.length > MAX_ENTRIES) throw invalid("paths", `at most ${MAX_ENTRIES}`);
  paths.forEach((p, i) => {
    if (!ENTRY_PATH.test(p) || p.split("/").some((s) => s === "." || s === "..")) throw invalid(`paths[${i}]`, "must be an archive path");
  });
  if (new Set(paths).size !== paths.length) throw invalid("paths", "must be unique");
  return paths;
}

function metadataOf(r: MediaRecord) {
  const { id, name, mimeType, sizeBytes, state, createTimeMs, readyTimeMs, deleteTimeMs } = r;
  return { id, name, mimeType, sizeBytes, state, createTimeMs, readyTimeMs, deleteTimeMs };
}
