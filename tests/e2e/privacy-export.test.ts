import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import tar from "tar-stream";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyJobKind, PrivacyJobState, PrivacyService, type PrivacyJob } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import type { UploadForm } from "@caas/gen/caas/media/v1/media_pb.js";
import { bearer, codeOf, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");
const cluster = inject("cluster");

type Privacy = ReturnType<typeof createClient<typeof PrivacyService>>;

/** Polls GetJob until the job leaves RUNNING; no fixed sleeps. */
async function finished(privacy: Privacy, jobId: string, timeoutMs = 60_000): Promise<PrivacyJob> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const { job } = await privacy.getJob({ jobId });
    if (job!.state !== PrivacyJobState.RUNNING) return job!;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running: ${JSON.stringify(job, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Retries `probe` until it returns a value (the audit recorder consumes the bus asynchronously). */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function postForm(form: UploadForm, bytes: Uint8Array): Promise<Response> {
  const body = new FormData();
  for (const f of form.fields) body.append(f.name, f.value);
  body.append(form.fileField, new Blob([bytes]), "upload.bin");
  return fetch(form.url, { method: form.method, body });
}

/** Every entry of a tar archive, by path. */
async function untar(archive: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        entries.set(header.name, Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  Readable.from([archive]).pipe(extract);
  await done;
  return entries;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const linesOf = (entries: Map<string, Buffer>, part: string) =>
  [...entries]
    .filter(([path]) => path.startsWith(`${part}/part-`))
    .flatMap(([, bytes]) => bytes.toString("utf8").trimEnd().split("\n"))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { kind: string });

async function exportEndToEnd(gateway: string, adminCredential: string): Promise<void> {
  const marker = `wombat${randomUUID().slice(0, 8)}`;
  const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "export");
  const other = await tenantWithUsers(gateway, adminCredential, ["carol"], "export-other");
  const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "privacy" })).secret;
  const as = (token: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] });
  const privacy = createClient(PrivacyService, as(apiKey));
  const alice = createClient(ChatService, as(acme.token("alice")));
  const bob = createClient(ChatService, as(acme.token("bob")));

  // What alice does: three messages, an edit, a reaction, a read position, an uploaded file.
  const conversationId = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "export" })).conversation!.id;
  const sent = [];
  for (let m = 0; m < 3; m++) sent.push(await alice.sendMessage({ conversationId, clientMessageId: `a${m}`, text: `alice ${marker} ${m}` }));
  await alice.editMessage({ conversationId, messageId: sent[0]!.messageId, text: `alice ${marker} edited` });
  const reply = await bob.sendMessage({ conversationId, clientMessageId: "b0", text: "bob's own words" });
  await alice.addReaction({ conversationId, messageId: reply.messageId, reaction: "🎉" });
  await alice.markRead({ conversationId, seq: reply.seq });
  const bytes = randomBytes(150_000);
  const media = createClient(MediaService, as(acme.token("alice")));
  const { media: pending, upload } = await media.createUpload({ name: "notes.bin", mimeType: "application/octet-stream", sizeBytes: BigInt(bytes.length) });
  expect((await postForm(upload!, bytes)).status).toBe(204);
  await media.completeUpload({ mediaId: pending!.id });
  // An audit record about alice exists before the export (the recorder reads the bus).
  const audit = createClient(AuditService, as(apiKey));
  const auditRecord = await eventually(async () => (await audit.listAuditEvents({ targetId: "alice" })).events[0]);

  const { job } = await privacy.requestExport({ userId: "alice" });
  expect(job).toMatchObject({ tenantId: acme.tenantId, userId: "alice", kind: PrivacyJobKind.EXPORT });
  const done = await finished(privacy, job!.id);
  expect(done).toMatchObject({ state: PrivacyJobState.SUCCEEDED, percent: 100, error: "" });
  expect(done.services.map((s) => [s.service, s.done])).toEqual([
    ["auth", true],
    ["chat", true],
    ["media", true],
    ["compliance", true],
    ["archive", true],
  ]);

  // Twice, by the API key or by alice herself: the same job.
  expect((await privacy.requestExport({ userId: "alice" })).job!.id).toBe(job!.id);
  const alicePrivacy = createClient(PrivacyService, as(acme.token("alice")));
  expect((await alicePrivacy.requestExport({})).job!.id).toBe(job!.id);
  expect((await alicePrivacy.getJob({ jobId: job!.id })).job!.state).toBe(PrivacyJobState.SUCCEEDED);

  // The archive: a tar with a manifest whose checksums match every entry.
  const download = await alicePrivacy.getExportDownload({ jobId: job!.id });
  expect(download.expireTime!.seconds).toBeGreaterThan(BigInt(Math.floor(Date.now() / 1000)));
  const response = await fetch(download.url);
  expect(response.status).toBe(200);
  const archive = Buffer.from(await response.arrayBuffer());
  expect([archive.length, sha256(archive)]).toEqual([Number(download.size), download.sha256]);
  const entries = await untar(archive);
  const manifest = JSON.parse(entries.get("manifest.json")!.toString("utf8")) as { format: string; export: Record<string, unknown>; entries: { path: string; size: number; sha256: string }[] };
  expect(manifest.format).toBe("caas-export/1");
  expect(manifest.export).toMatchObject({ jobId: job!.id, tenantId: acme.tenantId, userId: "alice" });
  expect(manifest.entries.map((e) => e.path).sort()).toEqual([...entries.keys()].filter((p) => p !== "manifest.json").sort());
  for (const e of manifest.entries) expect([e.path, entries.get(e.path)!.length, sha256(entries.get(e.path)!)]).toEqual([e.path, e.size, e.sha256]);

  // Contents against what alice did.
  const auth = linesOf(entries, "auth");
  expect(auth.find((l) => l.kind === "profile")).toMatchObject({ user: { id: "alice" } });
  const chat = linesOf(entries, "chat");
  const texts = chat.filter((l) => l.kind === "message").map((l) => (l.event as { messageCreated: { message: { text: string } } }).messageCreated.message.text);
  expect(texts).toEqual([0, 1, 2].map((m) => `alice ${marker} ${m}`));
  expect(chat.filter((l) => l.kind === "edit").map((l) => (l.event as { messageEdited: { text: string } }).messageEdited.text)).toEqual([`alice ${marker} edited`]);
  expect(chat.filter((l) => l.kind === "reaction").map((l) => (l.event as { reactionAdded: { reaction: string } }).reactionAdded.reaction)).toEqual(["🎉"]);
  expect(chat.filter((l) => l.kind === "read_state")).toEqual([expect.objectContaining({ conversationId })]);
  expect(chat.filter((l) => l.kind === "membership").map((l) => l.conversationId)).toEqual([conversationId]);
  expect(JSON.stringify(chat)).not.toContain("bob's own words");
  const files = linesOf(entries, "media");
  expect(files).toEqual([expect.objectContaining({ kind: "media", id: pending!.id, name: "notes.bin", sizeBytes: bytes.length, archivePath: `media/files/${pending!.id}` })]);
  expect(entries.get(`media/files/${pending!.id}`)!.equals(bytes)).toBe(true);
  expect(manifest.entries.find((e) => e.path === `media/files/${pending!.id}`)!.sha256).toBe(sha256(bytes));
  const audits = linesOf(entries, "compliance");
  expect(audits.map((l) => (l.event as { position: string }).position)).toContain(String(auditRecord.position));

  // Bad input and callers: unknown and other tenants' users alike NOT_FOUND; users export only themselves.
  expect(await codeOf(privacy.requestExport({ userId: "nobody" }))).toBe(Code.NotFound);
  expect(await codeOf(privacy.requestExport({ userId: "carol" }))).toBe(Code.NotFound);
  expect(await codeOf(privacy.requestExport({}))).toBe(Code.InvalidArgument);
  const bobPrivacy = createClient(PrivacyService, as(acme.token("bob")));
  expect(await codeOf(bobPrivacy.requestExport({ userId: "alice" }))).toBe(Code.PermissionDenied);
  expect(await codeOf(bobPrivacy.getJob({ jobId: job!.id }))).toBe(Code.NotFound);
  expect(await codeOf(bobPrivacy.getExportDownload({ jobId: job!.id }))).toBe(Code.NotFound);
  expect(await codeOf(bobPrivacy.requestErasure({ userId: "bob" }))).toBe(Code.PermissionDenied);
  const otherKey = (await other.admin.createApiKey({ tenantId: other.tenantId, name: "privacy" })).secret;
  const otherPrivacy = createClient(PrivacyService, as(otherKey));
  expect(await codeOf(otherPrivacy.getExportDownload({ jobId: job!.id }))).toBe(Code.NotFound);
  expect(await codeOf(otherPrivacy.requestExport({ userId: "alice" }))).toBe(Code.NotFound);
  expect(await codeOf(createClient(PrivacyService, createGrpcTransport({ baseUrl: gateway })).requestExport({ userId: "alice" }))).toBe(Code.Unauthenticated);
}

describe("GDPR export through the gateway (embedded platform)", () => {
  it("exports what a user did (profile, messages with an edit, a reaction, a read position, a file's bytes, audit records) as a tar with verified checksums", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    await exportEndToEnd(embedded.endpoints.gateway!, adminCredential);
  });
});

describe.skipIf(!cluster)("GDPR export through the gateway (cluster: Kafka, MongoDB protocol, S3)", () => {
  it("exports what a user did (profile, messages with an edit, a reaction, a read position, a file's bytes, audit records) as a tar with verified checksums", async () => {
    await exportEndToEnd(cluster!.endpoints.gateway!, cluster!.adminToken);
  });
});
