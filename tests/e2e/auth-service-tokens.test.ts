import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE, serviceSecretFor } from "@caas/shared/identity/service-tokens";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const chat = platform.endpoints.chat!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
/** The embedded platform generated its service-secret root at first start. */
const root = readFileSync(join(platform.dataDir, SERVICE_SECRET_FILE), "utf8").trim();

function transport(baseUrl: string, credential?: string) {
  const bearer: Interceptor = (next) => (req) => {
    if (credential !== undefined) req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
  return createGrpcTransport({ baseUrl, interceptors: [bearer] });
}
const internal = (credential?: string) => createClient(AuthInternalService, transport(auth, credential));

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

describe("service tokens and internal RPCs (embedded platform, real clients)", () => {
  let userToken: string;
  let apiKey: string;
  let tenantId: string;

  beforeAll(async () => {
    const admin = createClient(TenantAdminService, transport(auth, adminCredential));
    const { tenant } = await admin.createTenant({ name: "svc" });
    tenantId = tenant!.id;
    apiKey = (await admin.createApiKey({ tenantId, name: "k" })).secret;
    const backend = createClient(UserAdminService, transport(auth, apiKey));
    await backend.upsertUser({ userId: "alice", displayName: "Alice" });
    userToken = (await backend.issueUserToken({ userId: "alice", deviceId: "d" })).tokens!.accessToken;
  });

  it("issues a short-lived service token to a service presenting its own bootstrap secret", async () => {
    const res = await internal(serviceSecretFor(root, "chat")).issueServiceToken({ serviceName: "chat", audience: "auth" });
    expect(decodeProtectedHeader(res.token)).toMatchObject({ alg: "EdDSA", typ: "svc+jwt" });
    const claims = decodeJwt(res.token);
    expect(claims).toMatchObject({ iss: "caas-auth", sub: "svc:chat", aud: "auth" });
    expect(claims.tenant).toBeUndefined();
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    expect(Number(res.expireTime!.seconds)).toBe(claims.exp);
  });

  it("refuses a wrong secret, another service's secret and an unknown audience", async () => {
    expect((await failure(internal().issueServiceToken({ serviceName: "chat", audience: "auth" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(internal(serviceSecretFor("not-the-root-at-all-not-the-root", "chat")).issueServiceToken({ serviceName: "chat", audience: "auth" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(internal(serviceSecretFor(root, "chat")).issueServiceToken({ serviceName: "search", audience: "auth" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internal(serviceSecretFor(root, "chat")).issueServiceToken({ serviceName: "chat", audience: "nowhere" }))).code).toBe(Code.InvalidArgument);
    // The bootstrap secret opens nothing else.
    expect((await failure(internal(serviceSecretFor(root, "chat")).verifyApiKey({ secret: "x" }))).code).toBe(Code.Unauthenticated);
  });

  it("lets only a service token for this service into internal RPCs: user tokens and API keys are PERMISSION_DENIED", async () => {
    const forAuth = (await internal(serviceSecretFor(root, "chat")).issueServiceToken({ serviceName: "chat", audience: "auth" })).token;
    const forChat = (await internal(serviceSecretFor(root, "search")).issueServiceToken({ serviceName: "search", audience: "chat" })).token;
    // Past the guard: the RPC itself answers.
    const passed = await internal(forAuth).listRevocations({ limit: 1 });
    expect(passed.revocations.length).toBeLessThanOrEqual(1);
    expect(passed.nextCursor === "").toBe(passed.revocations.length === 0);
    expect((await internal(forAuth).verifyApiKey({ secret: apiKey })).apiKey).toMatchObject({ tenantId, name: "k" });
    expect((await failure(internal(forAuth).verifyApiKey({ secret: `${apiKey.slice(0, -2)}AA` }))).code).toBe(Code.Unauthenticated);
    const users = await internal(forAuth).batchGetUsers({ tenantId, userIds: ["alice", "nobody"] });
    expect(users.users.map((u) => u.id)).toEqual(["alice"]);
    const elsewhere = await internal(forAuth).batchGetUsers({ tenantId: "01900000-0000-7000-8000-000000000000", userIds: ["alice"] });
    expect(elsewhere.users).toEqual([]);
    expect((await failure(internal().verifyApiKey({ secret: "x" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(internal(userToken).verifyApiKey({ secret: "x" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internal(apiKey).verifyApiKey({ secret: "x" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internal(adminCredential).listRevocations({}))).code).toBe(Code.PermissionDenied);
    // The platform-admin credential is checked for a service, never accepted from a caller.
    expect(await internal(forAuth).verifyAdminCredential({ secret: adminCredential })).toBeDefined();
    expect((await failure(internal(forAuth).verifyAdminCredential({ secret: `${adminCredential}x` }))).code).toBe(Code.Unauthenticated);
    expect((await failure(internal(forAuth).verifyAdminCredential({ secret: apiKey }))).code).toBe(Code.Unauthenticated);
    expect((await failure(internal(adminCredential).verifyAdminCredential({ secret: adminCredential }))).code).toBe(Code.PermissionDenied);
    expect((await failure(internal(userToken).verifyAdminCredential({ secret: adminCredential }))).code).toBe(Code.PermissionDenied);
    // A token for another audience is not a credential here.
    expect((await failure(internal(forChat).verifyApiKey({ secret: "x" }))).code).toBe(Code.Unauthenticated);
    expect((await createClient(Health, transport(chat, forChat)).check({ service: "" })).status).toBeDefined();
    expect((await failure(createClient(Health, transport(chat, forAuth)).check({ service: "" }))).code).toBe(Code.Unauthenticated);
    // And a service token is no user: user RPCs refuse it.
    expect((await failure(createClient(AuthService, transport(auth, forAuth)).listSessions({}))).code).toBe(Code.PermissionDenied);
  });

  it("fetches and caches service tokens with the shared client helper", async () => {
    const peers = new PeerDirectory();
    peers.set("auth", [auth]);
    const source = createPeerServiceTokenSource({ service: "chat", root, peers, clock: systemClock });
    const [a, b] = await Promise.all([source.token("auth"), source.token("auth")]);
    expect(a).toBe(b);
    expect(await source.token("auth")).toBe(a);
    expect(decodeJwt(await source.token("search")).aud).toBe("search");
    expect((await internal(a).batchGetUsers({ tenantId, userIds: ["alice"] })).users).toHaveLength(1);
  });
});
