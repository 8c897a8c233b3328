import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { AuditActorKind, AuditOutcome, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { AuditService, GetAuditPublicKeysResponseSchema } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";

const embedded = inject("embedded");
const cluster = inject("cluster");
const VERIFIER = join(import.meta.dirname, "../../services/compliance/bin/verify-audit-log.mjs");

const headers =
  (h: Record<string, string>): Interceptor =>
  (next) =>
  (req) => {
    for (const [k, v] of Object.entries(h)) req.header.set(k, v);
    return next(req);
  };
const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

async function codeOf(p: Promise<unknown>): Promise<Code | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e).code,
  );
}

/** Polls `read` until `done` holds (records arrive from the bus asynchronously); no fixed sleeps. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A fresh tenant through the gateway: its API key secret, and users (with tenant roles) holding tokens. */
async function tenant(gateway: string, adminCredential: string, users: Record<string, string[]>) {
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: gateway, interceptors: [headers(bearer(adminCredential))] }));
  const { tenant: t } = await admin.createTenant({ name: `audit-e2e-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: t!.id, name: "backend" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: gateway, interceptors: [headers({ ...bearer(secret), "x-correlation-id": `audit-e2e-${t!.id}` })] }));
  const tokens: Record<string, { accessToken: string; refreshToken: string }> = {};
  for (const [userId, roles] of Object.entries(users)) {
    await backend.upsertUser({ userId, displayName: userId, roles });
    const issued = (await backend.issueUserToken({ userId, deviceId: "d1" })).tokens!;
    tokens[userId] = { accessToken: issued.accessToken, refreshToken: issued.refreshToken };
  }
  return { tenantId: t!.id, secret, backend, tokens, token: (u: string) => tokens[u]!.accessToken };
}

async function auditEndToEnd(gateway: string, adminCredential: string): Promise<void> {
  const acme = await tenant(gateway, adminCredential, { boss: ["admin"], alice: [], bob: [] });
  const other = await tenant(gateway, adminCredential, { mallory: ["admin"], eve: [] });
  await other.backend.deactivateUser({ userId: "eve" });
  const audit = (credential: string) => createClient(AuditService, createGrpcTransport({ baseUrl: gateway, interceptors: [headers(bearer(credential))] }));

  // Security actions through the gateway: a moderator ban, a sign-out, a deactivation.
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [headers(bearer(acme.token("alice")))] }));
  const conversation = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "audited" })).conversation!;
  await chat.banMember({ conversationId: conversation.id, userId: "bob", reason: "spam" });
  const bobAuth = createClient(AuthService, createGrpcTransport({ baseUrl: gateway, interceptors: [headers(bearer(acme.token("bob")))] }));
  await bobAuth.signOut({});
  await acme.backend.deactivateUser({ userId: "bob" });

  const byKey = audit(acme.secret);
  const wanted = ["auth.tenant.create", "auth.api_key.create", "auth.user.create", "chat.member.ban", "auth.session.revoke", "auth.user.deactivate"];
  const { events } = await until(
    () => byKey.listAuditEvents({ pageSize: 500 }),
    (r) => wanted.every((a) => r.events.some((e) => e.action === a)),
    "the audit records of the actions",
  );
  const find = (action: string, targetId: string) => events.find((e: AuditEvent) => e.action === action && e.target?.id === targetId);
  expect(events.every((e) => e.tenantId === acme.tenantId)).toBe(true);
  expect(events.map((e) => e.position)).toEqual(events.map((_, i) => BigInt(i + 1)));
  expect(find("chat.member.ban", "bob")).toMatchObject({ actor: { kind: AuditActorKind.USER, id: "alice" }, target: { conversationId: conversation.id } });
  expect(events.find((e) => e.action === "auth.tenant.create")).toMatchObject({ actor: { kind: AuditActorKind.PLATFORM_ADMIN }, target: { type: "tenant", id: acme.tenantId } });
  expect(events.find((e) => e.action === "auth.api_key.create")).toMatchObject({ actor: { kind: AuditActorKind.PLATFORM_ADMIN } });
  expect(find("auth.user.create", "boss")).toMatchObject({
    actor: { kind: AuditActorKind.API_KEY },
    correlationId: `audit-e2e-${acme.tenantId}`,
    details: [expect.objectContaining({ key: "roles", value: "admin" })],
  });
  // The moderator's free-text reason is not recorded.
  expect(find("chat.member.ban", "bob")!.details.map((d) => d.value)).not.toContain("spam");
  const signOut = events.find((e) => e.action === "auth.session.revoke")!;
  expect(signOut.actor).toMatchObject({ kind: AuditActorKind.USER, id: "bob" });
  expect(signOut.details.map((d) => [d.key, d.value])).toEqual([
    ["reason", "SIGN_OUT"],
    ["user_id", "bob"],
  ]);
  expect(find("auth.user.deactivate", "bob")).toMatchObject({ correlationId: `audit-e2e-${acme.tenantId}` });

  // Filters and pages through the gateway.
  const bans = await byKey.listAuditEvents({ action: "chat.member.ban" });
  expect(bans.events.map((e) => e.target?.id)).toEqual(["bob"]);
  const first = await byKey.listAuditEvents({ pageSize: 2 });
  const second = await byKey.listAuditEvents({ pageSize: 2, pageToken: first.nextPageToken });
  expect([...first.events, ...second.events].map((e) => e.position)).toEqual(events.slice(0, first.events.length + second.events.length).map((e) => e.position));
  expect(first.events).toHaveLength(2);
  expect(await codeOf(byKey.listAuditEvents({ pageSize: 2, pageToken: first.nextPageToken, action: "chat.member.ban" }))).toBe(Code.InvalidArgument);

  // A tenant admin's token sees its tenant only; plain users are refused, anonymous callers unauthenticated.
  const bossView = await audit(acme.token("boss")).listAuditEvents({ pageSize: 500 });
  expect(bossView.events.length).toBeGreaterThanOrEqual(events.length);
  expect(bossView.events.every((e) => e.tenantId === acme.tenantId)).toBe(true);
  const malloryView = await until(
    () => audit(other.token("mallory")).listAuditEvents({ pageSize: 500 }),
    (r) => r.events.length > 0,
    "the other tenant's records",
  );
  expect(malloryView.events.every((e) => e.tenantId === other.tenantId)).toBe(true);
  expect(malloryView.events.some((e) => e.target?.id === "bob" || e.actor?.id === "alice")).toBe(false);
  expect(await codeOf(audit(acme.token("alice")).listAuditEvents({}))).toBe(Code.PermissionDenied);
  expect(await codeOf(audit(acme.token("alice")).verifyAuditLog({}))).toBe(Code.PermissionDenied);
  const anonymous = createClient(AuditService, createGrpcTransport({ baseUrl: gateway }));
  expect(await codeOf(anonymous.listAuditEvents({}))).toBe(Code.Unauthenticated);
  // A tenant may not name another tenant; the platform admin names any and must name one.
  expect(await codeOf(audit(acme.token("boss")).listAuditEvents({ tenantId: other.tenantId }))).toBe(Code.PermissionDenied);
  expect(await codeOf(byKey.verifyAuditLog({ tenantId: other.tenantId }))).toBe(Code.PermissionDenied);
  const platformAdmin = audit(adminCredential);
  expect(await codeOf(platformAdmin.listAuditEvents({}))).toBe(Code.InvalidArgument);
  const adminView = await platformAdmin.listAuditEvents({ tenantId: acme.tenantId, action: "chat.member.ban" });
  expect(adminView.events.map((e) => [e.tenantId, e.target?.id])).toEqual([[acme.tenantId, "bob"]]);
  expect(await platformAdmin.verifyAuditLog({ tenantId: other.tenantId })).toMatchObject({ ok: true });
  expect(await codeOf(audit("not-the-admin-credential-0123456789").listAuditEvents({ tenantId: acme.tenantId }))).toBe(Code.Unauthenticated);

  // Password sign-ins, failed and successful, and the settings change that allowed them.
  const tenantAdmin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: gateway, interceptors: [headers(bearer(adminCredential))] }));
  const pw = (await tenantAdmin.createTenant({ name: `audit-e2e-pw-${Date.now()}` })).tenant!.id;
  await tenantAdmin.updateTenant({ tenant: { id: pw, settings: { passwordAuthEnabled: true } }, updateMask: { paths: ["settings.password_auth_enabled"] } });
  const anon = createClient(AuthService, createGrpcTransport({ baseUrl: gateway }));
  const login = { case: "email" as const, value: "erin@example.com" };
  const erin = (await anon.signUp({ tenantId: pw, login, password: "the-password", displayName: "Erin", deviceId: "d" })).tokens!.userId;
  expect(await codeOf(anon.signIn({ tenantId: pw, login, password: "a-guess", deviceId: "d" }))).toBe(Code.Unauthenticated);
  await anon.signIn({ tenantId: pw, login, password: "the-password", deviceId: "d" });
  const signIns = await until(
    () => platformAdmin.listAuditEvents({ tenantId: pw, action: "auth.sign_in" }),
    (r) => r.events.length === 2,
    "the sign-in records",
  );
  expect(signIns.events.map((e) => [e.target?.id, e.outcome, e.details.map((d) => `${d.key}=${d.key === "session_id" ? "…" : d.value}`)])).toEqual([
    [erin, AuditOutcome.FAILURE, ["failure=wrong_password"]],
    [erin, AuditOutcome.SUCCESS, ["session_id=…"]],
  ]);
  expect(JSON.stringify(signIns.events, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toMatch(/erin@example\.com|a-guess|the-password/);
  const update = await until(
    () => platformAdmin.listAuditEvents({ tenantId: pw, action: "auth.tenant.update" }),
    (r) => r.events.length === 1,
    "the settings change",
  );
  expect(update.events[0]!.actor).toMatchObject({ kind: AuditActorKind.PLATFORM_ADMIN });

  // The chain verifies online, and its export offline with the published keys.
  expect(await byKey.verifyAuditLog({})).toMatchObject({ ok: true });
  // A position no log can reach is refused as such, not an internal failure of the store (found by the fuzzer).
  expect(await codeOf(byKey.verifyAuditLog({ endPosition: 2n ** 64n - 1n }))).toBe(Code.InvalidArgument);
  expect(await codeOf(byKey.verifyAuditLog({ startPosition: 2n ** 63n }))).toBe(Code.InvalidArgument);
  const drain = async () => {
    for await (const _ of byKey.exportAuditLog({ startPosition: 2n ** 63n + 5n })) void _;
  };
  expect(await codeOf(drain())).toBe(Code.InvalidArgument);
  let exported = "";
  for await (const chunk of byKey.exportAuditLog({})) exported += new TextDecoder().decode(chunk.chunk);
  const keys = await byKey.getAuditPublicKeys({});
  const dir = mkdtempSync(join(tmpdir(), "caas-audit-e2e-"));
  writeFileSync(join(dir, "export.jsonl"), exported);
  writeFileSync(join(dir, "keys.json"), JSON.stringify(toJson(GetAuditPublicKeysResponseSchema, keys)));
  const run = spawnSync(process.execPath, [VERIFIER, join(dir, "export.jsonl"), join(dir, "keys.json")], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, tenantId: acme.tenantId });
}

describe("the audit log through the gateway (embedded platform)", () => {
  it("records security actions from the bus; tenant admins see their tenant, users are refused; the export verifies offline", async () => {
    const adminCredential = readFileSync(join(embedded.dataDir, "admin-credential"), "utf8").trim();
    await auditEndToEnd(embedded.endpoints.gateway!, adminCredential);
  });
});

describe.skipIf(!cluster)("the audit log through the gateway (cluster: Kafka, MongoDB protocol)", () => {
  it("records security actions from Kafka; tenant admins see their tenant, users are refused; the export verifies offline", async () => {
    await auditEndToEnd(cluster!.endpoints.gateway!, cluster!.adminToken);
  });
});
