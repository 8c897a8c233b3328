import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { AuditActorKind, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { LegalHoldKind, RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { BadRequestSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { bearer, codeOf, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");
const cluster = inject("cluster");

/** The maximum age under test: long enough that a message sent just before a run is not yet expired, on a loaded machine too. */
const AGE_MS = 10_000;

/** Polls `read` until `done` holds; no fixed sleeps. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function violations(p: Promise<unknown>): Promise<{ code: Code | undefined; fields: string[] }> {
  return p.then(
    () => ({ code: undefined, fields: [] }),
    (e: unknown) => {
      const err = ConnectError.from(e);
      // Protovalidate's violations (checked at the edge) or the service's own google.rpc.BadRequest.
      const checked = err.findDetails(ViolationsSchema).flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".") ?? ""));
      return { code: err.code, fields: [...checked, ...err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field))] };
    },
  );
}

/** Uploads a small file as the user and returns its media id. */
async function upload(media: Client<typeof MediaService>, text: string): Promise<string> {
  const bytes = Buffer.from(text);
  const { media: reserved, upload: target } = await media.createUpload({ name: "note.txt", mimeType: "text/plain", sizeBytes: BigInt(bytes.length) });
  const form = new FormData();
  for (const f of target!.fields) form.append(f.name, f.value);
  form.append(target!.fileField, new Blob([bytes], { type: target!.contentType }), "note.txt");
  const posted = await fetch(target!.url, { method: target!.method, body: form });
  expect(posted.status, await posted.clone().text()).toBeLessThan(300);
  return (await media.completeUpload({ mediaId: reserved!.id })).media!.id;
}

async function retentionEndToEnd(gateway: string, adminCredential: string): Promise<void> {
  const marker = `wombat${randomUUID().slice(0, 8)}`;
  const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob", "carol"], "retention");
  const other = await tenantWithUsers(gateway, adminCredential, ["dave"], "retention-other");
  const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "compliance" })).secret;
  const otherKey = (await other.admin.createApiKey({ tenantId: other.tenantId, name: "compliance" })).secret;
  const transport = (credential: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(credential)] });
  const chatAs = (user: string) => createClient(ChatService, transport(acme.token(user)));
  const retention = createClient(RetentionService, transport(apiKey));
  const otherRetention = createClient(RetentionService, transport(otherKey));
  const alice = chatAs("alice");
  const bob = chatAs("bob");
  const carol = chatAs("carol");
  const aliceMedia = createClient(MediaService, transport(acme.token("alice")));

  // Old messages in three conversations; one carries an attachment.
  const create = async (title: string, members: string[]) => (await alice.createConversation({ type: ConversationType.GROUP, memberIds: members, title })).conversation!.id;
  const [c1, c2, c3] = [await create("one", ["bob", "carol"]), await create("two", ["bob"]), await create("three", ["bob"])];
  const mediaId = await upload(aliceMedia, `attached ${marker}`);
  // The uploader's own delete is audited from the media topic.
  const deletedMedia = await upload(aliceMedia, "deleted by its uploader");
  await aliceMedia.deleteMedia({ mediaId: deletedMedia });
  await alice.sendMessage({ conversationId: c1, clientMessageId: "old-a1", text: `alice old ${marker}`, attachments: [{ mediaId }] });
  await bob.sendMessage({ conversationId: c1, clientMessageId: "old-b1", text: `bob old ${marker}` });
  await carol.sendMessage({ conversationId: c1, clientMessageId: "old-c1", text: `carol old ${marker}` });
  await alice.sendMessage({ conversationId: c2, clientMessageId: "old-a2", text: `alice old ${marker}` });
  await alice.sendMessage({ conversationId: c3, clientMessageId: "old-a3", text: `alice old ${marker}` });
  const oldSentAt = Date.now();

  // Policies: the tenant's AGE_MS; c2's own (longer) one cannot widen it: the narrower wins.
  await retention.setRetentionPolicy({ policy: { messageMaxAge: durationFromMs(AGE_MS) } });
  await retention.setRetentionPolicy({ policy: { conversationId: c2, messageMaxAge: durationFromMs(3_600_000) } });
  const c2Policy = await retention.getRetentionPolicy({ conversationId: c2 });
  expect(Number(c2Policy.policy!.messageMaxAge!.seconds)).toBe(3600);
  expect(Number(c2Policy.effective!.messageMaxAge!.seconds) * 1000).toBe(AGE_MS);
  // Holds: carol's messages and all of c3 stay.
  const carolHold = (await retention.placeLegalHold({ kind: LegalHoldKind.USER, targetId: "carol", reason: "case 7" })).hold!;
  const c3Hold = (await retention.placeLegalHold({ kind: LegalHoldKind.CONVERSATION, targetId: c3 })).hold!;
  expect((await retention.placeLegalHold({ kind: LegalHoldKind.USER, targetId: "carol" })).hold!.id).toBe(carolHold.id);

  // Wait until the old messages are past the age, then send fresh ones just before the run.
  await new Promise((r) => setTimeout(r, Math.max(0, oldSentAt + AGE_MS + 300 - Date.now())));
  await bob.sendMessage({ conversationId: c1, clientMessageId: "new-b1", text: "bob fresh" });
  await alice.sendMessage({ conversationId: c2, clientMessageId: "new-a2", text: "alice fresh" });

  // The preview counts and changes nothing.
  const preview = (await retention.previewRetention({})).counts!;
  expect(preview).toMatchObject({ messages: 3n, media: 1n, conversations: 3n, heldConversations: 1n, heldMessages: 1n });
  expect((await retention.previewRetention({ conversationId: c1 })).counts).toMatchObject({ messages: 2n, media: 1n, conversations: 1n, heldMessages: 1n });
  expect((await bob.listMessages({ conversationId: c1 })).messages.filter((m) => m.deleted)).toEqual([]);

  // The run removes exactly the expired, unheld messages and their media; a second run nothing.
  const run = (await retention.runRetention({})).counts!;
  expect(run).toMatchObject({ messages: 3n, media: 1n, conversations: 3n, heldConversations: 1n, heldMessages: 1n });
  expect((await retention.runRetention({})).counts).toMatchObject({ messages: 0n, media: 0n, heldMessages: 1n });
  const texts = async (conversationId: string) => (await bob.listMessages({ conversationId })).messages.map((m) => [m.senderId, m.deleted ? "" : m.text]);
  expect(await texts(c1)).toEqual(
    expect.arrayContaining([
      ["alice", ""],
      ["bob", ""],
      ["carol", `carol old ${marker}`],
      ["bob", "bob fresh"],
    ]),
  );
  expect(await texts(c2)).toEqual(
    expect.arrayContaining([
      ["alice", ""],
      ["alice", "alice fresh"],
    ]),
  );
  expect(await texts(c3)).toEqual([["alice", `alice old ${marker}`]]);
  // Readers see ordinary deletes: dense seqs, redacted events, a MessageDeleted marked expired.
  const { events } = await bob.sync({ conversationId: c1 });
  expect(events.map((e) => Number(e.seq))).toEqual(events.map((_, i) => i + 1));
  const expiredDeletes = events.filter((e) => e.payload.case === "messageDeleted" && e.payload.value.expired);
  expect(expiredDeletes.length).toBe(2);
  expect(events.filter((e) => e.redacted).length).toBe(2);
  expect(events.filter((e) => Buffer.from(toBinary(EventSchema, e)).includes(Buffer.from(`alice old ${marker}`))).length).toBe(0);
  expect(await codeOf(aliceMedia.getMedia({ mediaId }))).toBe(Code.NotFound);

  // Releasing c3's hold lets the next run take its old message. Without a tenant policy only the
  // conversations with their own are visited (c2's hour keeps its fresh message, however slow this run is).
  expect((await retention.releaseLegalHold({ holdId: c3Hold.id })).hold!.releaseTime).toBeDefined();
  expect(await codeOf(retention.releaseLegalHold({ holdId: c3Hold.id }))).toBe(Code.FailedPrecondition);
  await retention.deleteRetentionPolicy({});
  await retention.setRetentionPolicy({ policy: { conversationId: c3, messageMaxAge: durationFromMs(AGE_MS) } });
  expect((await retention.runRetention({})).counts).toMatchObject({ messages: 1n, conversations: 2n, heldConversations: 0n });
  expect(await texts(c3)).toEqual([["alice", ""]]);
  expect((await retention.listLegalHolds({})).holds.map((h) => h.id)).toEqual([carolHold.id]);
  expect((await retention.listLegalHolds({ includeReleased: true })).holds.map((h) => h.id)).toEqual([c3Hold.id, carolHold.id]);

  // A moderator's delete of someone else's message (alice owns c1).
  const fresh = (await bob.listMessages({ conversationId: c1 })).messages.find((m) => m.text === "bob fresh")!;
  await alice.deleteMessage({ conversationId: c1, messageId: fresh.id });

  // Erasure: refused while the user is held; a held conversation is skipped and reported.
  const privacy = createClient(PrivacyService, transport(apiKey));
  expect(await codeOf(privacy.requestErasure({ userId: "carol" }))).toBe(Code.FailedPrecondition);
  const c2Hold = (await retention.placeLegalHold({ kind: LegalHoldKind.CONVERSATION, targetId: c2 })).hold!;
  const { job } = await privacy.requestErasure({ userId: "alice" });
  const done = await until(
    () => privacy.getJob({ jobId: job!.id }),
    (r) => r.job!.state !== PrivacyJobState.RUNNING,
    "the erasure",
  );
  expect(done.job!.state).toBe(PrivacyJobState.SUCCEEDED);
  expect(done.job!.services.find((s) => s.service === "chat")!.skipped.map((s) => [s.type, s.id, s.reason])).toEqual([["conversation", c2, "legal_hold"]]);
  expect(await texts(c2)).toEqual(expect.arrayContaining([["alice", "alice fresh"]]));

  // Audited: runs (not the single deletes), hold changes, the erasure's request and completion, verification runs.
  const audit = createClient(AuditService, transport(apiKey));
  expect((await audit.verifyAuditLog({})).ok).toBe(true);
  const records = await until(
    () => audit.listAuditEvents({ pageSize: 500 }),
    (r) => r.events.filter((e) => e.action === "compliance.legal_hold.place").length === 3,
    "the retention audit records",
  );
  const actions = records.events.map((e) => e.action);
  expect(actions.filter((a) => a === "compliance.retention.run").length).toBe(3);
  expect(actions.filter((a) => a === "compliance.legal_hold.release").length).toBe(1);
  const firstRun = records.events.find((e) => e.action === "compliance.retention.run")!;
  const details = (e: AuditEvent) => Object.fromEntries(e.details.map((d) => [d.key, d.value]));
  expect(details(firstRun)).toMatchObject({ messages: "3", media: "1", held_messages: "1", held_conversations: "1" });
  expect(details(records.events.find((e) => e.action === "compliance.legal_hold.place" && e.target?.id === "carol")!)).toEqual({ hold_id: carolHold.id, kind: "user" });
  expect(records.events.some((e) => e.details.some((d) => d.value.includes("case 7")))).toBe(false);
  expect(records.events.some((e) => e.action === "chat.message.delete" && e.actor?.id === "bob")).toBe(false);
  const moderated = await until(
    () => audit.listAuditEvents({ action: "chat.message.delete", targetId: fresh.id }),
    (r) => r.events.length === 1,
    "the moderator delete record",
  );
  expect(details(moderated.events[0]!)).toMatchObject({ sender_id: "bob", by_moderator: "true" });
  const erasure = records.events.filter((e) => e.action.startsWith("compliance.erasure.")).map((e) => [e.action, e.target?.id, details(e).job_id]);
  // Once erased, the records name alice by her pseudonym only (ADR 0143): the same one in both.
  const pseudonym = erasure[0]![1]!;
  expect(pseudonym).toMatch(/^psn_[0-9a-f]{32}$/);
  expect(erasure).toEqual([
    ["compliance.erasure.request", pseudonym, job!.id],
    ["compliance.erasure.complete", pseudonym, job!.id],
  ]);
  expect(details(records.events.find((e) => e.action === "compliance.erasure.complete")!)).toMatchObject({ skipped: "1" });
  const mediaDelete = await until(
    () => audit.listAuditEvents({ action: "media.delete" }),
    (r) => r.events.length === 1,
    "the media delete record",
  );
  // Alice's own delete, named by a pseudonym (hers, or a one-off one if the record arrived after her erasure).
  const deleter = mediaDelete.events[0]!.actor!.id;
  expect(deleter).toMatch(/^psn_[0-9a-f]{32}$/);
  expect(mediaDelete.events.map((e) => [e.target?.id, e.actor?.id, details(e).owner_id])).toEqual([[deletedMedia, deleter, deleter]]);
  const platformAudit = createClient(AuditService, transport(adminCredential));
  const verifications = await platformAudit.listAuditEvents({ tenantId: "_platform", action: "compliance.audit.verify", targetId: acme.tenantId });
  expect(verifications.events.map((e) => [details(e).ok, e.actor?.kind])).toEqual([["true", AuditActorKind.API_KEY]]);

  // Bad input and other tenants.
  expect(await violations(retention.setRetentionPolicy({ policy: { messageMaxAge: { seconds: -5n, nanos: 0 } } }))).toMatchObject({ code: Code.InvalidArgument, fields: ["policy.message_max_age"] });
  expect(await violations(retention.setRetentionPolicy({ policy: { mediaMaxAge: { seconds: 0n, nanos: 0 } } }))).toMatchObject({ code: Code.InvalidArgument, fields: ["policy.media_max_age"] });
  expect((await violations(retention.setRetentionPolicy({ policy: {} }))).code).toBe(Code.InvalidArgument);
  expect(await codeOf(retention.setRetentionPolicy({ policy: { conversationId: randomUUID(), messageMaxAge: durationFromMs(60_000) } }))).toBe(Code.NotFound);
  expect(await codeOf(otherRetention.setRetentionPolicy({ policy: { conversationId: c1, messageMaxAge: durationFromMs(60_000) } }))).toBe(Code.NotFound);
  expect(await codeOf(otherRetention.placeLegalHold({ kind: LegalHoldKind.CONVERSATION, targetId: c1 }))).toBe(Code.NotFound);
  expect(await codeOf(otherRetention.placeLegalHold({ kind: LegalHoldKind.USER, targetId: "carol" }))).toBe(Code.NotFound);
  expect(await codeOf(otherRetention.releaseLegalHold({ holdId: c2Hold.id }))).toBe(Code.NotFound);
  expect((await otherRetention.listLegalHolds({ includeReleased: true })).holds).toEqual([]);
  expect((await otherRetention.getRetentionPolicy({})).policy!.messageMaxAge).toBeUndefined();
  expect(await codeOf(otherRetention.runRetention({ tenantId: acme.tenantId }))).toBe(Code.PermissionDenied);
  expect(await codeOf(retention.placeLegalHold({ kind: LegalHoldKind.TENANT, targetId: "x" }))).toBe(Code.InvalidArgument);
  expect(await codeOf(createClient(RetentionService, transport(acme.token("bob"))).listLegalHolds({}))).toBe(Code.PermissionDenied);
  expect(await codeOf(createClient(RetentionService, createGrpcTransport({ baseUrl: gateway })).listLegalHolds({}))).toBe(Code.Unauthenticated);
  const asAdmin = createClient(RetentionService, transport(adminCredential));
  expect((await asAdmin.listLegalHolds({ tenantId: acme.tenantId })).holds.length).toBe(2);

  // A tenant-wide hold stops every run and every erasure.
  await retention.placeLegalHold({ kind: LegalHoldKind.TENANT });
  expect((await retention.runRetention({})).counts).toMatchObject({ messages: 0n, conversations: 2n, heldConversations: 2n });
  expect(await codeOf(privacy.requestErasure({ userId: "bob" }))).toBe(Code.FailedPrecondition);
}

describe("retention policies and legal holds through the gateway (embedded platform)", () => {
  it("expires exactly the old, unheld messages and media, audits runs and holds, and refuses what it must", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    await retentionEndToEnd(embedded.endpoints.gateway!, adminCredential);
  }, 120_000);
});

describe.skipIf(!cluster)("retention policies and legal holds through the gateway (cluster: Kafka, MongoDB protocol)", () => {
  it("expires exactly the old, unheld messages and media, audits runs and holds, and refuses what it must", async () => {
    await retentionEndToEnd(cluster!.endpoints.gateway!, cluster!.adminToken);
  }, 120_000);
});
