import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { PrivacyJobState, PrivacyService, type PrivacyJob } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { bearer, codeOf, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");
const cluster = inject("cluster");

/** Polls GetJob until the job leaves RUNNING; no fixed sleeps. */
async function finished(privacy: ReturnType<typeof createClient<typeof PrivacyService>>, jobId: string, timeoutMs = 30_000): Promise<PrivacyJob> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const { job } = await privacy.getJob({ jobId });
    if (job!.state !== PrivacyJobState.RUNNING) return job!;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running: ${JSON.stringify(job, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Retries `probe` until it returns a value (search indexes from the bus, asynchronously). */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function erasureEndToEnd(gateway: string, adminCredential: string): Promise<void> {
  const marker = `quokka${randomUUID().slice(0, 8)}`;
  const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "erasure");
  const other = await tenantWithUsers(gateway, adminCredential, ["carol"], "erasure-other");
  const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "privacy" })).secret;
  const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token(user))] }));
  const privacy = createClient(PrivacyService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(apiKey)] }));

  const alice = chatAs("alice");
  const bob = chatAs("bob");
  const conversations: string[] = [];
  for (let c = 0; c < 3; c++) {
    const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: `erasure ${c}` })).conversation!.id;
    conversations.push(id);
    for (let m = 0; m < 3; m++) await alice.sendMessage({ conversationId: id, clientMessageId: `a${c}-${m}`, text: `alice says ${marker} ${m}` });
    const reply = await bob.sendMessage({ conversationId: id, clientMessageId: `b${c}`, text: "bob keeps this" });
    await alice.addReaction({ conversationId: id, messageId: reply.messageId, reaction: "👍" });
  }

  // A file alice uploaded, and her messages found by search before the erasure.
  const files = createClient(MediaService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token("alice"))] }));
  const bytes = Buffer.from(`file of ${marker}`);
  const { media: pending, upload } = await files.createUpload({ name: "a.txt", mimeType: "text/plain", sizeBytes: BigInt(bytes.length) });
  const form = new FormData();
  for (const f of upload!.fields) form.append(f.name, f.value);
  form.append(upload!.fileField, new Blob([bytes]), "a.txt");
  expect((await fetch(upload!.url, { method: "POST", body: form })).status).toBeLessThan(300);
  await files.completeUpload({ mediaId: pending!.id });
  const { url: fileUrl } = await files.getDownloadUrl({ mediaId: pending!.id });
  expect((await fetch(fileUrl)).status).toBe(200);
  const search = createClient(SearchService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token("bob"))] }));
  await eventually(async () => ((await search.searchMessages({ query: marker, pageSize: 20 })).hits.length === 9 ? true : undefined));

  const { job } = await privacy.requestErasure({ userId: "alice" });
  expect(job).toMatchObject({ tenantId: acme.tenantId, userId: "alice" });
  const done = await finished(privacy, job!.id);
  expect(done).toMatchObject({ state: PrivacyJobState.SUCCEEDED, percent: 100, error: "" });
  expect(done.services.map((s) => [s.service, s.done])).toEqual([
    ["auth", true],
    ["chat", true],
    ["media", true],
    ["search", true],
    ["exports", true],
  ]);
  // Auth: the profile and the session; chat: 9 messages, 3 reactions, 3 read positions; media: the
  // file. Search: its 9 documents, less those its consumer already dropped on chat's deletes.
  // Exports: alice never asked for one.
  expect(done.services.slice(0, 3).map((s) => Number(s.items))).toEqual([2, 15, 1]);
  expect(Number(done.services[3]!.items)).toBeLessThanOrEqual(9);
  expect(done.services[4]!.items).toBe(0n);
  // The file's bytes are gone; search finds none of alice's words.
  expect((await fetch(fileUrl)).status).toBe(404);
  expect((await search.searchMessages({ query: marker, pageSize: 20 })).hits).toEqual([]);

  // Content: alice's messages are deleted for everyone, bob's stay; no event carries the marker.
  for (const id of conversations) {
    const { events } = await bob.sync({ conversationId: id });
    expect(events.map((e) => Number(e.seq))).toEqual(events.map((_, i) => i + 1));
    expect(events.some((e) => Buffer.from(toBinary(EventSchema, e)).includes(Buffer.from(marker)))).toBe(false);
    const { messages } = await bob.listMessages({ conversationId: id });
    expect(messages.filter((m) => m.senderId === "alice").every((m) => m.deleted && m.text === "")).toBe(true);
    expect(messages.filter((m) => m.senderId === "bob").map((m) => [m.text, m.reactions.length])).toEqual([["bob keeps this", 0]]);
  }
  // Account: the token is refused, the user is gone.
  expect(await codeOf(createClient(AuthService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token("alice"))] })).listSessions({}))).toBe(Code.Unauthenticated);
  expect(await codeOf(acme.backend.getUser({ userId: "alice" }))).toBe(Code.NotFound);

  // Twice in a row: the same job. Unknown users and other tenants' users: NOT_FOUND alike.
  expect((await privacy.requestErasure({ userId: "alice" })).job!.id).toBe(job!.id);
  expect(await codeOf(privacy.requestErasure({ userId: "nobody" }))).toBe(Code.NotFound);
  expect(await codeOf(privacy.requestErasure({ userId: "carol" }))).toBe(Code.NotFound);
  expect(await codeOf(privacy.getJob({ jobId: randomUUID() }))).toBe(Code.NotFound);
  const otherKey = (await other.admin.createApiKey({ tenantId: other.tenantId, name: "privacy" })).secret;
  const otherPrivacy = createClient(PrivacyService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(otherKey)] }));
  expect(await codeOf(otherPrivacy.getJob({ jobId: job!.id }))).toBe(Code.NotFound);
  expect(await codeOf(otherPrivacy.requestErasure({ userId: "carol", tenantId: acme.tenantId }))).toBe(Code.PermissionDenied);

  // Bad input and callers.
  expect(await codeOf(privacy.requestErasure({ userId: "bad id!" }))).toBe(Code.InvalidArgument);
  const asUser = createClient(PrivacyService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(acme.token("bob"))] }));
  expect(await codeOf(asUser.requestErasure({ userId: "bob" }))).toBe(Code.PermissionDenied);
  expect(await codeOf(createClient(PrivacyService, createGrpcTransport({ baseUrl: gateway })).getJob({ jobId: job!.id }))).toBe(Code.Unauthenticated);
  const asAdmin = createClient(PrivacyService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(adminCredential)] }));
  expect((await asAdmin.getJob({ jobId: job!.id, tenantId: acme.tenantId })).job!.id).toBe(job!.id);
  expect(await codeOf(asAdmin.getJob({ jobId: job!.id }))).toBe(Code.InvalidArgument);
}

describe("GDPR erasure through the gateway (embedded platform)", () => {
  it("erases a user's account, content, files and search documents through auth, chat, media and search, idempotently, and refuses what it must", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    await erasureEndToEnd(embedded.endpoints.gateway!, adminCredential);
  });
});

describe.skipIf(!cluster)("GDPR erasure through the gateway (cluster: Kafka, MongoDB protocol)", () => {
  it("erases a user's account, content, files and search documents through auth, chat, media and search, idempotently, and refuses what it must", async () => {
    await erasureEndToEnd(cluster!.endpoints.gateway!, cluster!.adminToken);
  });
});
