import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { MediaState } from "@caas/gen/caas/media/v1/media_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { createLogger } from "@caas/shared/logger";
import { FakeClock, systemClock } from "@caas/shared/clock";
import { NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { createS3BlobStore } from "../src/adapters/blob-store-s3.js";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { uploadBlobKeyOf } from "../src/media-core.js";
import { DEFAULT_SWEEP_GRACE_MS, MediaSweeper } from "../src/media-sweeper.js";
import { openMediaWorld, type MediaWorld } from "./support/world.js";
import { bytesOf, postForm } from "./support/upload.js";

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const s3Endpoint = infraEnv("CAAS_S3_ENDPOINT");
const dir = mkdtempSync(join(tmpdir(), "caas-media-cluster-"));
const dbName = `${RUN_PREFIX}_media_service`;
const bucket = `caas-media-test-${randomUUID().slice(0, 8)}`;

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

describe.skipIf(!mongoUrl || !s3Endpoint)("the media service on cluster adapters (MongoDB protocol store, S3 POST policies on versitygw)", () => {
  const s3 = {
    endpoint: s3Endpoint!,
    // Clients reach the server by another name than the service does (a compose network's minio:9000).
    publicEndpoint: s3Endpoint?.replace("127.0.0.1", "localhost"),
    accessKey: process.env.CAAS_S3_ACCESS_KEY ?? "",
    secretKey: process.env.CAAS_S3_SECRET_KEY ?? "",
    region: process.env.CAAS_S3_REGION ?? "us-east-1",
    bucket,
  };
  let w: MediaWorld;
  beforeEach(async () => {
    w = await openMediaWorld(dir, { s3, backend: { kind: "mongo", url: mongoUrl!, database: dbName, appName: "media-test", collectionPrefix: `t${randomUUID().slice(0, 8)}_` } });
  });
  afterEach(() => w.close());
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
    await (await createS3BlobStore({ ...s3, clock: systemClock })).purge({ removeBucket: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("uploads with the presigned POST policy, completes, downloads the bytes, and deletes them", async () => {
    const alice = w.media("alice");
    const bytes = randomBytes(70_000);
    const { media: m, upload } = await alice.createUpload({ name: "clip.mp4", mimeType: "video/mp4", sizeBytes: BigInt(bytes.length) });
    expect(upload!.url.startsWith(s3.publicEndpoint!)).toBe(true);
    expect(s3.publicEndpoint).not.toBe(s3Endpoint);
    expect((await failure(alice.completeUpload({ mediaId: m!.id }))).code).toBe(Code.FailedPrecondition);
    const posted = await postForm(upload!, bytes);
    expect(posted.status).toBeLessThan(300);
    const ready = (await alice.completeUpload({ mediaId: m!.id })).media!;
    expect(ready).toMatchObject({ state: MediaState.READY, sizeBytes: BigInt(bytes.length) });
    expect((await alice.getMedia({ mediaId: m!.id })).media).toEqual(ready);
    const { url } = await alice.getDownloadUrl({ mediaId: m!.id });
    expect(url.startsWith(s3.publicEndpoint!)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    expect(res.headers.get("content-disposition")).toContain('filename="clip.mp4"');
    expect(Buffer.from(await bytesOf(res)).equals(bytes)).toBe(true);
    expect((await failure(w.media("bob").getMedia({ mediaId: m!.id }))).code).toBe(Code.NotFound);

    await alice.deleteMedia({ mediaId: m!.id });
    expect((await failure(alice.getMedia({ mediaId: m!.id }))).code).toBe(Code.NotFound);
  });

  it("never changes a READY media's bytes: the S3 form posted again after completion reaches no reader", async () => {
    const alice = w.media("alice");
    const v1 = randomBytes(20_000);
    const { media: m, upload } = await alice.createUpload({ name: "a.bin", mimeType: "application/octet-stream", sizeBytes: 20_000n });
    expect((await postForm(upload!, v1)).status).toBeLessThan(300);
    const ready = (await alice.completeUpload({ mediaId: m!.id })).media!;
    const before = (await alice.getDownloadUrl({ mediaId: m!.id })).url;
    const v2 = randomBytes(20_000);
    expect((await postForm(upload!, v2)).status).toBeLessThan(300); // the policy is still valid
    for (const url of [before, (await alice.getDownloadUrl({ mediaId: m!.id })).url]) {
      expect(Buffer.from(await bytesOf(await fetch(url))).equals(v1)).toBe(true);
    }
    expect((await alice.completeUpload({ mediaId: m!.id })).media).toEqual(ready);
    expect(Buffer.from(await bytesOf(await fetch((await alice.getDownloadUrl({ mediaId: m!.id })).url))).equals(v1)).toBe(true);
  });

  it("sweeps abandoned uploads and their S3 bytes from the MongoDB-protocol store, two instances at once", async () => {
    const alice = w.media("alice");
    const scope = scopeForAdmin(w.tenantId);
    const abandoned = await alice.createUpload({ name: "x.txt", mimeType: "text/plain", sizeBytes: 10n });
    expect((await postForm(abandoned.upload!, randomBytes(10))).status).toBeLessThan(300);
    const done = await alice.createUpload({ name: "y.txt", mimeType: "text/plain", sizeBytes: 10n });
    const bytes = randomBytes(10);
    expect((await postForm(done.upload!, bytes)).status).toBeLessThan(300);
    await alice.completeUpload({ mediaId: done.media!.id });
    expect((await postForm(done.upload!, randomBytes(10))).status).toBeLessThan(300);

    // The service signs with the real clock (S3 judges the forms); the sweepers run an hour and a half ahead.
    const logger = createLogger({ service: "media-test", instance: "t", level: "silent" });
    const ahead = new FakeClock(Date.now() + 900_000 + DEFAULT_SWEEP_GRACE_MS + 60_000);
    const sweepers = [0, 1].map(() => new MediaSweeper({ deps: { ...w.deps, clock: ahead }, logger }));
    const results = await Promise.all(sweepers.map((s) => s.sweep()));
    expect(results.reduce((n, r) => n + r.removed, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.failed, 0)).toBe(0);
    expect(await sweepers[0]!.sweep()).toEqual({ removed: 0, closed: 0, failed: 0 });

    expect(await w.store.get(scope, abandoned.media!.id)).toBeUndefined();
    expect((await failure(alice.getMedia({ mediaId: abandoned.media!.id }))).code).toBe(Code.NotFound);
    for (const m of [abandoned, done]) await expect(w.blobs.stat(scope, uploadBlobKeyOf(m.media!.id))).rejects.toBeInstanceOf(NotFoundError);
    expect(Buffer.from(await bytesOf(await fetch((await alice.getDownloadUrl({ mediaId: done.media!.id })).url))).equals(bytes)).toBe(true);
  });

  it("refuses bytes over the declared size at S3 and completes nothing", async () => {
    const alice = w.media("alice");
    const { media: m, upload } = await alice.createUpload({ name: "a.txt", mimeType: "text/plain", sizeBytes: 100n });
    const posted = await postForm(upload!, randomBytes(101));
    expect(posted.status).toBeGreaterThanOrEqual(400);
    expect((await failure(alice.completeUpload({ mediaId: m!.id }))).code).toBe(Code.FailedPrecondition);
  });
});
