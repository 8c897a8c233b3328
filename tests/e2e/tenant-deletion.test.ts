import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it, vi } from "vitest";
import { TenantStatus } from "@caas/gen/caas/auth/v1/tenant_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PrivacyJobKind, PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { LegalHoldKind } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { SearchInternalService } from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE } from "@caas/shared/identity/service-tokens";
import { bearer, codeOf, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const cluster = inject("cluster");

/** Every regular file under `dir` whose bytes contain `word`. */
function filesContaining(dir: string, word: string): string[] {
  const needle = Buffer.from(word);
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    return st?.isFile() === true && readFileSync(join(dir, name)).includes(needle);
  });
}

/**
 * A tenant with a message holding a marker word (indexed by search) is deleted by the platform
 * admin: refused while a legal hold stands, then its API key and tokens are refused at once, the
 * job shreds chat's keys, purges search, media (the file's bytes), the export archives and the accounts, and another
 * tenant is untouched.
 * `filesHolding` (embedded) lists files of the data directory that still hold a word.
 */
async function scenario(opts: { gateway: string; auth: string; chat: string; search: string; adminCredential: string; serviceRoot: string; filesHolding?: (word: string) => string[] }) {
  const { gateway } = opts;
  const client = <S extends Parameters<typeof createClient>[0]>(service: S, url: string, credential: string) =>
    createClient(service, createGrpcTransport({ baseUrl: url, interceptors: [bearer(credential)] }));
  const marker = `zqxgone${randomBytes(5).toString("hex")}`;
  const kept = `zqxkept${randomBytes(5).toString("hex")}`;
  // In a conversation title: stored in chat's rows as it is (not sealed like message bodies).
  const titled = `zqxtitle${randomBytes(5).toString("hex")}`;
  const t = await tenantWithUsers(gateway, opts.adminCredential, ["alice", "bob"], "doomed");
  const o = await tenantWithUsers(gateway, opts.adminCredential, ["carol"], "bystander");
  const alice = client(ChatService, gateway, t.token("alice"));
  const conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: `doomed ${titled}` })).conversation!;
  await alice.sendMessage({ conversationId: conv.id, clientMessageId: "m1", text: `the word ${marker}` });
  // A file of the tenant holding the marker too (its bytes must leave the blob store).
  const files = client(MediaService, gateway, t.token("alice"));
  const bytes = Buffer.from(`file of ${marker}`);
  const { media: pending, upload } = await files.createUpload({ name: "a.txt", mimeType: "text/plain", sizeBytes: BigInt(bytes.length) });
  const form = new FormData();
  for (const f of upload!.fields) form.append(f.name, f.value);
  form.append(upload!.fileField, new Blob([bytes]), "a.txt");
  expect((await fetch(upload!.url, { method: "POST", body: form })).status).toBeLessThan(300);
  await files.completeUpload({ mediaId: pending!.id });
  const { url: fileUrl } = await files.getDownloadUrl({ mediaId: pending!.id });
  expect((await fetch(fileUrl)).status).toBe(200);
  const carol = client(ChatService, gateway, o.token("carol"));
  const own = (await carol.createConversation({ type: ConversationType.GROUP, memberIds: [], title: "kept" })).conversation!;
  await carol.sendMessage({ conversationId: own.id, clientMessageId: "k1", text: `the word ${kept}` });
  const found = (token: string, word: string) => client(SearchService, gateway, token).searchMessages({ query: word });
  await vi.waitFor(async () => expect((await found(t.token("bob"), marker)).hits).toHaveLength(1), { timeout: 20_000, interval: 300 });
  await vi.waitFor(async () => expect((await found(o.token("carol"), kept)).hits).toHaveLength(1), { timeout: 20_000, interval: 300 });

  const admin = client(PrivacyService, gateway, opts.adminCredential);
  // Alice's GDPR export: its archive holds the marker in plain text until the deletion removes it.
  const exported = (await client(PrivacyService, gateway, t.token("alice")).requestExport({})).job!;
  await vi.waitFor(async () => expect((await admin.getJob({ tenantId: t.tenantId, jobId: exported.id })).job!.state).toBe(PrivacyJobState.SUCCEEDED), { timeout: 30_000, interval: 300 });
  const retention = client(RetentionService, gateway, opts.adminCredential);
  // Refused while anything of the tenant is held; only the platform admin may ask; unknown tenants are not found.
  const hold = (await retention.placeLegalHold({ tenantId: t.tenantId, kind: LegalHoldKind.CONVERSATION, targetId: conv.id })).hold!;
  expect(await codeOf(admin.requestTenantDeletion({ tenantId: t.tenantId }))).toBe(Code.FailedPrecondition);
  expect(await codeOf(t.admin.deleteTenant({ tenantId: t.tenantId }))).toBe(Code.FailedPrecondition);
  await retention.releaseLegalHold({ tenantId: t.tenantId, holdId: hold.id });
  const [apiKey] = [t.backend];
  expect(await codeOf(client(PrivacyService, gateway, t.token("alice")).requestTenantDeletion({ tenantId: t.tenantId }))).toBe(Code.PermissionDenied);
  expect(await codeOf(admin.requestTenantDeletion({ tenantId: "0190a1b2-0000-7000-8000-000000000000" }))).toBe(Code.NotFound);
  expect(await codeOf(t.admin.deleteTenant({ tenantId: "0190a1b2-0000-7000-8000-000000000000" }))).toBe(Code.NotFound);
  expect(await codeOf(admin.requestTenantDeletion({ tenantId: "nope" }))).toBe(Code.InvalidArgument);

  // The platform admin deletes through the tenant admin API; auth hands it to compliance.
  const deleted = await t.admin.deleteTenant({ tenantId: t.tenantId, reason: "contract ended" });
  expect(deleted.tenant!.status).toBe(TenantStatus.DELETED);
  const job = (await admin.getJob({ tenantId: t.tenantId, jobId: deleted.jobId })).job!;
  expect(job).toMatchObject({ kind: PrivacyJobKind.TENANT_DELETION, tenantId: t.tenantId, userId: "" });
  // Suspended at once: the API key and sign-ins are refused as soon as the request returned
  // (PERMISSION_DENIED while the tenant is suspended; UNAUTHENTICATED once the job's auth step has
  // removed the key, which in process can be done within milliseconds).
  const refused = [Code.PermissionDenied, Code.Unauthenticated];
  expect(refused).toContain(await codeOf(apiKey.upsertUser({ userId: "dave", displayName: "dave" })));
  expect(refused).toContain(await codeOf(apiKey.issueUserToken({ userId: "alice", deviceId: "d2" })));
  const done = await vi.waitFor(
    async () => {
      const j = (await admin.getJob({ tenantId: t.tenantId, jobId: job.id })).job!;
      expect(j.state, j.error).toBe(PrivacyJobState.SUCCEEDED);
      return j;
    },
    { timeout: 30_000, interval: 300 },
  );
  expect(done.percent).toBe(100);
  expect(done.services.map((s) => [s.service, s.done])).toEqual([
    ["chat", true],
    ["search", true],
    ["media", true],
    ["exports", true],
    ["auth", true],
  ]);
  const items = Object.fromEntries(done.services.map((s) => [s.service, s.items]));
  expect(items.chat).toBeGreaterThan(1n); // the tenant's one data key, then its rows: conversation, members, log, ...
  expect(items.search).toBeGreaterThanOrEqual(1n);
  expect(items.media).toBe(1n);
  expect(items.exports).toBe(1n); // alice's archive
  expect((await admin.getJob({ tenantId: t.tenantId, jobId: exported.id })).job!.state).toBe(PrivacyJobState.EXPIRED);
  expect((await fetch(fileUrl)).status).toBe(404);
  expect(items.auth).toBeGreaterThanOrEqual(4n); // two users, their two sessions
  // Idempotent: asking again returns the same (finished) job.
  expect((await admin.requestTenantDeletion({ tenantId: t.tenantId })).job!.id).toBe(job.id);
  const tenantAdmin = t.admin;
  expect((await tenantAdmin.getTenant({ tenantId: t.tenantId })).tenant!.status).toBe(TenantStatus.DELETED);
  expect(await codeOf(tenantAdmin.resumeTenant({ tenantId: t.tenantId }))).toBe(Code.FailedPrecondition);
  expect(await codeOf(tenantAdmin.suspendTenant({ tenantId: t.tenantId }))).toBe(Code.FailedPrecondition);
  expect(await codeOf(tenantAdmin.createApiKey({ tenantId: t.tenantId, name: "again" }))).toBe(Code.FailedPrecondition);
  // The key itself is revoked now, not only its tenant refused.
  expect(await codeOf(apiKey.upsertUser({ userId: "dave", displayName: "dave" }))).toBe(Code.Unauthenticated);
  expect((await tenantAdmin.listApiKeys({ tenantId: t.tenantId })).apiKeys).toEqual([]);
  // Access tokens issued before the deletion are refused once the deny-set has the tenant.
  await vi.waitFor(async () => expect(await codeOf(alice.listMessages({ conversationId: conv.id }))).toBeDefined(), { timeout: 10_000, interval: 300 });

  // Nothing of the tenant is left in the search index.
  const peers = new PeerDirectory();
  peers.set("auth", [opts.auth]);
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceRoot, peers, clock: systemClock });
  const searchInternal = client(SearchInternalService, opts.search, await tokens.token("search"));
  expect((await searchInternal.eraseTenantData({ tenantId: t.tenantId })).documentsRemoved).toBe(0n);
  // Nor in chat's store: no membership of either user is left (their rows are gone, not only unreadable).
  const chatInternal = client(ChatInternalService, opts.chat, await tokens.token("chat"));
  for (const userId of ["alice", "bob"]) expect((await chatInternal.listMemberships({ tenantId: t.tenantId, userId })).memberships).toEqual([]);
  expect((await chatInternal.eraseTenantData({ tenantId: t.tenantId })).rowsRemoved).toBe(0n);
  // The other tenant is untouched: its messages, its search documents, its API key.
  expect((await carol.listMessages({ conversationId: own.id })).messages.map((m) => m.text)).toContain(`the word ${kept}`);
  expect((await found(o.token("carol"), kept)).hits).toHaveLength(1);
  await o.backend.upsertUser({ userId: "erin", displayName: "erin" });
  // The marker word is in no file of the data directory, the search index included.
  if (opts.filesHolding) {
    const holding = opts.filesHolding;
    await vi.waitFor(() => expect(holding(marker)).toEqual([]), { timeout: 10_000, interval: 500 });
    expect(holding(titled)).toEqual([]);
    expect(holding(kept).length).toBeGreaterThan(0);
  }
}

