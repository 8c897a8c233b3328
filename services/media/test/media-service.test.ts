import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MediaState } from "@caas/gen/caas/media/v1/media_pb.js";
import { createLogger } from "@caas/shared/logger";
import { newId } from "@caas/shared/ids";
import { NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { blobKeyOf, readyBlobKeyOf, uploadBlobKeyOf } from "../src/media-core.js";
import { DEFAULT_SWEEP_GRACE_MS, MediaSweeper } from "../src/media-sweeper.js";
import { openMediaWorld, type MediaWorld } from "./support/world.js";
import { bytesOf, postForm } from "./support/upload.js";

const dir = mkdtempSync(join(tmpdir(), "caas-media-service-"));
const logger = createLogger({ service: "media-test", instance: "t", level: "silent" });
/** Past the upload form's 15 minutes and the sweeper's grace period. */
const SWEEP_AGE_MS = 900_000 + DEFAULT_SWEEP_GRACE_MS;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

describe("MediaService and MediaInternalService (routes over SQLite, fs blobs on a real HTTP server, chat in-process)", () => {
  let w: MediaWorld;
  beforeEach(async () => {
    w = await openMediaWorld(dir);
  });
  afterEach(() => w.close());

  /** A READY media of `owner` holding `bytes`. */
  async function uploaded(owner: string, bytes: Uint8Array, name = "photo.png", mimeType = "image/png") {
    const created = await w.media(owner).createUpload({ name, mimeType, sizeBytes: BigInt(bytes.length) });
    expect((await postForm(created.upload!, bytes)).status).toBe(204);
    return (await w.media(owner).completeUpload({ mediaId: created.media!.id })).media!;
  }

  it("uploads through the form, completes once and downloads the same bytes under the media's name", async () => {
    const bytes = randomBytes(5000);
    const created = await w.media("alice").createUpload({ name: "holiday photo.png", mimeType: "image/png", sizeBytes: 6000n });
    const m = created.media!;
    expect(m).toMatchObject({ ownerId: "alice", name: "holiday photo.png", mimeType: "image/png", sizeBytes: 0n, maxBytes: 6000n, state: MediaState.PENDING });
    expect(m.readyTime).toBeUndefined();
    const form = created.upload!;
    expect(form).toMatchObject({ method: "POST", fileField: "file", maxBytes: 6000n, contentType: "image/png" });
    // About 15 minutes to start the upload.
    expect(timestampMs(form.expireTime!) - w.clock.nowMs()).toBe(900_000);

    expect((await failure(w.media("alice").getDownloadUrl({ mediaId: m.id }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(w.media("alice").completeUpload({ mediaId: m.id }))).code).toBe(Code.FailedPrecondition);

    expect((await postForm(form, bytes)).status).toBe(204);
    w.clock.advance(10);
    const ready = (await w.media("alice").completeUpload({ mediaId: m.id })).media!;
    expect(ready).toMatchObject({ id: m.id, state: MediaState.READY, sizeBytes: 5000n });
    expect(timestampMs(ready.readyTime!)).toBe(w.clock.nowMs());
    w.clock.advance(10);
    expect((await w.media("alice").completeUpload({ mediaId: m.id })).media).toEqual(ready);
    expect((await w.media("alice").getMedia({ mediaId: m.id })).media).toEqual(ready);

    const link = await w.media("alice").getDownloadUrl({ mediaId: m.id });
    expect(timestampMs(link.expireTime!) - w.clock.nowMs()).toBe(300_000);
    const res = await fetch(link.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("content-disposition")).toContain('filename="holiday photo.png"');
    expect(Buffer.from(await bytesOf(res)).equals(bytes)).toBe(true);
    // Expired download URLs are refused.
    w.clock.advance(301_000);
    expect((await fetch(link.url)).status).toBe(403);
  });

  it("refuses uploads larger than the platform limit and malformed input", async () => {
    const tooBig = await failure(w.media("alice").createUpload({ name: "big.bin", mimeType: "application/octet-stream", sizeBytes: BigInt(1024 * 1024 + 1) }));
    expect(tooBig.code).toBe(Code.InvalidArgument);
    expect(tooBig.message).toMatch(/size_bytes/);
    expect((await failure(w.media("alice").createUpload({ name: "a.txt", mimeType: 'text/plain; charset="utf-8"', sizeBytes: 1n }))).code).toBe(Code.InvalidArgument);
    expect((await failure(w.media("alice").createUpload({ name: "a/b.txt", mimeType: "text/plain", sizeBytes: 1n }))).code).toBe(Code.InvalidArgument);
    expect((await failure(w.media("alice").createUpload({ name: "a.txt", mimeType: "text/plain", sizeBytes: 0n }))).code).toBe(Code.InvalidArgument);
    expect((await failure(w.media("alice").getMedia({ mediaId: "nope" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(w.media(undefined).getMedia({ mediaId: newId() }))).code).toBe(Code.Unauthenticated);
    expect((await failure(w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: newId(), mediaIds: [], authority: { case: "uploaderId", value: "alice" } }))).code).toBe(
      Code.InvalidArgument,
    );
    expect((await failure(w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: newId(), mediaIds: [newId()] }))).code).toBe(Code.InvalidArgument);
  });

  it("refuses an upload over the declared size at the form and discards a wrong content type at completion", async () => {
    const created = await w.media("alice").createUpload({ name: "a.txt", mimeType: "text/plain", sizeBytes: 10n });
    expect((await postForm(created.upload!, randomBytes(11))).status).toBe(413);
    expect((await failure(w.media("alice").completeUpload({ mediaId: created.media!.id }))).code).toBe(Code.FailedPrecondition);
    // A form whose content type field was changed is refused, too.
    const tampered = { ...created.upload!, fields: created.upload!.fields.map((f) => (f.name.toLowerCase() === "content-type" ? { ...f, value: "text/html" } : f)) };
    expect((await postForm(tampered as typeof created.upload & object, randomBytes(5))).status).toBeGreaterThanOrEqual(400);
    // Bytes stored some other way with another type (or size) are discarded by CompleteUpload.
    const scope = scopeForAdmin(w.tenantId);
    await w.blobs.put(scope, blobKeyOf(created.media!.id), randomBytes(5), { contentType: "text/html" });
    const wrongType = await failure(w.media("alice").completeUpload({ mediaId: created.media!.id }));
    expect(wrongType.code).toBe(Code.FailedPrecondition);
    expect(wrongType.message).toMatch(/content type/);
    await expect(w.blobs.stat(scope, blobKeyOf(created.media!.id))).rejects.toBeInstanceOf(NotFoundError);
    await w.blobs.put(scope, blobKeyOf(created.media!.id), randomBytes(11), { contentType: "text/plain" });
    expect((await failure(w.media("alice").completeUpload({ mediaId: created.media!.id }))).message).toMatch(/more than the declared 10/);
    // A correct upload afterwards completes.
    expect((await postForm(created.upload!, randomBytes(10))).status).toBe(204);
    expect((await w.media("alice").completeUpload({ mediaId: created.media!.id })).media?.sizeBytes).toBe(10n);
  });

  it("never changes a READY media's bytes: posting the form again after completion reaches no reader", async () => {
    const v1 = randomBytes(3000);
    const created = await w.media("alice").createUpload({ name: "contract.pdf", mimeType: "application/pdf", sizeBytes: 4000n });
    const m = created.media!;
    expect((await postForm(created.upload!, v1)).status).toBe(204);
    const ready = (await w.media("alice").completeUpload({ mediaId: m.id })).media!;
    const scope = scopeForAdmin(w.tenantId);
    // The bytes now live at the ready key; the upload key is emptied.
    await expect(w.blobs.stat(scope, uploadBlobKeyOf(m.id))).rejects.toBeInstanceOf(NotFoundError);
    const conv = (await w.chat("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "t" })).conversation!;
    await w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: conv.id, mediaIds: [m.id], authority: { case: "uploaderId", value: "alice" } });
    const bobUrl = (await w.media("bob").getDownloadUrl({ mediaId: m.id })).url;
    expect(Buffer.from(await bytesOf(await fetch(bobUrl))).equals(v1)).toBe(true);

    // The form is still within its 15 minutes: the uploader posts other bytes with it.
    const v2 = randomBytes(3000);
    expect((await postForm(created.upload!, v2)).status).toBe(204);
    for (const url of [bobUrl, (await w.media("bob").getDownloadUrl({ mediaId: m.id })).url, (await w.media("alice").getDownloadUrl({ mediaId: m.id })).url]) {
      expect(Buffer.from(await bytesOf(await fetch(url))).equals(v1)).toBe(true);
    }
    // Completing again changes nothing either (and empties the upload key once more).
    expect((await w.media("alice").completeUpload({ mediaId: m.id })).media).toEqual(ready);
    await expect(w.blobs.stat(scope, uploadBlobKeyOf(m.id))).rejects.toBeInstanceOf(NotFoundError);
    expect(Buffer.from(await bytesOf(await fetch((await w.media("bob").getDownloadUrl({ mediaId: m.id })).url))).equals(v1)).toBe(true);
    expect((await w.media("bob").getMedia({ mediaId: m.id })).media).toEqual(ready);
  });

  it("completes after a crash half way: a copy made but the record not updated, or the record updated but the upload key left", async () => {
    const bytes = randomBytes(500);
    const created = await w.media("alice").createUpload({ name: "a.bin", mimeType: "application/octet-stream", sizeBytes: 500n });
    const m = created.media!;
    expect((await postForm(created.upload!, bytes)).status).toBe(204);
    const scope = scopeForAdmin(w.tenantId);
    // The first attempt copied, then died before markReady.
    const uploaded = await w.blobs.stat(scope, uploadBlobKeyOf(m.id));
    await w.blobs.copy(scope, uploadBlobKeyOf(m.id), readyBlobKeyOf(m.id, uploaded.etag), { ifEtag: uploaded.etag });
    expect((await w.store.get(scope, m.id))?.state).toBe("pending");
    const ready = (await w.media("alice").completeUpload({ mediaId: m.id })).media!;
    expect(ready).toMatchObject({ state: MediaState.READY, sizeBytes: 500n });
    expect((await w.store.get(scope, m.id))?.blobKey).toBe(readyBlobKeyOf(m.id, uploaded.etag));
    expect(Buffer.from(await bytesOf(await fetch((await w.media("alice").getDownloadUrl({ mediaId: m.id })).url))).equals(bytes)).toBe(true);

    // A second one died after markReady, before emptying the upload key: a repeat empties it.
    const other = await w.media("alice").createUpload({ name: "b.bin", mimeType: "application/octet-stream", sizeBytes: 10n });
    expect((await postForm(other.upload!, randomBytes(10))).status).toBe(204);
    const record = (await w.store.get(scope, other.media!.id))!;
    const info = await w.blobs.stat(scope, uploadBlobKeyOf(record.id));
    await w.blobs.copy(scope, uploadBlobKeyOf(record.id), readyBlobKeyOf(record.id, info.etag));
    await w.store.markReady(scope, record.id, { sizeBytes: info.size, readyTimeMs: w.clock.nowMs(), blobKey: readyBlobKeyOf(record.id, info.etag) });
    expect((await w.media("alice").completeUpload({ mediaId: record.id })).media?.state).toBe(MediaState.READY);
    await expect(w.blobs.stat(scope, uploadBlobKeyOf(record.id))).rejects.toBeInstanceOf(NotFoundError);
  });

  it("sweeps uploads abandoned past the form's expiry and grace, with their bytes, and empties the upload keys of completed media", async () => {
    const scope = scopeForAdmin(w.tenantId);
    const alice = w.media("alice");
    const reserve = (name: string, size = 100) => alice.createUpload({ name, mimeType: "text/plain", sizeBytes: BigInt(size) });
    const never = await reserve("never.txt");
    const uploadedOnly = await reserve("uploaded.txt");
    expect((await postForm(uploadedOnly.upload!, randomBytes(100))).status).toBe(204);
    const completed = await reserve("done.txt");
    const v1 = randomBytes(50);
    expect((await postForm(completed.upload!, v1)).status).toBe(204);
    await alice.completeUpload({ mediaId: completed.media!.id });
    expect((await postForm(completed.upload!, randomBytes(60))).status).toBe(204); // after completion
    const deleted = await reserve("gone.txt");
    await alice.deleteMedia({ mediaId: deleted.media!.id });
    expect((await postForm(deleted.upload!, randomBytes(10))).status).toBe(204); // after the delete
    // A crashed completion's copy of the abandoned upload.
    const info = await w.blobs.stat(scope, uploadBlobKeyOf(uploadedOnly.media!.id));
    await w.blobs.copy(scope, uploadBlobKeyOf(uploadedOnly.media!.id), readyBlobKeyOf(uploadedOnly.media!.id, info.etag));

    const sweeper = new MediaSweeper({ deps: w.deps, logger, batchSize: 1 });
    w.clock.advance(SWEEP_AGE_MS - 1_000);
    const later = await reserve("later.txt"); // created later: not due in the next sweep
    // The form expired but the grace period has not passed yet: a late completion still works.
    expect(await sweeper.sweep()).toEqual({ removed: 0, closed: 0, failed: 0 });
    w.clock.advance(1_001);

    // Two instances at once: each record is handled once in effect, nothing fails.
    const other = new MediaSweeper({ deps: w.deps, logger, batchSize: 2 });
    const [a, b] = await Promise.all([sweeper.sweep(), other.sweep()]);
    expect(a.failed + b.failed).toBe(0);
    expect(a.removed + b.removed).toBe(2);
    expect(await sweeper.sweep()).toEqual({ removed: 0, closed: 0, failed: 0 });

    for (const gone of [never, uploadedOnly]) {
      expect(await w.store.get(scope, gone.media!.id)).toBeUndefined();
      expect((await failure(alice.getMedia({ mediaId: gone.media!.id }))).code).toBe(Code.NotFound);
      expect((await failure(alice.completeUpload({ mediaId: gone.media!.id }))).code).toBe(Code.NotFound);
      await expect(w.blobs.stat(scope, uploadBlobKeyOf(gone.media!.id))).rejects.toBeInstanceOf(NotFoundError);
    }
    await expect(w.blobs.stat(scope, readyBlobKeyOf(uploadedOnly.media!.id, info.etag))).rejects.toBeInstanceOf(NotFoundError);
    for (const kept of [completed, deleted]) await expect(w.blobs.stat(scope, uploadBlobKeyOf(kept.media!.id))).rejects.toBeInstanceOf(NotFoundError);
    expect(Buffer.from(await bytesOf(await fetch((await alice.getDownloadUrl({ mediaId: completed.media!.id })).url))).equals(v1)).toBe(true);
    expect((await w.store.get(scope, deleted.media!.id))?.deleteTimeMs).toBeGreaterThan(0);
    expect((await alice.getMedia({ mediaId: later.media!.id })).media?.state).toBe(MediaState.PENDING);

    w.clock.advance(SWEEP_AGE_MS);
    expect(await sweeper.sweep()).toEqual({ removed: 1, closed: 0, failed: 0 });
    expect(await w.store.get(scope, later.media!.id)).toBeUndefined();
  });

  it("sweeps on its interval once started, and not after it stopped", async () => {
    const never = (await w.media("alice").createUpload({ name: "n.txt", mimeType: "text/plain", sizeBytes: 1n })).media!;
    const scope = scopeForAdmin(w.tenantId);
    const sweeper = new MediaSweeper({ deps: w.deps, logger });
    sweeper.start(0); // off
    w.clock.advance(SWEEP_AGE_MS + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await w.store.get(scope, never.id)).toBeDefined();
    sweeper.start(10);
    for (const deadline = Date.now() + 5_000; await w.store.get(scope, never.id);) {
      if (Date.now() > deadline) expect.fail("the sweeper did not run");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await sweeper.stop();
    const after = (await w.media("alice").createUpload({ name: "m.txt", mimeType: "text/plain", sizeBytes: 1n })).media!;
    w.clock.advance(SWEEP_AGE_MS + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await w.store.get(scope, after.id)).toBeDefined();
  });

  it("hides media from other users until it is attached to a conversation they can read (and after it is detached), and from other tenants always", async () => {
    const m = await uploaded("alice", randomBytes(100));
    for (const who of ["bob", "carol"]) {
      expect((await failure(w.media(who).getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
      expect((await failure(w.media(who).getDownloadUrl({ mediaId: m.id }))).code).toBe(Code.NotFound);
    }
    expect((await failure(w.media("alice", randomUUID()).getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    // An unknown id looks the same.
    expect((await failure(w.media("bob").getMedia({ mediaId: newId() }))).message).toMatch(/not found/);

    const conv = (await w.chat("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "t" })).conversation!;
    const attached = await w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: conv.id, mediaIds: [m.id], authority: { case: "uploaderId", value: "alice" } });
    expect(attached.media).toEqual([m]);
    expect((await w.media("bob").getMedia({ mediaId: m.id })).media).toEqual(m);
    const link = await w.media("bob").getDownloadUrl({ mediaId: m.id });
    expect((await fetch(link.url)).status).toBe(200);
    // Only the owner changes it; readers get PERMISSION_DENIED, strangers NOT_FOUND.
    expect((await failure(w.media("bob").deleteMedia({ mediaId: m.id }))).code).toBe(Code.PermissionDenied);
    expect((await failure(w.media("bob").completeUpload({ mediaId: m.id }))).code).toBe(Code.PermissionDenied);
    expect((await failure(w.media("carol").getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    expect((await failure(w.media("carol").deleteMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    expect((await failure(w.media("bob", randomUUID()).getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);

    // Detached (its message deleted for everyone): bob no longer reads it, alice still does; only services may detach.
    const detach = { tenantId: w.tenantId, conversationId: conv.id, mediaIds: [m.id] };
    expect((await failure(w.internal(`${w.tenantId}/bob`).detachMedia(detach))).code).toBe(Code.PermissionDenied);
    expect((await failure(w.internal(undefined).detachMedia(detach))).code).toBe(Code.Unauthenticated);
    expect((await failure(w.internal("svc:chat").detachMedia({ ...detach, mediaIds: [] }))).code).toBe(Code.InvalidArgument);
    await w.internal("svc:chat").detachMedia(detach);
    await w.internal("svc:chat").detachMedia({ ...detach, mediaIds: [m.id, newId()] }); // idempotent; unknown ids skipped
    expect((await failure(w.media("bob").getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    expect((await failure(w.media("bob").getDownloadUrl({ mediaId: m.id }))).code).toBe(Code.NotFound);
    expect((await w.media("alice").getMedia({ mediaId: m.id })).media).toEqual(m);
  });

  it("attaches READY media only, on the uploader's or a source conversation's authority, idempotently and in request order", async () => {
    const a = await uploaded("alice", randomBytes(10), "a.png");
    const b = await uploaded("alice", randomBytes(20), "b.png");
    const pending = (await w.media("alice").createUpload({ name: "p.png", mimeType: "image/png", sizeBytes: 5n })).media!;
    const bobs = await uploaded("bob", randomBytes(5), "bob.png");
    const svc = w.internal("svc:chat");
    const conv = newId();
    const attach = (mediaIds: string[], authority: { case: "uploaderId" | "sourceConversationId"; value: string }, conversationId = conv, tenantId = w.tenantId) =>
      svc.attachMedia({ tenantId, conversationId, mediaIds, authority });

    expect(
      (await failure(w.internal(`${w.tenantId}/alice`).attachMedia({ tenantId: w.tenantId, conversationId: conv, mediaIds: [a.id], authority: { case: "uploaderId", value: "alice" } }))).code,
    ).toBe(Code.PermissionDenied);
    expect((await failure(w.internal(undefined).attachMedia({ tenantId: w.tenantId, conversationId: conv, mediaIds: [a.id], authority: { case: "uploaderId", value: "alice" } }))).code).toBe(
      Code.Unauthenticated,
    );
    expect((await failure(attach([a.id, pending.id], { case: "uploaderId", value: "alice" }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(attach([a.id, bobs.id], { case: "uploaderId", value: "alice" }))).code).toBe(Code.NotFound);
    expect((await failure(attach([a.id, newId()], { case: "uploaderId", value: "alice" }))).code).toBe(Code.NotFound);
    expect((await failure(attach([a.id], { case: "uploaderId", value: "alice" }, conv, randomUUID()))).code).toBe(Code.NotFound);
    // Nothing was linked by the refused calls.
    expect(await w.store.linkedConversations(scopeForAdmin(w.tenantId), a.id, { limit: 10 })).toEqual([]);

    expect((await attach([b.id, a.id], { case: "uploaderId", value: "alice" })).media.map((m) => m.id)).toEqual([b.id, a.id]);
    expect((await attach([a.id, b.id], { case: "uploaderId", value: "alice" })).media.map((m) => m.name)).toEqual(["a.png", "b.png"]);

    // A forward: the media must already be attached to the source conversation.
    const other = newId();
    expect((await failure(attach([a.id, bobs.id], { case: "sourceConversationId", value: conv }, other))).code).toBe(Code.NotFound);
    expect((await attach([a.id], { case: "sourceConversationId", value: conv }, other)).media[0]!.id).toBe(a.id);
    expect((await w.store.linkedConversations(scopeForAdmin(w.tenantId), a.id, { limit: 10 })).sort()).toEqual([conv, other].sort());
  });

  it("deletes for the owner: the bytes go and everyone gets NOT_FOUND afterwards; the owner may repeat it", async () => {
    const m = await uploaded("alice", randomBytes(64));
    const conv = (await w.chat("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "t" })).conversation!;
    await w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: conv.id, mediaIds: [m.id], authority: { case: "uploaderId", value: "alice" } });
    const url = (await w.media("bob").getDownloadUrl({ mediaId: m.id })).url;

    await w.media("alice").deleteMedia({ mediaId: m.id });
    await w.media("alice").deleteMedia({ mediaId: m.id });
    expect((await fetch(url)).status).toBe(404);
    for (const who of ["alice", "bob"]) {
      expect((await failure(w.media(who).getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
      expect((await failure(w.media(who).getDownloadUrl({ mediaId: m.id }))).code).toBe(Code.NotFound);
    }
    expect((await failure(w.media("bob").deleteMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    expect((await failure(w.media("alice").deleteMedia({ mediaId: newId() }))).code).toBe(Code.NotFound);
    expect((await failure(w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: newId(), mediaIds: [m.id], authority: { case: "uploaderId", value: "alice" } }))).code).toBe(
      Code.NotFound,
    );
    expect(
      (await failure(w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: newId(), mediaIds: [m.id], authority: { case: "sourceConversationId", value: conv.id } }))).code,
    ).toBe(Code.NotFound);
  });

  it("lets a member read attached media only while chat says they can read the conversation", async () => {
    const m = await uploaded("alice", randomBytes(8));
    const chat = w.chat("alice");
    const conv = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "t" })).conversation!;
    // Attached to a conversation bob is not in: still hidden from him.
    const privateConv = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["carol"], title: "p" })).conversation!;
    await w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: privateConv.id, mediaIds: [m.id], authority: { case: "uploaderId", value: "alice" } });
    expect((await failure(w.media("bob").getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    expect((await w.media("carol").getMedia({ mediaId: m.id })).media?.id).toBe(m.id);
    await w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: conv.id, mediaIds: [m.id], authority: { case: "sourceConversationId", value: privateConv.id } });
    expect((await w.media("bob").getMedia({ mediaId: m.id })).media?.id).toBe(m.id);
  });

  it("asks chat about linked conversations in pages of 100 until one is readable", async () => {
    const m = await uploaded("alice", randomBytes(8));
    const scope = scopeForAdmin(w.tenantId);
    // 150 links to conversations bob cannot read, all sorting before the one he can.
    const unreadable = Array.from({ length: 150 }, () => newId());
    for (const c of unreadable) await w.store.link(scope, c, [m.id], w.clock.nowMs());
    expect((await failure(w.media("bob").getMedia({ mediaId: m.id }))).code).toBe(Code.NotFound);
    const conv = (await w.chat("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "t" })).conversation!;
    expect(conv.id > unreadable.sort().at(-1)!).toBe(true);
    await w.internal("svc:chat").attachMedia({ tenantId: w.tenantId, conversationId: conv.id, mediaIds: [m.id], authority: { case: "uploaderId", value: "alice" } });
    expect((await w.media("bob").getMedia({ mediaId: m.id })).media?.id).toBe(m.id);
  });
});
