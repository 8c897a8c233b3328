import { readFileSync } from "node:fs";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyJobState, PrivacyService, type PrivacyJob } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { bearer, codeOf, tenantWithUsers } from "../support/tenants.js";

const embedded = inject("embedded");
const cluster = inject("cluster");

type Privacy = ReturnType<typeof createClient<typeof PrivacyService>>;

/** Polls GetJob until the job leaves RUNNING. */
async function finished(privacy: Privacy, jobId: string, timeoutMs = 60_000): Promise<PrivacyJob> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const { job } = await privacy.getJob({ jobId });
    if (job!.state !== PrivacyJobState.RUNNING) return job!;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => "",
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );

async function archivesExpireAndGoWithTheUser(gateway: string, adminCredential: string): Promise<void> {
  const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "export-expiry");
  const other = await tenantWithUsers(gateway, adminCredential, ["carol"], "export-expiry-other");
  const as = (token: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] });
  const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "privacy" })).secret;
  const otherKey = (await other.admin.createApiKey({ tenantId: other.tenantId, name: "privacy" })).secret;
  const privacy = createClient(PrivacyService, as(apiKey));
  const retention = createClient(RetentionService, as(apiKey));
  const otherRetention = createClient(RetentionService, as(otherKey));
  const alice = createClient(ChatService, as(acme.token("alice")));
  const conversationId = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "exports" })).conversation!.id;
  await alice.sendMessage({ conversationId, clientMessageId: "a0", text: "alice's words" });
  await createClient(ChatService, as(acme.token("bob"))).sendMessage({ conversationId, clientMessageId: "b0", text: "bob's words" });

  // The platform default is visible as the tenant's effective export age; a tenant sets its own (tenant policy only).
  expect((await retention.getRetentionPolicy({})).effective!.exportMaxAge!.seconds).toBe(7n * 86_400n);
  expect(await codeOf(retention.setRetentionPolicy({ policy: { conversationId, exportMaxAge: { seconds: 2n } } }))).toBe(Code.InvalidArgument);
  expect(await codeOf(retention.setRetentionPolicy({ policy: { exportMaxAge: { seconds: 0n } } }))).toBe(Code.InvalidArgument);
  await retention.setRetentionPolicy({ policy: { exportMaxAge: { seconds: 2n } } });
  expect((await retention.getRetentionPolicy({})).policy!.exportMaxAge!.seconds).toBe(2n);

  // Alice's export expires 2 s after it succeeded.
  const first = await finished(privacy, (await privacy.requestExport({ userId: "alice" })).job!.id);
  expect(first.state).toBe(PrivacyJobState.SUCCEEDED);
  const expireMs = timestampMs(first.archiveExpireTime!);
  expect(expireMs - timestampMs(first.completeTime!)).toBe(2000);
  // (Bob's export below is downloaded before and after its deletion; a 2 s age leaves no safe window for that on a loaded machine.)
  await new Promise((r) => setTimeout(r, Math.max(0, expireMs - Date.now()) + 100));

  // Due but not yet swept: no new URL, a clear status. Another tenant's run deletes nothing of acme's.
  const due = await errorOf(privacy.getExportDownload({ jobId: first.id }));
  expect(due).toMatch(/failed_precondition.*retention.*request a new export/i);
  expect((await retention.previewRetention({})).counts!.exports).toBe(1n);
  expect((await otherRetention.runRetention({})).counts!.exports).toBe(0n);
  expect((await retention.runRetention({})).counts!.exports).toBe(1n);
  const expired = (await privacy.getJob({ jobId: first.id })).job!;
  expect(expired).toMatchObject({ state: PrivacyJobState.EXPIRED, archiveDeleteReason: "retention", percent: 100 });
  expect(timestampMs(expired.archiveExpireTime!)).toBe(expireMs);
  expect(await codeOf(privacy.getExportDownload({ jobId: first.id }))).toBe(Code.FailedPrecondition);
  expect((await retention.runRetention({})).counts!.exports).toBe(0n);
  const audit = createClient(AuditService, as(apiKey));
  const deletions = (await audit.listAuditEvents({ action: "compliance.export.delete" })).events;
  const detailsOf = (e: (typeof deletions)[number]) => Object.fromEntries(e.details.map((d) => [d.key, d.value]));
  expect(deletions.map((e) => [e.target?.id, detailsOf(e)])).toEqual([["alice", { job_id: first.id, reason: "retention" }]]);
  // A new request makes a new export instead of returning the expired one (under the platform default age again).
  await retention.deleteRetentionPolicy({});
  const again = (await privacy.requestExport({ userId: "alice" })).job!;
  expect(again.id).not.toBe(first.id);
  await finished(privacy, again.id);

  // Bob's export goes with his erasure, which says so in its progress.
  const bobs = await finished(privacy, (await privacy.requestExport({ userId: "bob" })).job!.id);
  expect(timestampMs(bobs.archiveExpireTime!) - timestampMs(bobs.completeTime!)).toBe(7 * 86_400_000);
  const bobUrl = (await privacy.getExportDownload({ jobId: bobs.id })).url;
  expect((await fetch(bobUrl)).status).toBe(200);
  const erasure = await finished(privacy, (await privacy.requestErasure({ userId: "bob" })).job!.id);
  expect(erasure.state).toBe(PrivacyJobState.SUCCEEDED);
  expect(erasure.services.map((s) => [s.service, s.done])).toEqual([
    ["auth", true],
    ["chat", true],
    ["media", true],
    ["search", true],
    ["exports", true],
  ]);
  expect(erasure.services.find((s) => s.service === "exports")!.items).toBe(1n);
  expect((await privacy.getJob({ jobId: bobs.id })).job).toMatchObject({ state: PrivacyJobState.EXPIRED, archiveDeleteReason: "erasure" });
  expect(await errorOf(privacy.getExportDownload({ jobId: bobs.id }))).toMatch(/user was erased/);
  expect((await fetch(bobUrl)).status).toBe(404);
  // Alice's newer export was not touched by bob's erasure.
  expect((await privacy.getJob({ jobId: again.id })).job!.state).toBe(PrivacyJobState.SUCCEEDED);
  expect((await fetch((await privacy.getExportDownload({ jobId: again.id })).url)).status).toBe(200);
}

describe("export archives expire and go with an erasure (embedded platform)", () => {
  it("deletes an archive once the tenant's export age ran out, says so, makes a new export on request, and erasure deletes the user's archives", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    await archivesExpireAndGoWithTheUser(embedded.endpoints.gateway!, adminCredential);
  }, 120_000);
});

describe.skipIf(!cluster)("export archives expire and go with an erasure (cluster: MongoDB protocol, S3)", () => {
  it("deletes an archive once the tenant's export age ran out, says so, makes a new export on request, and erasure deletes the user's archives", async () => {
    await archivesExpireAndGoWithTheUser(cluster!.endpoints.gateway!, cluster!.adminToken);
  }, 120_000);
});
