import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { MediaState, type UploadForm } from "@caas/gen/caas/media/v1/media_pb.js";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE } from "@caas/shared/identity/service-tokens";
import { newId } from "@caas/shared/ids";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";
import { bufCli } from "../support/clients.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const gateway = platform.endpoints.gateway!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
const root = readFileSync(join(platform.dataDir, SERVICE_SECRET_FILE), "utf8").trim();

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/** POSTs `bytes` with the form, as a browser's FormData does: the fields in order, the file last. */
async function postForm(form: UploadForm, bytes: Uint8Array): Promise<Response> {
  const body = new FormData();
  for (const f of form.fields) body.append(f.name, f.value);
  body.append(form.fileField, new Blob([bytes]), "upload.bin");
  return fetch(form.url, { method: form.method, body });
}

describe("media through the gateway (embedded platform, real clients, presigned fs blobs)", () => {
  let acme: Awaited<ReturnType<typeof tenantWithUsers>>;
  let other: Awaited<ReturnType<typeof tenantWithUsers>>;
  let attach: Client<typeof MediaInternalService>["attachMedia"];
  const media = (token: string) => createClient(MediaService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));

  beforeAll(async () => {
    acme = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice", "bob", "carol", "dave"], "media");
    other = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice"], "media-other");
    // AttachMedia is chat's to call; here a real service token of chat's, straight to media.
    const peers = new PeerDirectory();
    peers.set("auth", [platform.endpoints.auth!]);
    const tokens = createPeerServiceTokenSource({ service: "chat", root, peers, clock: systemClock });
    const internal = createClient(MediaInternalService, createGrpcTransport({ baseUrl: platform.endpoints.media! }));
    attach = async (req, opts) => internal.attachMedia(req, { ...opts, headers: { authorization: `Bearer ${await tokens.token("media")}` } });
  });

  it("uploads with the form, completes, downloads the same bytes, and keeps them from others until attached", async () => {
    const alice = media(acme.token("alice"));
    const bytes = randomBytes(200_000);
    const { media: pending, upload } = await alice.createUpload({ name: "report.pdf", mimeType: "application/pdf", sizeBytes: BigInt(bytes.length) });
    expect(pending).toMatchObject({ ownerId: "alice", state: MediaState.PENDING, sizeBytes: 0n });
    expect(upload!.url.startsWith(platform.endpoints.media!)).toBe(true);
    expect((await failure(alice.completeUpload({ mediaId: pending!.id }))).code).toBe(Code.FailedPrecondition);
    // Browsers on another origin may use the signed URLs (CORS), preflight included.
    const preflight = await fetch(upload!.url, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    const posted = await postForm(upload!, bytes);
    expect(posted.status).toBe(204);
    expect(posted.headers.get("access-control-allow-origin")).toBe("*");
    const ready = (await alice.completeUpload({ mediaId: pending!.id })).media!;
    expect(ready).toMatchObject({ state: MediaState.READY, sizeBytes: BigInt(bytes.length), mimeType: "application/pdf" });
    // The form outlives the completion, but what it uploads now never reaches a reader.
    const swapped = await postForm(upload!, randomBytes(bytes.length));
    expect(swapped.status).toBe(204);
    expect((await alice.completeUpload({ mediaId: pending!.id })).media).toEqual(ready);

    // Connect over HTTP/1.1 through the gateway too.
    const aliceH1 = createClient(MediaService, createConnectTransport({ baseUrl: gateway, httpVersion: "1.1", interceptors: [bearer(acme.token("alice"))] }));
    const { url } = await aliceH1.getDownloadUrl({ mediaId: ready.id });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("content-disposition")).toContain('filename="report.pdf"');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);

    // Another user of the tenant, and the same user id in another tenant: NOT_FOUND.
    expect((await failure(media(acme.token("bob")).getMedia({ mediaId: ready.id }))).code).toBe(Code.NotFound);
    expect((await failure(media(acme.token("bob")).getDownloadUrl({ mediaId: ready.id }))).code).toBe(Code.NotFound);
    expect((await failure(media(other.token("alice")).getMedia({ mediaId: ready.id }))).code).toBe(Code.NotFound);

    // Attached to a conversation bob is in (chat answers CheckAccess), bob can read it; carol still cannot.
    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token("alice"))] }));
    const conv = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "files" })).conversation!;
    const attached = await attach({ tenantId: acme.tenantId, conversationId: conv.id, mediaIds: [ready.id], authority: { case: "uploaderId", value: "alice" } });
    expect(attached.media.map((m) => m.id)).toEqual([ready.id]);
    expect((await media(acme.token("bob")).getMedia({ mediaId: ready.id })).media).toEqual(ready);
    const bobUrl = (await media(acme.token("bob")).getDownloadUrl({ mediaId: ready.id })).url;
    expect(Buffer.from(await (await fetch(bobUrl)).arrayBuffer()).equals(bytes)).toBe(true);
    expect((await failure(media(acme.token("carol")).getMedia({ mediaId: ready.id }))).code).toBe(Code.NotFound);
    expect((await failure(media(acme.token("bob")).deleteMedia({ mediaId: ready.id }))).code).toBe(Code.PermissionDenied);

    // Deleted by its owner: gone for everyone, bytes included.
    await alice.deleteMedia({ mediaId: ready.id });
    expect((await fetch(bobUrl)).status).toBe(404);
    for (const who of ["alice", "bob"]) expect((await failure(media(acme.token(who)).getMedia({ mediaId: ready.id }))).code).toBe(Code.NotFound);
  });

  it("refuses oversize uploads, bytes over the declared size and a changed content type", async () => {
    const alice = media(acme.token("alice"));
    const huge = await failure(alice.createUpload({ name: "huge.bin", mimeType: "application/octet-stream", sizeBytes: 101n * 1024n * 1024n }));
    expect(huge.code).toBe(Code.InvalidArgument);
    const { media: m, upload } = await alice.createUpload({ name: "note.txt", mimeType: "text/plain", sizeBytes: 100n });
    expect((await postForm(upload!, randomBytes(101))).status).toBe(413);
    const retyped = upload!.fields.map((f) => (f.name.toLowerCase() === "content-type" ? { ...f, value: "text/html" } : f));
    expect(retyped).not.toEqual(upload!.fields);
    expect((await postForm({ ...upload!, fields: retyped }, randomBytes(10))).status).toBeGreaterThanOrEqual(400);
    expect((await failure(alice.completeUpload({ mediaId: m!.id }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(alice.getDownloadUrl({ mediaId: m!.id }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(alice.getMedia({ mediaId: "not-a-uuid" }))).code).toBe(Code.InvalidArgument);
  });

  it("attaches on service tokens only, READY media only, and is not served at the edge", async () => {
    const dave = media(acme.token("dave"));
    const { media: m } = await dave.createUpload({ name: "x.png", mimeType: "image/png", sizeBytes: 10n });
    const req = { tenantId: acme.tenantId, conversationId: newId(), mediaIds: [m!.id], authority: { case: "uploaderId" as const, value: "dave" } };
    expect((await failure(attach(req))).code).toBe(Code.FailedPrecondition);
    const asUser = createClient(MediaInternalService, createGrpcTransport({ baseUrl: platform.endpoints.media!, interceptors: [bearer(acme.token("dave"))] }));
    expect((await failure(asUser.attachMedia(req))).code).toBe(Code.PermissionDenied);
    const atEdge = createClient(MediaInternalService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token("dave"))] }));
    expect((await failure(atEdge.attachMedia(req))).code).toBe(Code.Unimplemented);
  });

  it("lists MediaService at the gateway and both media services on media's own port (reflection)", async () => {
    const list = async (url: string) => (await bufCli(["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", url])).trim().split("\n");
    expect(await list(gateway)).toContain("caas.media.v1.MediaService");
    expect(await list(gateway)).not.toContain("caas.media.v1.MediaInternalService");
    const own = await list(platform.endpoints.media!);
    for (const s of ["caas.media.v1.MediaService", "caas.media.v1.MediaInternalService", "grpc.health.v1.Health"]) expect(own).toContain(s);
  });

  it("counts CreateUpload against the per-user `upload` rate limit at the gateway (10 per minute)", async () => {
    const carol = media(acme.token("carol"));
    for (let i = 0; i < 10; i++) await carol.createUpload({ name: `f${i}.txt`, mimeType: "text/plain", sizeBytes: 1n });
    const refused = await failure(carol.createUpload({ name: "f10.txt", mimeType: "text/plain", sizeBytes: 1n }));
    expect(refused.code).toBe(Code.ResourceExhausted);
  });
});
