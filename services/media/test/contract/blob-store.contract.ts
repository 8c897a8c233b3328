import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { contentDispositionFor, type BlobStore, type PresignedUpload } from "../../src/ports/blob-store.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgedScope, type TestTime } from "@caas/shared/testing";

export interface BlobStoreHarness {
  store: BlobStore;
  /** The clock the adapter signs with. */
  clock: Clock;
  /** Lets signed URLs expire: a fake clock the adapter also checks with, or real waiting (S3 checks by its own clock). */
  time: TestTime;
  /** The HTTP status the backend answers each refusal with. */
  status: { forbidden: number; tooLarge: number; wrongType: number; notFound: number };
  close(): Promise<void>;
}

type Form = Pick<PresignedUpload, "method" | "url" | "fields" | "fileField">;

const MiB = 1024 * 1024;
const PNG = "image/png";
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Sends an upload form as a browser would: its fields in order, then the file part. */
function send(form: Form, bytes: Uint8Array): Promise<Response> {
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  body.append(form.fileField, new Blob([bytes], { type: "application/octet-stream" }), "upload.bin");
  return fetch(form.url, { method: form.method, body });
}

/** The form with `from` replaced by `to` in its URL and every field value. */
function replaced(form: Form, from: string, to: string): Form {
  const fields = Object.fromEntries(Object.entries(form.fields).map(([n, v]) => [n, v.replaceAll(from, to)]));
  return { ...form, url: form.url.replaceAll(from, to), fields };
}

/** Every URL that differs from `url` in exactly one query parameter's value. */
function withEachParamChanged(url: string): string[] {
  const u = new URL(url);
  return [...u.searchParams.keys()].map((name) => {
    const changed = new URL(url);
    changed.searchParams.set(name, `${u.searchParams.get(name)}0`);
    return changed.toString();
  });
}

async function expectStatus(res: Response, status: number): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
}

async function expectClientError(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBeGreaterThanOrEqual(400);
  expect(res.status, text).toBeLessThan(500);
}

async function expectBytes(res: Response, bytes: Uint8Array): Promise<void> {
  expect(res.status).toBe(200);
  const got = new Uint8Array(await res.arrayBuffer());
  expect(got.byteLength).toBe(bytes.byteLength);
  expect(sha256(got)).toBe(sha256(bytes));
}

async function expectMissing(store: BlobStore, scope: TenantScope, key: string): Promise<void> {
  await expect(store.stat(scope, key)).rejects.toThrow(NotFoundError);
}

