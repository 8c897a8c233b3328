import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { createServer, request, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import { FakeClock, systemClock } from "@caas/shared/clock";
import { createFsBlobHttpHandler } from "../src/adapters/blob-store-fs-http.js";
import { createFsBlobStore, type FsBlobStore } from "../src/adapters/blob-store-fs.js";
import { createS3BlobStore, type S3BlobStore } from "../src/adapters/blob-store-s3.js";
import { RUN_PREFIX, freshTenantScope, infraEnv } from "@caas/shared/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { blobStoreContract } from "./contract/blob-store.contract.js";
import { fakeTime, realTime } from "@caas/shared/testing";

const MiB = 1024 * 1024;
const SECRET = "test-secret-of-at-least-32-bytes!";

interface FsFixture {
  root: string;
  clock: FakeClock;
  store: FsBlobStore;
  base: string;
  close: () => Promise<void>;
}

/** A filesystem store in a temp dir, its handler on a real HTTP server on port 0 under `/blobs/`. */
async function startFs(): Promise<FsFixture> {
  const root = await mkdtemp(join(tmpdir(), "caas-blobs-"));
  const clock = new FakeClock(Date.now());
  let handler: RequestListener = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = createFsBlobStore({ root, publicBaseUrl: `${base}/blobs`, secret: SECRET, clock, maxUploadBytes: 64 * MiB });
  handler = createFsBlobHttpHandler(store);
  return {
    root,
    clock,
    store,
    base,
    async close() {
      await closeServer(server);
      await rm(root, { recursive: true, force: true });
    },
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const deadline = Date.now() + 5000; !(await check());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

blobStoreContract("filesystem", async () => {
  const fx = await startFs();
  return {
    store: fx.store,
    clock: fx.clock,
    time: fakeTime(fx.clock),
    status: { forbidden: 403, tooLarge: 413, wrongType: 415, notFound: 404 },
    close: fx.close,
  };
});

describe("filesystem blob store", () => {
  let fx: FsFixture;
  beforeEach(async () => {
    fx = await startFs();
  });
  afterEach(async () => {
    await fx.close();
  });

  it("keeps objects at <root>/<tenant>/<key>, leaving nothing in the temp dir", async () => {
    const scope = freshTenantScope();
    await fx.store.put(scope, "conv/c1/a.txt", Buffer.from("hello"), { contentType: "text/plain" });
    const file = join(fx.root, scope.tenantId, "conv", "c1", "a.txt");
    expect((await readFile(file)).subarray(-5).toString()).toBe("hello");
    expect(await readdir(join(fx.root, ".tmp"))).toEqual([]);
    await fx.store.delete(scope, "conv/c1/a.txt");
    expect(existsSync(file)).toBe(false);
  });

  it("answers exact statuses at the edges of its URLs", async () => {
    const scope = freshTenantScope();
    await fx.store.put(scope, "doc.txt", Buffer.from("x"), { contentType: "text/plain" });
    const down = await fx.store.presignDownload(scope, "doc.txt", { expiresInSeconds: 10 });
    const up = await fx.store.presignUpload(scope, "up.txt", { contentType: "text/plain", maxBytes: 10, expiresInSeconds: 10 });
    const status = async (url: string, init?: RequestInit) => {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      return res.status;
    };
    expect(await status(`${fx.base}/elsewhere/${scope.tenantId}/doc.txt`)).toBe(404);
    expect(await status(`${fx.base}/blobs/`)).toBe(404);
    expect(await status(down.url, { method: "DELETE" })).toBe(405);
    expect(await status(up.url, { method: "PUT", body: "x" })).toBe(405);
    expect(await status(up.url, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).toBe(400);
    const noFile = new FormData();
    noFile.append("Content-Type", "text/plain");
    expect(await status(up.url, { method: "POST", body: noFile })).toBe(400);
    expect(await status(down.url.replace(/signature=[0-9a-f]+/, "signature=zz"))).toBe(403);
    expect(await status(down.url.replace(/&signature=[0-9a-f]+/, ""))).toBe(403);

    // Valid through expiresAt itself, refused one millisecond later.
    fx.clock.set(down.expiresAt.getTime());
    expect(await status(down.url)).toBe(200);
    fx.clock.advance(1);
    expect(await status(down.url)).toBe(403);
  });

  it("refuses an upload whose declared length is too large before reading its body", async () => {
    const scope = freshTenantScope();
    const up = await fx.store.presignUpload(scope, "big.bin", { contentType: "text/plain", maxBytes: 1000, expiresInSeconds: 10 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(up.url, {
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=b", "content-length": String(50 * MiB) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.flushHeaders(); // headers only: the answer must not wait for 50 MiB that never come
    });
    expect(status).toBe(413);
    await expect(fx.store.stat(scope, "big.bin")).rejects.toThrow(NotFoundError);
  });

  it("never exposes a partial upload: a broken-off upload leaves the previous object", async () => {
    const scope = freshTenantScope();
    await fx.store.put(scope, "p.bin", Buffer.from("previous"), { contentType: "application/octet-stream" });
    const up = await fx.store.presignUpload(scope, "p.bin", {
      contentType: "application/octet-stream",
      maxBytes: 10 * MiB,
      expiresInSeconds: 60,
    });
    const boundary = "caas-test-boundary";
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="Content-Type"\r\n\r\napplication/octet-stream\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.bin"\r\n\r\n`;
    const req = request(up.url, {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(head.length + 2 * MiB) },
    });
    req.on("error", () => {});
    req.write(head);
    req.write(randomBytes(MiB));
    const tmp = join(fx.root, ".tmp");
    await until(async () => existsSync(tmp) && (await readdir(tmp)).length > 0, "the upload's temp file");
    expect(await buffer((await fx.store.get(scope, "p.bin")).body)).toEqual(Buffer.from("previous"));
    req.destroy();
    await until(async () => (await readdir(tmp)).length === 0, "the temp file's removal");
    expect(await buffer((await fx.store.get(scope, "p.bin")).body)).toEqual(Buffer.from("previous"));
  });

  it("refuses a key that is another key's directory, and the reverse", async () => {
    const scope = freshTenantScope();
    await fx.store.put(scope, "a/b", Buffer.from("1"), { contentType: "text/plain" });
    await expect(fx.store.put(scope, "a", Buffer.from("2"), { contentType: "text/plain" })).rejects.toThrow(FailedPreconditionError);
    await expect(fx.store.put(scope, "a/b/c", Buffer.from("3"), { contentType: "text/plain" })).rejects.toThrow(FailedPreconditionError);
    await expect(fx.store.stat(scope, "a")).rejects.toThrow(NotFoundError);
    await expect(fx.store.stat(scope, "a/b/c")).rejects.toThrow(NotFoundError);
    await fx.store.delete(scope, "a");
    expect((await fx.store.stat(scope, "a/b")).size).toBe(1);
    expect(await readdir(join(fx.root, ".tmp"))).toEqual([]);
  });

  it("copies by hard link, leaving nothing in the temp dir, and refuses a target that is another key's directory", async () => {
    const scope = freshTenantScope();
    await fx.store.put(scope, "up/m1", Buffer.from("bytes"), { contentType: "text/plain" });
    await fx.store.copy(scope, "up/m1", "ready/m1");
    const source = await stat(join(fx.root, scope.tenantId, "up", "m1"));
    const target = await stat(join(fx.root, scope.tenantId, "ready", "m1"));
    expect(target.ino).toBe(source.ino);
    expect(target.nlink).toBe(2);
    // A later write of the source is a new file: the copy keeps its inode and bytes.
    await fx.store.put(scope, "up/m1", Buffer.from("other"), { contentType: "text/plain" });
    expect(await buffer((await fx.store.get(scope, "ready/m1")).body)).toEqual(Buffer.from("bytes"));
    await fx.store.put(scope, "a/b", Buffer.from("1"), { contentType: "text/plain" });
    await expect(fx.store.copy(scope, "up/m1", "a")).rejects.toThrow(FailedPreconditionError);
    await expect(fx.store.copy(scope, "a", "x")).rejects.toThrow(NotFoundError); // a directory, not an object
    await expect(fx.store.copy(scope, "up/m1", "ready/m1", { ifEtag: "0".repeat(32) })).rejects.toThrow(FailedPreconditionError);
    expect(await buffer((await fx.store.get(scope, "ready/m1")).body)).toEqual(Buffer.from("bytes"));
    expect(await readdir(join(fx.root, ".tmp"))).toEqual([]);
  });

  it("checks its options, its upload cap and its handler's store", async () => {
    const opts = { root: fx.root, publicBaseUrl: "http://x/blobs", secret: SECRET, clock: fx.clock, maxUploadBytes: 1000 };
    expect(() => createFsBlobStore({ ...opts, secret: "short" })).toThrow(RangeError);
    expect(() => createFsBlobStore({ ...opts, publicBaseUrl: "ftp://x/blobs" })).toThrow(RangeError);
    expect(() => createFsBlobStore({ ...opts, maxUploadBytes: 0 })).toThrow(RangeError);
    const store = createFsBlobStore(opts);
    expect(store.pathPrefix).toBe("/blobs/");
    const upload = { contentType: "text/plain", expiresInSeconds: 10 };
    await expect(store.presignUpload(freshTenantScope(), "k", { ...upload, maxBytes: 1001 })).rejects.toThrow(RangeError);
    expect((await store.presignUpload(freshTenantScope(), "k", { ...upload, maxBytes: 1000 })).maxBytes).toBe(1000);
    expect(() => createFsBlobHttpHandler({ ...store })).toThrow(TypeError);
  });
});

const s3Endpoint = infraEnv("CAAS_S3_ENDPOINT");

describe.skipIf(!s3Endpoint)("S3 (versitygw)", () => {
  // Bucket names: 3-63 characters of a-z, 0-9 and "-".
  const bucket = `${RUN_PREFIX.toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`.slice(0, 50).replace(/-+$/, "") + "-blob-store";
  const options = () => ({
    endpoint: s3Endpoint!,
    accessKey: process.env.CAAS_S3_ACCESS_KEY ?? "",
    secretKey: process.env.CAAS_S3_SECRET_KEY ?? "",
    region: process.env.CAAS_S3_REGION ?? "us-east-1",
    bucket,
    prefix: "caas/",
    clock: systemClock,
  });
  let store: S3BlobStore;
  beforeAll(async () => {
    store = await createS3BlobStore(options());
  });
  afterAll(async () => {
    await store?.purge({ removeBucket: true });
  });

  blobStoreContract("S3 (versitygw)", async () => ({
    store,
    clock: systemClock,
    // S3 judges expiry by the server's clock: the suite really waits.
    time: realTime,
    // versitygw enforces all of it: content-length-range (400 EntityTooLarge, from the declared
    // length), the Content-Type condition (403), expiry and signatures (403).
    status: { forbidden: 403, tooLarge: 400, wrongType: 403, notFound: 404 },
    close: async () => {},
  }));

  describe("S3 blob store", () => {
    it("writes a body longer than one part as a multipart upload, a shorter one in one request", async () => {
      const scope = freshTenantScope();
      const multipart = await store.put(scope, "big.bin", randomBytes(6 * MiB), { contentType: "application/octet-stream" });
      expect(multipart.etag).toMatch(/-2$/); // S3's etag of a two-part upload
      const single = await store.put(scope, "small.bin", randomBytes(MiB), { contentType: "application/octet-stream" });
      expect(single.etag).toMatch(/^[0-9a-f]{32}$/);
    });

    it("keeps the previous object when a multipart body fails", async () => {
      const scope = freshTenantScope();
      await store.put(scope, "v.bin", Buffer.from("previous"), { contentType: "text/plain" });
      const failing = async function* () {
        yield randomBytes(6 * MiB);
        throw new Error("source broke");
      };
      await expect(store.put(scope, "v.bin", failing(), { contentType: "text/plain" })).rejects.toThrow("source broke");
      const got = await store.get(scope, "v.bin");
      expect(await buffer(got.body)).toEqual(Buffer.from("previous"));
    });

    it("starts on an existing bucket", async () => {
      const scope = freshTenantScope();
      await store.put(scope, "k", Buffer.from("x"), { contentType: "text/plain" });
      const again = await createS3BlobStore({ ...options(), endpoint: undefined, ...endpointParts(s3Endpoint!) });
      expect((await again.stat(scope, "k")).size).toBe(1);
    });
  });
});

function endpointParts(endpoint: string): { endPoint: string; port: number; useSSL: boolean } {
  const url = new URL(endpoint);
  return { endPoint: url.hostname, port: Number(url.port), useSSL: url.protocol === "https:" };
}
