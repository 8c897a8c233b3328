import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE } from "@caas/shared/identity/service-tokens";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
const root = readFileSync(join(platform.dataDir, SERVICE_SECRET_FILE), "utf8").trim();
const bearer =
  (credential: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
const client = <T extends Parameters<typeof createClient>[0]>(service: T, credential: string) => createClient(service, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(credential)] }));
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );

async function tenantWithUser(name: string) {
  const { tenant } = await client(TenantAdminService, adminCredential).createTenant({ name });
  const { secret } = await client(TenantAdminService, adminCredential).createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = client(UserAdminService, secret);
  await backend.upsertUser({ userId: "alice", displayName: "Alice Marker" });
  const phone = (await backend.issueUserToken({ userId: "alice", deviceId: "phone", deviceName: "Alice's phone" })).tokens!;
  const laptop = (await backend.issueUserToken({ userId: "alice", deviceId: "laptop" })).tokens!;
  return { tenantId: tenant!.id, backend, phone, laptop };
}

async function complianceClient() {
  const peers = new PeerDirectory();
  peers.set("auth", [auth]);
  return client(AuthInternalService, await createPeerServiceTokenSource({ service: "compliance", root, peers, clock: systemClock }).token("auth"));
}

describe("AuthInternalService ExportUserData and EraseUserData (embedded platform)", () => {
  it("exports the profile and sessions, then erases: sessions revoked (tokens refused at once), profile gone; a second erasure finds nothing", async () => {
    const { tenantId, backend, phone, laptop } = await tenantWithUser("user-data");
    const internal = await complianceClient();

    const exported = (await internal.exportUserData({ tenantId, userId: "alice" })).jsonLines.map((l) => JSON.parse(l) as { kind: string; user?: { displayName?: string }; deviceName?: string });
    expect(exported.filter((l) => l.kind === "profile").map((l) => l.user?.displayName)).toEqual(["Alice Marker"]);
    expect(
      exported
        .filter((l) => l.kind === "session")
        .map((l) => l.deviceName)
        .sort(),
    ).toEqual(["", "Alice's phone"]);

    expect(await internal.eraseUserData({ tenantId, userId: "alice" })).toMatchObject({ found: true, sessionsRevoked: 2, loginsRemoved: 0 });
    for (const t of [phone, laptop]) expect((await failure(client(AuthService, t.accessToken).listSessions({}))).code).toBe(Code.Unauthenticated);
    expect((await failure(client(AuthService, "").refreshToken({ refreshToken: phone.refreshToken }))).code).toBe(Code.Unauthenticated);
    expect((await failure(backend.getUser({ userId: "alice" }))).code).toBe(Code.NotFound);

    expect(await internal.eraseUserData({ tenantId, userId: "alice" })).toMatchObject({ found: false, sessionsRevoked: 0 });
    expect((await failure(internal.exportUserData({ tenantId, userId: "alice" }))).code).toBe(Code.NotFound);
  });

  it("never reaches another tenant's user of the same id", async () => {
    const a = await tenantWithUser("user-data-a");
    const b = await tenantWithUser("user-data-b");
    const internal = await complianceClient();
    expect(await internal.eraseUserData({ tenantId: a.tenantId, userId: "alice" })).toMatchObject({ found: true });
    expect((await b.backend.getUser({ userId: "alice" })).user?.displayName).toBe("Alice Marker");
    expect(await client(AuthService, b.phone.accessToken).listSessions({})).toBeDefined();
  });

  it("serves services only", async () => {
    const { tenantId, phone } = await tenantWithUser("user-data-refused");
    expect((await failure(client(AuthInternalService, phone.accessToken).eraseUserData({ tenantId, userId: "alice" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(client(AuthInternalService, adminCredential).exportUserData({ tenantId, userId: "alice" }))).code).toBe(Code.PermissionDenied);
    expect((await failure((await complianceClient()).eraseUserData({ tenantId: "x", userId: "alice" }))).code).toBe(Code.InvalidArgument);
  });
});