/** The `BlobStore` contract (ports/blob-store.ts), run against every adapter with real HTTP requests. */
export function blobStoreContract(name: string, factory: () => Promise<BlobStoreHarness>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let h: BlobStoreHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.close();
    });

    it("uploads through the presigned form and downloads the same bytes", async () => {
      const scope = freshTenantScope();
      const key = "conv/c1/photo.png";
      const bytes = randomBytes(1024);
      const up = await h.store.presignUpload(scope, key, { contentType: PNG, maxBytes: 1024, expiresInSeconds: 300 });
      expect(up).toMatchObject({ method: "POST", fileField: "file", maxBytes: 1024, contentType: PNG });
      const untilExpiry = up.expiresAt.getTime() - h.clock.nowMs();
      expect(untilExpiry).toBeGreaterThan(298_000);
      expect(untilExpiry).toBeLessThanOrEqual(300_000);

      const res = await send(up, bytes); // exactly the maximum size
      await res.text();
      expect(res.ok).toBe(true);
      const info = await h.store.stat(scope, key);
      expect(info).toMatchObject({ size: 1024, contentType: PNG });
      expect(info.etag).toMatch(/^[^"]+$/);

      const down = await h.store.presignDownload(scope, key, { expiresInSeconds: 60 });
      expect(down.expiresAt.getTime() - h.clock.nowMs()).toBeGreaterThan(58_000);
      const got = await fetch(down.url);
      expect(got.headers.get("content-type")).toBe(PNG);
      expect(got.headers.get("content-length")).toBe("1024");
      expect(got.headers.get("content-disposition")).toBeNull();
      await expectBytes(got, bytes);

      const named = await h.store.presignDownload(scope, key, { expiresInSeconds: 60, filename: 'résumé 1 "final".png' });
      const attachment = await fetch(named.url);
      expect(attachment.headers.get("content-disposition")).toBe(contentDispositionFor('résumé 1 "final".png'));
      await expectBytes(attachment, bytes);

      // A second upload replaces the object whole; an empty object is an object.
      const again = await h.store.presignUpload(scope, key, { contentType: PNG, maxBytes: 1024, expiresInSeconds: 300 });
      const empty = await send(again, new Uint8Array(0));
      await empty.text();
      expect(empty.ok).toBe(true);
      expect(await h.store.stat(scope, key)).toMatchObject({ size: 0, contentType: PNG });
      await expectBytes(await fetch(down.url), new Uint8Array(0));
    });

    it("refuses an upload larger than its maximum, storing nothing", async () => {
      const scope = freshTenantScope();
      const up = await h.store.presignUpload(scope, "big.png", { contentType: PNG, maxBytes: 1000, expiresInSeconds: 300 });
      await expectStatus(await send(up, randomBytes(1001)), h.status.tooLarge);
      await expectMissing(h.store, scope, "big.png");
      await expectStatus(await send(up, randomBytes(64 * 1024)), h.status.tooLarge);
      await expectMissing(h.store, scope, "big.png");
    });

    it("refuses a content type other than the signed one, storing nothing", async () => {
      const scope = freshTenantScope();
      const up = await h.store.presignUpload(scope, "pic.png", { contentType: PNG, maxBytes: 1000, expiresInSeconds: 300 });
      await expectStatus(await send({ ...up, fields: { ...up.fields, "Content-Type": "text/html" } }, randomBytes(10)), h.status.wrongType);
      const { "Content-Type": _, ...withoutType } = up.fields;
      await expectStatus(await send({ ...up, fields: withoutType }, randomBytes(10)), h.status.wrongType);
      await expectMissing(h.store, scope, "pic.png");
    });

    it("refuses expired upload forms and download URLs", async () => {
      const scope = freshTenantScope();
      const bytes = randomBytes(100);
      await h.store.put(scope, "doc.pdf", bytes, { contentType: "application/pdf" });
      const opts = { contentType: PNG, maxBytes: 1000 };
      const shortUp = await h.store.presignUpload(scope, "late.png", { ...opts, expiresInSeconds: 1 });
      const longUp = await h.store.presignUpload(scope, "ok.png", { ...opts, expiresInSeconds: 300 });
      const shortDown = await h.store.presignDownload(scope, "doc.pdf", { expiresInSeconds: 1 });
      const longDown = await h.store.presignDownload(scope, "doc.pdf", { expiresInSeconds: 300 });

      await h.time.elapse(1500);
      await expectStatus(await send(shortUp, bytes), h.status.forbidden);
      await expectMissing(h.store, scope, "late.png");
      await expectStatus(await fetch(shortDown.url), h.status.forbidden);

      // The same signatures with time to spare still work: the refusals were about expiry.
      const ok = await send(longUp, bytes);
      await ok.text();
      expect(ok.ok).toBe(true);
      await expectBytes(await fetch(longDown.url), bytes);
    });

    it("refuses tampered upload forms and download URLs", async () => {
      const scope = freshTenantScope();
      const bytes = randomBytes(100);
      await h.store.put(scope, "a/doc.txt", bytes, { contentType: "text/plain" });
      const up = await h.store.presignUpload(scope, "a/up.txt", { contentType: "text/plain", maxBytes: 1000, expiresInSeconds: 300 });

      const forms: Form[] = [
        ...Object.keys(up.fields).map((field) => ({ ...up, fields: { ...up.fields, [field]: `${up.fields[field]}0` } })),
        ...withEachParamChanged(up.url).map((url) => ({ ...up, url })),
        replaced(up, "a/up.txt", "a/xx.txt"), // aimed at another key
      ];
      expect(forms.length).toBeGreaterThanOrEqual(4);
      for (const form of forms) await expectClientError(await send(form, bytes));
      await expectMissing(h.store, scope, "a/up.txt");
      await expectMissing(h.store, scope, "a/xx.txt");

      const down = await h.store.presignDownload(scope, "a/doc.txt", { expiresInSeconds: 300, filename: "doc.txt" });
      const urls = [...withEachParamChanged(down.url), down.url.replace("a/doc.txt", "a/up.txt")];
      for (const url of urls) await expectClientError(await fetch(url));
      await expectBytes(await fetch(down.url), bytes);
    });

    it("stats, gets, replaces and deletes objects server-side; delete is idempotent", async () => {
      const scope = freshTenantScope();
      const v1 = Buffer.from("first version");
      const put1 = await h.store.put(scope, "notes/n1.txt", v1, { contentType: "text/plain; charset=utf-8" });
      expect(put1).toMatchObject({ size: v1.length, contentType: "text/plain; charset=utf-8" });
      expect(await h.store.stat(scope, "notes/n1.txt")).toEqual(put1);

      const v2 = randomBytes(3000);
      const put2 = await h.store.put(scope, "notes/n1.txt", Readable.from([v2.subarray(0, 1000), v2.subarray(1000)]), {
        contentType: "application/octet-stream",
      });
      expect(put2).toMatchObject({ size: 3000, contentType: "application/octet-stream" });
      expect(put2.etag).not.toBe(put1.etag);
      const got = await h.store.get(scope, "notes/n1.txt");
      expect({ size: got.size, contentType: got.contentType, etag: got.etag }).toEqual(put2);
      expect(sha256(await buffer(got.body))).toBe(sha256(v2));

      const down = await h.store.presignDownload(scope, "notes/n1.txt", { expiresInSeconds: 60 });
      await h.store.delete(scope, "notes/n1.txt");
      await expectMissing(h.store, scope, "notes/n1.txt");
      await expect(h.store.get(scope, "notes/n1.txt")).rejects.toThrow(NotFoundError);
      await h.store.delete(scope, "notes/n1.txt");
      await h.store.delete(scope, "never/was.txt");
      await expectStatus(await fetch(down.url), h.status.notFound);
    });

    it("copies an object server-side into an independent object that later writes of the source leave alone", async () => {
      const scope = freshTenantScope();
      const v1 = randomBytes(700);
      const up = await h.store.presignUpload(scope, "up/m1", { contentType: PNG, maxBytes: 1000, expiresInSeconds: 300 });
      const posted = await send(up, v1);
      await posted.text();
      expect(posted.ok).toBe(true);
      const source = await h.store.stat(scope, "up/m1");

      const copied = await h.store.copy(scope, "up/m1", "done/m1", { ifEtag: source.etag });
      expect(copied).toMatchObject({ size: 700, contentType: PNG });
      expect(await h.store.stat(scope, "done/m1")).toEqual(copied);
      const down = await h.store.presignDownload(scope, "done/m1", { expiresInSeconds: 60 });
      await expectBytes(await fetch(down.url), v1);

      // The same form, posted again, replaces the source only; deleting the source leaves the copy.
      const v2 = randomBytes(900);
      const again = await send(up, v2);
      await again.text();
      expect(again.ok).toBe(true);
      expect((await h.store.stat(scope, "up/m1")).size).toBe(900);
      await expectBytes(await fetch(down.url), v1);
      // A copy of a version that is no longer there writes nothing.
      await expect(h.store.copy(scope, "up/m1", "done/m1", { ifEtag: source.etag })).rejects.toThrow(FailedPreconditionError);
      await expectBytes(await fetch(down.url), v1);
      await h.store.delete(scope, "up/m1");
      await expectBytes(await fetch(down.url), v1);
      expect(sha256(await buffer((await h.store.get(scope, "done/m1")).body))).toBe(sha256(v1));

      // Copying replaces the target whole; a missing source, another tenant's or the key itself are refused.
      await h.store.put(scope, "up/m2", Buffer.from("second"), { contentType: "text/plain" });
      expect(await h.store.copy(scope, "up/m2", "done/m1")).toMatchObject({ size: 6, contentType: "text/plain" });
      await expectBytes(await fetch((await h.store.presignDownload(scope, "done/m1", { expiresInSeconds: 60 })).url), Buffer.from("second"));
      await expect(h.store.copy(scope, "up/m1", "done/m3")).rejects.toThrow(NotFoundError);
      await expect(h.store.copy(freshTenantScope(), "up/m2", "done/m3")).rejects.toThrow(NotFoundError);
      await expectMissing(h.store, scope, "done/m3");
      await expect(h.store.copy(scope, "up/m2", "up/m2")).rejects.toThrow(RangeError);
      await expect(h.store.copy(scope, "up/m2", "../x")).rejects.toThrow(RangeError);
      await expect(h.store.copy(forgedScope, "up/m2", "done/m4")).rejects.toThrow(TypeError);
    });

    it("keeps tenants apart: another tenant can neither reach an object nor replay its URLs", async () => {
      const a = freshTenantScope();
      const b = freshTenantScope();
      const key = "conv/shared-name.bin";
      const bytesA = randomBytes(200);
      const bytesB = randomBytes(300);
      await h.store.put(a, key, bytesA, { contentType: "application/octet-stream" });

      await expectMissing(h.store, b, key);
      await expect(h.store.get(b, key)).rejects.toThrow(NotFoundError);
      await h.store.delete(b, key);
      expect((await h.store.stat(a, key)).size).toBe(200);
      await expectStatus(await fetch((await h.store.presignDownload(b, key, { expiresInSeconds: 60 })).url), h.status.notFound);

      // A's upload form and download URL, rewritten to name tenant B, are refused.
      const upA = await h.store.presignUpload(a, "conv/new.bin", { contentType: "application/octet-stream", maxBytes: 1000, expiresInSeconds: 300 });
      await expectClientError(await send(replaced(upA, a.tenantId, b.tenantId), bytesB));
      await expectMissing(h.store, b, "conv/new.bin");
      await expectMissing(h.store, a, "conv/new.bin");

      await h.store.put(b, key, bytesB, { contentType: "application/octet-stream" });
      const downA = await h.store.presignDownload(a, key, { expiresInSeconds: 60 });
      expect(downA.url).toContain(a.tenantId);
      await expectClientError(await fetch(downA.url.replaceAll(a.tenantId, b.tenantId)));
      await expectBytes(await fetch(downA.url), bytesA);
      await expectBytes(await fetch((await h.store.presignDownload(b, key, { expiresInSeconds: 60 })).url), bytesB);
    });

    it("puts and gets a 6 MiB object from a stream and from a buffer", async () => {
      const scope = freshTenantScope();
      const big = randomBytes(6 * MiB);
      const chunks = function* () {
        for (let at = 0; at < big.length; at += 64 * 1024) yield big.subarray(at, at + 64 * 1024);
      };
      const fromStream = await h.store.put(scope, "media/big-stream.bin", Readable.from(chunks()), { contentType: "video/mp4" });
      const fromBuffer = await h.store.put(scope, "media/big-buffer.bin", big, { contentType: "video/mp4" });
      for (const [key, info] of [
        ["media/big-stream.bin", fromStream],
        ["media/big-buffer.bin", fromBuffer],
      ] as const) {
        expect(info).toMatchObject({ size: big.length, contentType: "video/mp4" });
        expect(await h.store.stat(scope, key)).toEqual(info);
        const got = await h.store.get(scope, key);
        expect(got.size).toBe(big.length);
        expect(sha256(await buffer(got.body))).toBe(sha256(big));
      }
      const down = await h.store.presignDownload(scope, "media/big-stream.bin", { expiresInSeconds: 60 });
      await expectBytes(await fetch(down.url), big);
    });

    it("refuses bad keys, content types, sizes, expiries, filenames and scopes", async () => {
      const scope = freshTenantScope();
      const s = h.store;
      const upload = { contentType: PNG, maxBytes: 100, expiresInSeconds: 60 };
      const badKeys = ["", "/abs", "../up", "a/../b", "a/./b", "a//b", "a/", ".hidden", "a b", "a\\b", "ä", "k".repeat(513)];
      for (const key of badKeys) {
        await expect(s.presignUpload(scope, key, upload)).rejects.toThrow(RangeError);
        await expect(s.presignDownload(scope, key, { expiresInSeconds: 60 })).rejects.toThrow(RangeError);
        await expect(s.stat(scope, key)).rejects.toThrow(RangeError);
        await expect(s.get(scope, key)).rejects.toThrow(RangeError);
        await expect(s.put(scope, key, new Uint8Array(1), { contentType: PNG })).rejects.toThrow(RangeError);
        await expect(s.delete(scope, key)).rejects.toThrow(RangeError);
      }
      for (const contentType of ["", "image", "image/", "/png", "image/png\r\nx: y", "image/png; charset", `image/${"p".repeat(250)}`]) {
        await expect(s.presignUpload(scope, "k", { ...upload, contentType })).rejects.toThrow(RangeError);
        await expect(s.put(scope, "k", new Uint8Array(1), { contentType })).rejects.toThrow(RangeError);
      }
      for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
        await expect(s.presignUpload(scope, "k", { ...upload, maxBytes })).rejects.toThrow(RangeError);
      }
      for (const expiresInSeconds of [0, -1, 1.5, Number.NaN, 3601]) {
        await expect(s.presignUpload(scope, "k", { ...upload, expiresInSeconds })).rejects.toThrow(RangeError);
      }
      for (const expiresInSeconds of [0, 1.5, 604_801]) {
        await expect(s.presignDownload(scope, "k", { expiresInSeconds })).rejects.toThrow(RangeError);
      }
      for (const filename of ["", "a\nb", "tab\there", "x".repeat(256)]) {
        await expect(s.presignDownload(scope, "k", { expiresInSeconds: 60, filename })).rejects.toThrow(RangeError);
      }
      await expect(s.stat(forgedScope, "k")).rejects.toThrow(TypeError);
      await expect(s.presignUpload(forgedScope, "k", upload)).rejects.toThrow(TypeError);
      await expect(s.put(forgedScope, "k", new Uint8Array(1), { contentType: PNG })).rejects.toThrow(TypeError);
      await expectMissing(s, scope, "k");
      // The longest valid key works.
      const longest = `kk${"/x".repeat(255)}`;
      await s.put(scope, longest, Buffer.from("deep"), { contentType: "text/plain" });
      expect((await s.stat(scope, longest)).size).toBe(4);
    });
  });
}
