import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { RevocationKind } from "@caas/gen/caas/auth/v1/revocation_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createMeshPrincipalResolver } from "@caas/shared/identity/mesh-resolver";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE } from "@caas/shared/identity/service-tokens";
import { loadRevocationsFromAuth, RevocationSet } from "@caas/shared/identity/revocations";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";
import { UnauthenticatedError } from "@caas/shared/errors";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
const root = readFileSync(join(platform.dataDir, SERVICE_SECRET_FILE), "utf8").trim();
const logger = createLogger({ service: "test", instance: "t", level: "silent" });
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

async function signedOutSession() {
  const { tenant } = await client(TenantAdminService, adminCredential).createTenant({ name: "late-verifier" });
  const { secret } = await client(TenantAdminService, adminCredential).createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = client(UserAdminService, secret);
  await backend.upsertUser({ userId: "alice", displayName: "Alice" });
  const tokens = (await backend.issueUserToken({ userId: "alice", deviceId: "phone" })).tokens!;
  const kept = (await backend.issueUserToken({ userId: "alice", deviceId: "laptop" })).tokens!;
  await client(AuthService, tokens.accessToken).signOut({});
  return { tenantId: tenant!.id, revoked: tokens, kept };
}

/** A verifier as a service process builds one at start, on the platform's auth. */
function verifier(revocations: RevocationSet) {
  const peers = new PeerDirectory();
  peers.set("auth", [auth]);
  return { peers, resolver: createMeshPrincipalResolver({ peers, clock: systemClock, revocations, serviceAudience: "chat" }) };
}
const headers = (token: string) => new Headers({ authorization: `Bearer ${token}` });

describe("ListRevocations: verifiers that start after a revocation (embedded platform)", () => {
  it("loads the deny-set at start, so a revoked session's unexpired token is refused from the first call", async () => {
    const { tenantId, revoked, kept } = await signedOutSession();

    // Without loading, a fresh verifier would accept the token: it is signed and unexpired.
    const blind = verifier(new RevocationSet(systemClock));
    expect(await blind.resolver.resolve(headers(revoked.accessToken))).toMatchObject({ kind: "user", sessionId: revoked.sessionId });

    const set = new RevocationSet(systemClock);
    const late = verifier(set);
    await loadRevocationsFromAuth({ set, service: "chat", root, peers: late.peers, clock: systemClock, logger, attempts: 1 });
    await expect(late.resolver.resolve(headers(revoked.accessToken))).rejects.toThrow(UnauthenticatedError);
    await expect(late.resolver.resolve(headers(revoked.accessToken))).rejects.toThrow(/revoked/);
    // The same user's other session is untouched.
    expect(await late.resolver.resolve(headers(kept.accessToken))).toMatchObject({ kind: "user", tenantId, sessionId: kept.sessionId });
  });

  it("pages the entries with a service token only; other callers and bad cursors are refused", async () => {
    const { tenantId, revoked } = await signedOutSession();
    const peers = new PeerDirectory();
    peers.set("auth", [auth]);
    const serviceToken = await createPeerServiceTokenSource({ service: "chat", root, peers, clock: systemClock }).token("auth");
    const internal = client(AuthInternalService, serviceToken);

    const seen: { kind: RevocationKind; tenantId: string; subjectId: string }[] = [];
    let cursor = "";
    for (let pages = 0; ; pages++) {
      const page = await internal.listRevocations({ cursor, limit: 2 });
      expect(page.revocations.length).toBeLessThanOrEqual(2);
      seen.push(...page.revocations.map((r) => ({ kind: r.kind, tenantId: r.tenantId, subjectId: r.subjectId })));
      for (const r of page.revocations) expect(r.expireTime!.seconds).toBeGreaterThan(r.revokeTime!.seconds);
      if (!page.hasMore) {
        // The cursor of the last page stays valid for what comes later.
        expect((await internal.listRevocations({ cursor: page.nextCursor })).revocations).toEqual([]);
        break;
      }
      expect(page.nextCursor).not.toBe(cursor);
      cursor = page.nextCursor;
      expect(pages).toBeLessThan(1000);
    }
    expect(seen).toContainEqual({ kind: RevocationKind.SESSION, tenantId, subjectId: revoked.sessionId });

    const { tokens } = await client(UserAdminService, (await client(TenantAdminService, adminCredential).createApiKey({ tenantId, name: "k2" })).secret).issueUserToken({
      userId: "alice",
      deviceId: "d",
    });
    expect((await failure(client(AuthInternalService, tokens!.accessToken).listRevocations({}))).code).toBe(Code.PermissionDenied);
    expect((await failure(client(AuthInternalService, adminCredential).listRevocations({}))).code).toBe(Code.PermissionDenied);
    expect((await failure(internal.listRevocations({ cursor: "not-a-cursor" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(internal.listRevocations({ limit: 1001 }))).code).toBe(Code.InvalidArgument);
  });
});