describe("tenant deletion (embedded platform)", () => {
  it("refuses under a legal hold, then suspends at once, shreds, purges search, media and accounts; the marker word is gone from the data directory", async () => {
    const dir = platform.dataDir;
    await scenario({
      gateway: platform.endpoints.gateway!,
      auth: platform.endpoints.auth!,
      chat: platform.endpoints.chat!,
      search: platform.endpoints.search!,
      adminCredential: readFileSync(join(dir, "admin-credential"), "utf8").trim(),
      serviceRoot: readFileSync(join(dir, SERVICE_SECRET_FILE), "utf8").trim(),
      filesHolding: (word) => filesContaining(dir, word),
    });
  }, 90_000);
});

describe.skipIf(!cluster)("tenant deletion (cluster mode)", () => {
  it("refuses under a legal hold, then suspends at once, shreds, purges search (Elasticsearch), media and accounts", async () => {
    const c = cluster!;
    await scenario({
      gateway: c.instances.find((i) => i.service === "gateway")!.url,
      auth: c.instances.find((i) => i.service === "auth")!.url,
      chat: c.instances.find((i) => i.service === "chat")!.url,
      search: c.instances.find((i) => i.service === "search")!.url,
      adminCredential: c.adminToken,
      serviceRoot: createHash("sha256").update(`caas-test-services:${c.runPrefix}`).digest("hex"),
    });
  }, 180_000);
});
