import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectMongo } from "@caas/shared/mongo";
import { systemClock } from "@caas/shared/clock";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { NotFoundError } from "@caas/shared/errors";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createS3BlobStore } from "../src/adapters/blob-store-s3.js";
import { exportEntryKey } from "../src/media-exports.js";
import { openMediaWorld, type MediaWorld, type MediaWorldOptions } from "./support/world.js";
import { bytesOf, postForm } from "./support/upload.js";
import { untar } from "./support/untar.js";

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const s3Endpoint = infraEnv("CAAS_S3_ENDPOINT");
const dir = mkdtempSync(join(tmpdir(), "caas-media-exports-"));
const dbName = `${RUN_PREFIX}_media_exports`;
const bucket = `caas-media-export-${randomUUID().slice(0, 8)}`;
const s3 = {
  endpoint: s3Endpoint ?? "",
  accessKey: process.env.CAAS_S3_ACCESS_KEY ?? "",
  secretKey: process.env.CAAS_S3_SECRET_KEY ?? "",
  region: process.env.CAAS_S3_REGION ?? "us-east-1",
  bucket,
};
afterAll(async () => {
  if (mongoUrl) {
    const conn = await connectMongo(mongoUrl, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  }
  if (s3Endpoint) await (await createS3BlobStore({ ...s3, clock: systemClock })).purge({ removeBucket: true });
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/** Uploads and completes a file as `user`; its id. */
async function uploaded(w: MediaWorld, user: string, bytes: Uint8Array, tenantId = w.tenantId): Promise<string> {
  const client = w.media(user, tenantId);
  const { media, upload } = await client.createUpload({ name: `${user}.bin`, mimeType: "application/octet-stream", sizeBytes: BigInt(bytes.length) });
  expect((await postForm(upload!, bytes)).status).toBeLessThan(300);
  await client.completeUpload({ mediaId: media!.id });
  return media!.id;
}

function exportSuite(name: string, options: () => MediaWorldOptions): void {
  describe(`media exports: ${name}`, () => {
    let w: MediaWorld;
    beforeEach(async () => {
      w = await openMediaWorld(dir, options());
    });
    afterEach(() => w.close());

    it("lists a user's media in pages and copies the bytes of live READY files into the export, nobody else's", async () => {
      const svc = w.internal("svc:compliance");
      const exportId = randomUUID();
      const files = [randomBytes(1000), randomBytes(2000), randomBytes(3000)];
      const ids: string[] = [];
      for (const b of files) ids.push(await uploaded(w, "alice", b));
      const gone = ids[2]!;
      await w.media("alice").deleteMedia({ mediaId: gone });
      const { media: pending } = await w.media("alice").createUpload({ name: "later.bin", mimeType: "text/plain", sizeBytes: 5n });
      await uploaded(w, "bob", randomBytes(10));
      const otherTenant = randomUUID();
      await uploaded(w, "alice", randomBytes(10), otherTenant);

      const lines: Record<string, unknown>[] = [];
      const copied: string[] = [];
      let pageToken = "";
      let calls = 0;
      do {
        const r = await svc.exportUserData({ tenantId: w.tenantId, userId: "alice", exportId, pageSize: 2, pageToken });
        lines.push(...r.jsonLines.map((l) => JSON.parse(l) as Record<string, unknown>));
        copied.push(...r.filePaths);
        pageToken = r.nextPageToken;
        calls++;
      } while (pageToken !== "");
      expect(calls).toBe(3);
      const byId = new Map(lines.map((l) => [l.id, l]));
      expect([...byId.keys()].sort()).toEqual([...ids, pending!.id].sort());
      expect(byId.get(gone)).toMatchObject({ kind: "media", archivePath: "" });
      expect(byId.get(pending!.id)).toMatchObject({ state: "pending", archivePath: "" });
      expect(copied.sort()).toEqual([ids[0], ids[1]].map((id) => `media/files/${id}`).sort());
      const scope = scopeForAdmin(w.tenantId);
      for (const [i, id] of [ids[0], ids[1]].entries()) {
        const obj = await w.blobs.get(scope, exportEntryKey(exportId, `media/files/${id}`));
        expect(Buffer.from(await bytesOf(new Response(obj.body as unknown as ReadableStream))).equals(files[i]!)).toBe(true);
      }
      // Users and unknown tokens are refused; another tenant sees only its own alice.
      expect((await failure(w.internal(`${w.tenantId}/alice`).exportUserData({ tenantId: w.tenantId, userId: "alice", exportId }))).code).toBe(Code.PermissionDenied);
      expect((await failure(svc.exportUserData({ tenantId: w.tenantId, userId: "alice", exportId, pageToken: "nope" }))).code).toBe(Code.InvalidArgument);
      expect((await svc.exportUserData({ tenantId: otherTenant, userId: "alice", exportId: randomUUID() })).jsonLines).toHaveLength(1);
    });

    it("seals parts and files into one tar with a checksummed manifest, deletes the parts, is idempotent and downloads", async () => {
      const svc = w.internal("svc:compliance");
      const exportId = randomUUID();
      const fileId = await uploaded(w, "alice", randomBytes(5000));
      const { filePaths } = await svc.exportUserData({ tenantId: w.tenantId, userId: "alice", exportId });
      const parts = { "chat/part-000001.jsonl": randomBytes(2_500_000), "chat/part-000002.jsonl": Buffer.from('{"kind":"message"}\n'), "auth/part-000001.jsonl": Buffer.from('{"kind":"profile"}\n') };
      for (const [path, content] of Object.entries(parts)) await svc.putExportPart({ tenantId: w.tenantId, exportId, path, content });
      const paths = [...Object.keys(parts), ...filePaths];
      const sealed = await svc.sealExport({ tenantId: w.tenantId, exportId, paths, aboutJson: JSON.stringify({ userId: "alice" }) });
      expect(sealed.entries).toBe(5);

      const download = await svc.presignExportDownload({ tenantId: w.tenantId, exportId, expiresInSeconds: 60, filename: "export.tar" });
      const archive = Buffer.from(await bytesOf(await fetch(download.url)));
      expect([archive.length, sha256(archive)]).toEqual([Number(sealed.archiveSize), sealed.archiveSha256]);
      const entries = await untar(archive);
      expect(entries.map(([p]) => p)).toEqual([...paths, "manifest.json"]);
      const manifest = JSON.parse(entries[4]![1].toString("utf8")) as { export: unknown; entries: { path: string; size: number; sha256: string }[] };
      expect(manifest.export).toEqual({ userId: "alice" });
      expect(manifest.entries).toEqual(entries.slice(0, 4).map(([path, bytes]) => ({ path, size: bytes.length, sha256: sha256(bytes) })));
      expect(entries[0]![1].equals(parts["chat/part-000001.jsonl"])).toBe(true);
      expect(filePaths).toEqual([`media/files/${fileId}`]);

      // The parts are gone; sealing again describes the same archive.
      const scope = scopeForAdmin(w.tenantId);
      for (const p of paths) await expect(w.blobs.stat(scope, exportEntryKey(exportId, p))).rejects.toBeInstanceOf(NotFoundError);
      const again = await svc.sealExport({ tenantId: w.tenantId, exportId, paths, aboutJson: "{}" });
      expect([again.archiveSize, again.archiveSha256]).toEqual([sealed.archiveSize, sealed.archiveSha256]);

      // Another tenant has no such export; a missing part is NOT_FOUND; bad paths are refused.
      expect((await failure(svc.presignExportDownload({ tenantId: randomUUID(), exportId, expiresInSeconds: 60, filename: "x.tar" }))).code).toBe(Code.NotFound);
      expect((await failure(svc.sealExport({ tenantId: w.tenantId, exportId: randomUUID(), paths: ["chat/part-000001.jsonl"] }))).code).toBe(Code.NotFound);
      expect((await failure(svc.putExportPart({ tenantId: w.tenantId, exportId, path: "../escape", content: new Uint8Array(1) }))).code).toBe(Code.InvalidArgument);
      expect((await failure(svc.putExportPart({ tenantId: w.tenantId, exportId, path: "media/files/x", content: new Uint8Array(1) }))).code).toBe(Code.InvalidArgument);
      expect((await failure(w.internal(`${w.tenantId}/alice`).presignExportDownload({ tenantId: w.tenantId, exportId, expiresInSeconds: 60, filename: "x.tar" }))).code).toBe(Code.PermissionDenied);
    });

    it("deletes an export: the archive and the entries of one never sealed, idempotently, only in the caller's tenant", async () => {
      const svc = w.internal("svc:compliance");
      const scope = scopeForAdmin(w.tenantId);
      const [sealedId, openId] = [randomUUID(), randomUUID()];
      await svc.putExportPart({ tenantId: w.tenantId, exportId: sealedId, path: "auth/part-000001.jsonl", content: Buffer.from("{}\n") });
      await svc.sealExport({ tenantId: w.tenantId, exportId: sealedId, paths: ["auth/part-000001.jsonl"], aboutJson: "{}" });
      const url = (await svc.presignExportDownload({ tenantId: w.tenantId, exportId: sealedId, expiresInSeconds: 60, filename: "x.tar" })).url;
      // Another tenant naming the same export id deletes nothing.
      expect((await svc.deleteExport({ tenantId: randomUUID(), exportId: sealedId })).archiveDeleted).toBe(false);
      expect((await fetch(url)).status).toBe(200);
      expect((await svc.deleteExport({ tenantId: w.tenantId, exportId: sealedId })).archiveDeleted).toBe(true);
      expect((await fetch(url)).status).toBe(404);
      expect((await failure(svc.presignExportDownload({ tenantId: w.tenantId, exportId: sealedId, expiresInSeconds: 60, filename: "x.tar" }))).code).toBe(Code.NotFound);
      expect((await svc.deleteExport({ tenantId: w.tenantId, exportId: sealedId })).archiveDeleted).toBe(false);

      // An export that never sealed: its parts and copied files go by name.
      const fileId = await uploaded(w, "alice", randomBytes(100));
      const { filePaths } = await svc.exportUserData({ tenantId: w.tenantId, userId: "alice", exportId: openId });
      await svc.putExportPart({ tenantId: w.tenantId, exportId: openId, path: "chat/part-000001.jsonl", content: Buffer.from("{}\n") });
      const paths = ["chat/part-000001.jsonl", ...filePaths];
      expect(filePaths).toEqual([`media/files/${fileId}`]);
      expect((await svc.deleteExport({ tenantId: w.tenantId, exportId: openId, paths })).archiveDeleted).toBe(false);
      for (const p of paths) await expect(w.blobs.stat(scope, exportEntryKey(openId, p))).rejects.toBeInstanceOf(NotFoundError);
      // The user's own file is untouched; bad paths and user callers are refused.
      expect((await w.media("alice").getMedia({ mediaId: fileId })).media!.id).toBe(fileId);
      expect((await failure(svc.deleteExport({ tenantId: w.tenantId, exportId: openId, paths: ["../x"] }))).code).toBe(Code.InvalidArgument);
      expect((await failure(w.internal(`${w.tenantId}/alice`).deleteExport({ tenantId: w.tenantId, exportId: openId }))).code).toBe(Code.PermissionDenied);
    });

    it("erases a user's media: bytes at both keys, then the records and their links, in pages, idempotently", async () => {
      const svc = w.internal("svc:compliance");
      const scope = scopeForAdmin(w.tenantId);
      const mine = [await uploaded(w, "alice", randomBytes(100)), await uploaded(w, "alice", randomBytes(200))];
      const bobs = await uploaded(w, "bob", randomBytes(300));
      const keys = (await Promise.all(mine.map((id) => w.store.get(scope, id)))).flatMap((r) => [r!.blobKey, `media/${r!.id}`]);
      // READY bytes live at the ready key (completion already cleared the upload key).
      for (const k of keys.filter((_, i) => i % 2 === 0)) await w.blobs.stat(scope, k);
      const calls: [bigint, boolean][] = [];
      for (let more = true; more;) {
        const r = await svc.eraseUserData({ tenantId: w.tenantId, userId: "alice", pageSize: 1 });
        calls.push([r.mediaErased, r.more]);
        more = r.more;
      }
      expect(calls).toEqual([
        [1n, true],
        [1n, true],
        [0n, false],
      ]);
      for (const k of keys) await expect(w.blobs.stat(scope, k)).rejects.toBeInstanceOf(NotFoundError);
      expect(await w.store.ofOwner(scope, "alice", { limit: 10 })).toEqual([]);
      expect((await failure(w.media("alice").getMedia({ mediaId: mine[0]! }))).code).toBe(Code.NotFound);
      expect((await w.media("bob").getMedia({ mediaId: bobs })).media!.id).toBe(bobs);
      expect((await svc.eraseUserData({ tenantId: w.tenantId, userId: "alice" })).mediaErased).toBe(0n);
      expect((await failure(w.internal(`${w.tenantId}/alice`).eraseUserData({ tenantId: w.tenantId, userId: "alice" }))).code).toBe(Code.PermissionDenied);
    });

    it("leaves media attached to a conversation under a legal hold, reports the conversation, and pages past it", async () => {
      const svc = w.internal("svc:compliance");
      const scope = scopeForAdmin(w.tenantId);
      const [heldConv, otherConv] = [randomUUID(), randomUUID()];
      const kept = await uploaded(w, "alice", randomBytes(100));
      const linked = await uploaded(w, "alice", randomBytes(100));
      const loose = await uploaded(w, "alice", randomBytes(100));
      await w.store.link(scope, heldConv, [kept], 1);
      await w.store.link(scope, otherConv, [kept, linked], 1);
      let pageToken = "";
      let erased = 0n;
      const skipped = new Set<string>();
      for (let more = true; more;) {
        const r = await svc.eraseUserData({ tenantId: w.tenantId, userId: "alice", pageSize: 1, pageToken, heldConversationIds: [heldConv] });
        erased += r.mediaErased;
        for (const c of r.skippedConversationIds) skipped.add(c);
        ({ more, nextPageToken: pageToken } = r);
      }
      expect([erased, [...skipped]]).toEqual([2n, [heldConv]]);
      expect((await w.store.ofOwner(scope, "alice", { limit: 10 })).map((r) => r.id)).toEqual([kept]);
      expect(await w.store.get(scope, linked)).toBeUndefined();
      expect(await w.store.get(scope, loose)).toBeUndefined();
      const keptRecord = (await w.store.get(scope, kept))!;
      await w.blobs.stat(scope, keptRecord.blobKey);
      expect((await failure(svc.eraseUserData({ tenantId: w.tenantId, userId: "alice", pageToken: "not-a-token" }))).code).toBe(Code.InvalidArgument);
    });
  });
}

exportSuite("filesystem blobs, SQLite store", () => ({}));

describe.skipIf(!mongoUrl || !s3Endpoint)("cluster adapters", () => {
  exportSuite("S3 blobs on versitygw, MongoDB-protocol store", () => ({
    s3,
    backend: { kind: "mongo", url: mongoUrl!, database: dbName, appName: "media-export-test", collectionPrefix: `t${randomUUID().slice(0, 8)}_` },
  }));
});
