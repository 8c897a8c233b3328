import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, inject, it } from "vitest";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { TenantStatus, type Tenant } from "@caas/gen/caas/auth/v1/tenant_pb.js";
import { UpsertUserRequestSchema, UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { UserStatus } from "@caas/gen/caas/auth/v1/user_pb.js";
import { BadRequestSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@caas/gen/grpc/health/v1/health_pb.js";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, JWKS_PATH } from "@caas/shared/identity/jwt-verifier";
import { readLogLines } from "../support/spawn-platform.js";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const chat = platform.endpoints.chat!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

/** A gRPC transport (HTTP/2) that presents `credential` as a bearer, or nothing. */
function transport(credential?: string, baseUrl = auth) {
  const bearer: Interceptor = (next) => (req) => {
    if (credential !== undefined) req.header.set("authorization", credential.includes(" ") ? credential : `Bearer ${credential}`);
    return next(req);
  };
  return createGrpcTransport({ baseUrl, interceptors: [bearer] });
}
const admin = createClient(TenantAdminService, transport(adminCredential));
const users = (key?: string) => createClient(UserAdminService, transport(key));

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

/** A fresh tenant with one API key. */
async function tenantWithKey(name = "Acme") {
  const { tenant } = await admin.createTenant({ name });
  const created = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
  return { tenant: tenant!, apiKey: created.apiKey!, secret: created.secret };
}

describe("identity: tenants, API keys, users and tokens end to end (embedded platform, real clients)", () => {
  it("walks the first steps: tenant, API key, two users, their tokens, verified with the published JWKS", async () => {
    const { tenant, apiKey, secret } = await tenantWithKey();
    expect(tenant.status).toBe(TenantStatus.ACTIVE);
    expect(apiKey.tenantId).toBe(tenant.id);
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    const backend = users(secret);
    const alice = await backend.upsertUser({ userId: "alice", displayName: "Alice", roles: ["member"], custom: { plan: "pro" } });
    expect(alice.created).toBe(true);
    expect(alice.user).toMatchObject({ id: "alice", tenantId: tenant.id, status: UserStatus.ACTIVE, roles: ["member"], custom: { plan: "pro" } });
    const bob = await backend.upsertUser({ userId: "bob@example.com", displayName: "Bob" });
    expect(bob.created).toBe(true);
    expect((await backend.upsertUser({ userId: "alice", displayName: "Alice A.", roles: ["member", "mod"] })).created).toBe(false);

    const jwks = createRemoteJWKSet(new URL(`${auth}${JWKS_PATH}`));
    for (const [userId, device] of [
      ["alice", "phone-1"],
      ["bob@example.com", "laptop"],
    ] as const) {
      const { tokens } = await backend.issueUserToken({ userId, deviceId: device, scopes: ["chat.read"] });
      expect(tokens!.refreshToken).toMatch(/^caas_r_[A-Za-z0-9_-]{64}$/);
      const header = decodeProtectedHeader(tokens!.accessToken);
      expect(header).toMatchObject({ alg: "EdDSA", typ: "at+jwt" });
      expect(header.kid).toBeTruthy();
      const { payload } = await jwtVerify(tokens!.accessToken, jwks, { issuer: ACCESS_TOKEN_ISSUER, audience: ACCESS_TOKEN_AUDIENCE, algorithms: ["EdDSA"] });
      expect(payload).toMatchObject({ sub: userId, tenant: tenant.id, sid: tokens!.sessionId, device, scopes: ["chat.read"] });
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
      expect(payload.nbf).toBe(payload.iat);
      expect(Number(tokens!.accessTokenExpireTime!.seconds)).toBe(payload.exp);
      // Another service verifies it locally through the shared verifier: the caller is that user.
      const health = await createClient(Health, transport(tokens!.accessToken, chat)).check({ service: "" });
      expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    const aliceToken = (await backend.issueUserToken({ userId: "alice", deviceId: "d" })).tokens!.accessToken;
    expect((await jwtVerify(aliceToken, jwks)).payload.roles).toEqual(["member", "mod"]);

    // GetJwks over RPC is the same document as GET /.well-known/jwks.json.
    const http = await fetch(`${auth}${JWKS_PATH}`);
    expect(http.headers.get("content-type")).toBe("application/jwk-set+json");
    const doc = (await http.json()) as { keys: Record<string, string>[] };
    const rpc = await createClient(AuthService, createConnectTransport({ baseUrl: auth, httpVersion: "1.1" })).getJwks({});
    expect(rpc.jwks!.keys.map((k) => ({ kty: k.kty, kid: k.kid, use: k.use, alg: k.alg, crv: k.crv, x: k.x }))).toEqual(
      doc.keys.map((k) => ({ kty: k.kty, kid: k.kid, use: k.use, alg: k.alg, crv: k.crv, x: k.x })),
    );
    expect(doc.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it("keeps the admin credential in a 0600 file and no secret in any log line", async () => {
    expect(statSync(join(platform.dataDir, "admin-credential")).mode & 0o777).toBe(0o600);
    const { secret } = await tenantWithKey();
    const token = (
      await (async () => {
        await users(secret).upsertUser({ userId: "u1", displayName: "U" });
        return users(secret).issueUserToken({ userId: "u1", deviceId: "d" });
      })()
    ).tokens!.accessToken;
    await new Promise((r) => setTimeout(r, 200));
    const lines = platform.logFiles.flatMap(readLogLines);
    expect(lines.some((l) => l.msg?.toString().startsWith("platform-admin credential created") && l.path === join(platform.dataDir, "admin-credential"))).toBe(true);
    const text = platform.logFiles.map((f) => readFileSync(f, "utf8")).join("\n");
    for (const s of [adminCredential, secret, token]) expect(text).not.toContain(s);
  });

  it("lets only the platform admin use TenantAdminService and only API keys use UserAdminService", async () => {
    const { secret } = await tenantWithKey();
    expect((await failure(createClient(TenantAdminService, transport()).listTenants({}))).code).toBe(Code.Unauthenticated);
    expect((await failure(createClient(TenantAdminService, transport(`${adminCredential}x`)).listTenants({}))).code).toBe(Code.Unauthenticated);
    expect((await failure(createClient(TenantAdminService, transport(secret)).listTenants({}))).code).toBe(Code.PermissionDenied);
    expect((await failure(users().getUser({ userId: "x" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(users(adminCredential).getUser({ userId: "x" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(users(`Basic ${Buffer.from("a:b").toString("base64")}`).getUser({ userId: "x" }))).code).toBe(Code.Unauthenticated);
    const forged = `caas_k_${Buffer.alloc(48, 7).toString("base64url")}`;
    expect((await failure(users(forged).getUser({ userId: "x" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(users(`${secret.slice(0, -2)}AA`).getUser({ userId: "x" }))).code).toBe(Code.Unauthenticated);
    // A valid user token is a credential, but not for admin RPCs.
    await users(secret).upsertUser({ userId: "u", displayName: "U" });
    const token = (await users(secret).issueUserToken({ userId: "u", deviceId: "d" })).tokens!.accessToken;
    expect((await failure(users(token).getUser({ userId: "u" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(createClient(TenantAdminService, transport(token)).listTenants({}))).code).toBe(Code.PermissionDenied);
    // Other services do not take API keys or the admin credential.
    for (const c of [secret, adminCredential]) {
      expect((await failure(createClient(Health, transport(c, chat)).check({ service: "" }))).code).toBe(Code.Unauthenticated);
    }
  });

  it("gets, lists (AIP-158 pages bound to the query), updates by field mask, suspends and resumes tenants", async () => {
    const made: Tenant[] = [];
    for (let i = 0; i < 3; i++) made.push((await admin.createTenant({ name: `page-${i}`, settings: { maxConversationMembers: 10 + i } })).tenant!);
    expect((await admin.getTenant({ tenantId: made[1]!.id })).tenant).toEqual(made[1]);
    // Walk the whole list one page at a time: ours appear in creation order.
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await admin.listTenants({ pageSize: 2, pageToken });
      expect(page.tenants.length).toBeLessThanOrEqual(2);
      seen.push(...page.tenants.map((t) => t.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen.filter((id) => made.some((t) => t.id === id))).toEqual(made.map((t) => t.id));
    const first = await admin.listTenants({ pageSize: 1 });
    const reused = await failure(admin.listTenants({ pageSize: 1, pageToken: first.nextPageToken, status: TenantStatus.SUSPENDED }));
    expect(reused.code).toBe(Code.InvalidArgument);
    expect(reused.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("page_token");

    const t = made[0]!;
    const renamed = await admin.updateTenant({ tenant: { id: t.id, name: "Renamed", status: TenantStatus.SUSPENDED }, updateMask: { paths: ["name"] } });
    expect(renamed.tenant).toMatchObject({ name: "Renamed", status: TenantStatus.ACTIVE, settings: { maxConversationMembers: 10 } });
    const flagged = await admin.updateTenant({ tenant: { id: t.id, settings: { passwordAuthEnabled: true, maxConversationMembers: 99 } }, updateMask: { paths: ["settings.password_auth_enabled"] } });
    expect(flagged.tenant!.settings).toMatchObject({ passwordAuthEnabled: true, maxConversationMembers: 10 });
    expect(flagged.tenant!.name).toBe("Renamed");
    for (const paths of [["status"], ["id"], ["settings.nope"], [], ["settings", "settings.mfa_required"]]) {
      const err = await failure(admin.updateTenant({ tenant: { id: t.id, name: "x" }, updateMask: { paths } }));
      expect(err.code, paths.join(",")).toBe(Code.InvalidArgument);
    }
    expect((await failure(admin.updateTenant({ tenant: { id: t.id, name: "" }, updateMask: { paths: ["name"] } }))).code).toBe(Code.InvalidArgument);

    const suspended = await admin.suspendTenant({ tenantId: t.id, reason: "test" });
    expect(suspended.tenant!.status).toBe(TenantStatus.SUSPENDED);
    expect((await admin.suspendTenant({ tenantId: t.id })).tenant).toEqual(suspended.tenant);
    expect((await admin.listTenants({ status: TenantStatus.SUSPENDED, pageSize: 200 })).tenants.map((x) => x.id)).toContain(t.id);
    expect((await admin.resumeTenant({ tenantId: t.id })).tenant!.status).toBe(TenantStatus.ACTIVE);
    const unknown = "01900000-0000-7000-8000-000000000000";
    const calls = [
      () => admin.getTenant({ tenantId: unknown }),
      () => admin.suspendTenant({ tenantId: unknown }),
      () => admin.createApiKey({ tenantId: unknown, name: "k" }),
      () => admin.listApiKeys({ tenantId: unknown }),
    ];
    for (const call of calls) expect((await failure(call())).code).toBe(Code.NotFound);
  });

  it("refuses a revoked API key at once, rotates keys with a grace period, and lists keys newest first", async () => {
    const { tenant, apiKey, secret } = await tenantWithKey();
    await users(secret).upsertUser({ userId: "u", displayName: "U" });
    const revoked = await admin.revokeApiKey({ apiKeyId: apiKey.id });
    expect(revoked.apiKey!.revokeTime).toBeDefined();
    expect((await failure(users(secret).getUser({ userId: "u" }))).code).toBe(Code.Unauthenticated);
    expect((await admin.revokeApiKey({ apiKeyId: apiKey.id })).apiKey!.revokeTime).toEqual(revoked.apiKey!.revokeTime);
    expect((await failure(admin.rotateApiKey({ apiKeyId: apiKey.id }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(admin.revokeApiKey({ apiKeyId: "01900000-0000-7000-8000-000000000001" }))).code).toBe(Code.NotFound);

    const second = await admin.createApiKey({ tenantId: tenant.id, name: "second" });
    const graceful = await admin.rotateApiKey({ apiKeyId: second.apiKey!.id, gracePeriod: { seconds: 3600n } });
    expect(graceful.apiKey).toMatchObject({ tenantId: tenant.id, name: "second" });
    expect(graceful.previousApiKey!.revokeTime).toBeDefined();
    expect((await users(second.secret).getUser({ userId: "u" })).user!.id).toBe("u");
    expect((await users(graceful.secret).getUser({ userId: "u" })).user!.id).toBe("u");
    const immediate = await admin.rotateApiKey({ apiKeyId: graceful.apiKey!.id });
    expect((await failure(users(graceful.secret).getUser({ userId: "u" }))).code).toBe(Code.Unauthenticated);
    expect((await users(immediate.secret).getUser({ userId: "u" })).user!.id).toBe("u");

    const live = await admin.listApiKeys({ tenantId: tenant.id });
    expect(live.apiKeys.map((k) => k.id)).toEqual([immediate.apiKey!.id, second.apiKey!.id]);
    const all = await admin.listApiKeys({ tenantId: tenant.id, includeRevoked: true, pageSize: 2 });
    expect(all.apiKeys.map((k) => k.id)).toEqual([immediate.apiKey!.id, graceful.apiKey!.id]);
    const rest = await admin.listApiKeys({ tenantId: tenant.id, includeRevoked: true, pageToken: all.nextPageToken });
    expect(rest.apiKeys.map((k) => k.id)).toEqual([second.apiKey!.id, apiKey.id]);
    expect(rest.nextPageToken).toBe("");
  });

  it("refuses a suspended tenant's key at once with PERMISSION_DENIED, and accepts it again after resume", async () => {
    const { tenant, secret } = await tenantWithKey();
    await users(secret).upsertUser({ userId: "u", displayName: "U" });
    await admin.suspendTenant({ tenantId: tenant.id, reason: "unpaid" });
    const err = await failure(users(secret).issueUserToken({ userId: "u", deviceId: "d" }));
    expect(err.code).toBe(Code.PermissionDenied);
    await admin.resumeTenant({ tenantId: tenant.id });
    expect((await users(secret).issueUserToken({ userId: "u", deviceId: "d" })).tokens!.accessToken).toBeTruthy();
  });

  it("answers another tenant's user ids exactly like unknown ones (BOLA)", async () => {
    const a = await tenantWithKey("A");
    const b = await tenantWithKey("B");
    await users(a.secret).upsertUser({ userId: "shared", displayName: "A's" });
    await users(b.secret).upsertUser({ userId: "shared", displayName: "B's" });
    await users(b.secret).upsertUser({ userId: "only-b", displayName: "B only" });
    const asA = users(a.secret);
    const calls = (id: string) => [
      asA.getUser({ userId: id }),
      asA.deactivateUser({ userId: id }),
      asA.reactivateUser({ userId: id }),
      asA.deleteUser({ userId: id }),
      asA.issueUserToken({ userId: id, deviceId: "d" }),
    ];
    const theirs = await Promise.all(calls("only-b").map(failure));
    const nobody = await Promise.all(calls("nobody-at-all").map(failure));
    for (let i = 0; i < theirs.length; i++) {
      expect(theirs[i]!.code).toBe(Code.NotFound);
      expect(theirs[i]!.rawMessage).toBe(nobody[i]!.rawMessage);
    }
    expect((await asA.getUser({ userId: "shared" })).user!.displayName).toBe("A's");
    expect((await asA.listUsers({})).users.map((u) => u.id)).toEqual(["shared"]);
    expect((await users(b.secret).getUser({ userId: "only-b" })).user).toMatchObject({ status: UserStatus.ACTIVE, displayName: "B only" });
    expect((await users(b.secret).getUser({ userId: "shared" })).user!.displayName).toBe("B's");
  });

  it("ignores or rejects mass assignment of tenant_id, roles and status", async () => {
    const a = await tenantWithKey("A");
    const b = await tenantWithKey("B");
    const post = (path: string, credential: string, body: unknown) =>
      fetch(`${auth}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${credential}` },
        body: JSON.stringify(body),
      });
    // Connect JSON: fields the request message does not have are dropped; the key decides the tenant.
    const withTenant = await post("caas.auth.v1.UserAdminService/UpsertUser", a.secret, { userId: "j", displayName: "J", tenantId: b.tenant.id, status: "USER_STATUS_DEACTIVATED" });
    expect(withTenant.status).toBe(200);
    expect(((await withTenant.json()) as { user: { tenantId: string; status: string } }).user).toMatchObject({ tenantId: a.tenant.id, status: "USER_STATUS_ACTIVE" });
    expect((await failure(users(b.secret).getUser({ userId: "j" }))).code).toBe(Code.NotFound);
    const withRoles = await post("caas.auth.v1.UserAdminService/IssueUserToken", a.secret, { userId: "j", deviceId: "d", roles: ["admin"], tenant: b.tenant.id });
    expect(withRoles.status).toBe(200);
    const issued = (await withRoles.json()) as { tokens: { accessToken: string } };
    const claims = JSON.parse(Buffer.from(issued.tokens.accessToken.split(".")[1]!, "base64url").toString("utf8")) as { roles: string[]; tenant: string };
    expect(claims).toMatchObject({ roles: [], tenant: a.tenant.id });
    const withStatus = await post("caas.auth.v1.TenantAdminService/CreateTenant", adminCredential, { name: "x", id: b.tenant.id, status: "TENANT_STATUS_SUSPENDED" });
    expect(withStatus.status).toBe(200);
    const made = ((await withStatus.json()) as { tenant: { id: string; status: string } }).tenant;
    expect(made.id).not.toBe(b.tenant.id);
    expect(made.status).toBe("TENANT_STATUS_ACTIVE");
    expect((await admin.getTenant({ tenantId: b.tenant.id })).tenant!.name).toBe("B");
    // Binary: an unknown field (here field 2 of User, tenant_id, smuggled into UpsertUserRequest as field 99) is ignored.
    const body = toBinary(UpsertUserRequestSchema, create(UpsertUserRequestSchema, { userId: "m", displayName: "M" }));
    const smuggled = Buffer.concat([Buffer.from(body), Buffer.from([0x9a, 0x06, b.tenant.id.length]), Buffer.from(b.tenant.id)]);
    const res = await fetch(`${auth}/caas.auth.v1.UserAdminService/UpsertUser`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${a.secret}` },
      body: smuggled,
    });
    expect(res.status).toBe(200);
    expect((await users(a.secret).getUser({ userId: "m" })).user!.tenantId).toBe(a.tenant.id);
    expect((await failure(users(b.secret).getUser({ userId: "m" }))).code).toBe(Code.NotFound);
    // Roles in a token come from the store, and a deactivated status survives an upsert.
    await users(a.secret).upsertUser({ userId: "m", displayName: "M", roles: ["member"] });
    await users(a.secret).deactivateUser({ userId: "m" });
    const again = await users(a.secret).upsertUser({ userId: "m", displayName: "M2", roles: ["member"] });
    expect(again.user!.status).toBe(UserStatus.DEACTIVATED);
    expect((await failure(users(a.secret).issueUserToken({ userId: "m", deviceId: "d" }))).code).toBe(Code.FailedPrecondition);
  });

  it("answers bad input with INVALID_ARGUMENT naming the fields", async () => {
    const { secret } = await tenantWithKey();
    const err = await failure(users(secret).upsertUser({ userId: "bad id!", displayName: "", avatarUrl: "not a url", roles: ["Admin"] }));
    expect(err.code).toBe(Code.InvalidArgument);
    const fields = err.findDetails(ViolationsSchema).flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".")));
    expect(fields).toEqual(expect.arrayContaining(["user_id", "display_name", "avatar_url", "roles"]));
    const big = await failure(users(secret).upsertUser({ userId: "big", displayName: "B", custom: { blob: "x".repeat(9000) } }));
    expect(big.code).toBe(Code.InvalidArgument);
    expect(big.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["custom"]);
    const token = await failure(users(secret).listUsers({ pageToken: "forged.token" }));
    expect(token.code).toBe(Code.InvalidArgument);
    expect(token.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["page_token"]);
    const keyName = await failure(admin.createApiKey({ tenantId: "not-a-uuid", name: "" }));
    const keyFields = keyName.findDetails(ViolationsSchema).flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".")));
    expect(keyFields).toEqual(expect.arrayContaining(["tenant_id", "name"]));
  });

  it("lists users in id order with page tokens bound to the tenant", async () => {
    const a = await tenantWithKey("A");
    const b = await tenantWithKey("B");
    for (const id of ["c", "a", "d", "b"]) await users(a.secret).upsertUser({ userId: id, displayName: id });
    await users(a.secret).deactivateUser({ userId: "c" });
    const p1 = await users(a.secret).listUsers({ pageSize: 3 });
    expect(p1.users.map((u) => u.id)).toEqual(["a", "b", "c"]);
    const p2 = await users(a.secret).listUsers({ pageSize: 3, pageToken: p1.nextPageToken });
    expect(p2.users.map((u) => u.id)).toEqual(["d"]);
    expect(p2.nextPageToken).toBe("");
    expect((await users(a.secret).listUsers({ status: UserStatus.DEACTIVATED })).users.map((u) => u.id)).toEqual(["c"]);
    expect((await failure(users(b.secret).listUsers({ pageSize: 3, pageToken: p1.nextPageToken }))).code).toBe(Code.InvalidArgument);
    await users(a.secret).deleteUser({ userId: "d" });
    expect((await failure(users(a.secret).deleteUser({ userId: "d" }))).code).toBe(Code.NotFound);
  });

  it("caps active API keys per tenant with RESOURCE_EXHAUSTED", async () => {
    const { tenant } = await tenantWithKey();
    for (let i = 1; i < 50; i++) await admin.createApiKey({ tenantId: tenant.id, name: `k${i}` });
    const err = await failure(admin.createApiKey({ tenantId: tenant.id, name: "k50" }));
    expect(err.code).toBe(Code.ResourceExhausted);
  });

  it("refuses a forged MFA challenge and internal RPCs without a service token", async () => {
    // Internal RPCs with a service token: tests/e2e/auth-service-tokens.test.ts and auth-list-revocations.test.ts.
    const verifyMfa = await failure(createClient(AuthService, transport()).verifyMfa({ mfaChallenge: "x", code: { case: "totpCode", value: "123456" } }));
    expect(verifyMfa.code).toBe(Code.Unauthenticated);
    const verify = await failure(createClient(AuthInternalService, transport()).verifyApiKey({ secret: "x" }));
    expect(verify.code).toBe(Code.Unauthenticated);
  });
});
