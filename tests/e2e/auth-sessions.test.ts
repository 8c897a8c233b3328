import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const chat = platform.endpoints.chat!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

function transport(credential?: string, baseUrl = auth) {
  const bearer: Interceptor = (next) => (req) => {
    if (credential !== undefined) req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
  return createGrpcTransport({ baseUrl, interceptors: [bearer] });
}
const admin = createClient(TenantAdminService, transport(adminCredential));
const authAs = (credential?: string) => createClient(AuthService, transport(credential));

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

/** A fresh tenant, its API key client and users alice and bob. */
async function newTenant() {
  const { tenant } = await admin.createTenant({ name: "sessions" });
  const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = createClient(UserAdminService, transport(secret));
  await backend.upsertUser({ userId: "alice", displayName: "Alice", roles: ["member"] });
  await backend.upsertUser({ userId: "bob", displayName: "Bob" });
  const issue = async (userId: string, deviceId = "phone", deviceName = "") => (await backend.issueUserToken({ userId, deviceId, deviceName })).tokens!;
  return { tenant: tenant!, backend, issue };
}

describe("sessions and refresh tokens (embedded platform, real clients)", () => {
  it("rotates the refresh token on every use, keeping the session id in the new access token", async () => {
    const { tenant, issue, backend } = await newTenant();
    const first = await issue("alice", "phone", "Pixel 8");
    expect(first.refreshToken).toMatch(/^caas_r_/);
    expect(Number(first.refreshTokenExpireTime!.seconds)).toBeGreaterThan(Date.now() / 1000 + 29 * 86_400);
    const second = (await authAs().refreshToken({ refreshToken: first.refreshToken })).tokens!;
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.userId).toBe("alice");
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(decodeJwt(second.accessToken)).toMatchObject({ sid: first.sessionId, sub: "alice", tenant: tenant.id, device: "phone", roles: ["member"] });
    // Roles come from the user record at refresh time.
    await backend.upsertUser({ userId: "alice", displayName: "Alice", roles: ["member", "mod"] });
    const third = (await authAs().refreshToken({ refreshToken: second.refreshToken })).tokens!;
    expect(decodeJwt(third.accessToken).roles).toEqual(["member", "mod"]);
    const { sessions } = await authAs(third.accessToken).listSessions({});
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ id: first.sessionId, userId: "alice", deviceId: "phone", deviceName: "Pixel 8", current: true, mfaSatisfied: false });
  });

  it("revokes the whole family when a used refresh token comes back", async () => {
    const { issue } = await newTenant();
    const first = await issue("alice");
    const second = (await authAs().refreshToken({ refreshToken: first.refreshToken })).tokens!;
    const reuse = await failure(authAs().refreshToken({ refreshToken: first.refreshToken }));
    expect(reuse.code).toBe(Code.Unauthenticated);
    expect(reuse.rawMessage).toMatch(/already used/);
    // The legitimate holder's newer token is dead too: the session is gone.
    expect((await failure(authAs().refreshToken({ refreshToken: second.refreshToken }))).code).toBe(Code.Unauthenticated);
    const other = await issue("alice", "laptop");
    expect((await authAs(other.accessToken).listSessions({})).sessions.map((s) => s.id)).toEqual([other.sessionId]);
  });

  it("refuses malformed, forged and foreign-shaped refresh tokens without touching any session", async () => {
    const { issue, tenant: t } = await newTenant();
    const real = await issue("alice");
    const forged = `caas_r_${Buffer.concat([Buffer.from(t.id.replace(/-/g, ""), "hex"), Buffer.alloc(32, 7)]).toString("base64url")}`;
    for (const token of ["nope", "caas_r_short", forged, `${real.refreshToken.slice(0, -4)}AAAA`, real.refreshToken.replace("caas_r_", "caas_k_")]) {
      expect((await failure(authAs().refreshToken({ refreshToken: token }))).code, token).toBe(Code.Unauthenticated);
    }
    expect((await authAs().refreshToken({ refreshToken: real.refreshToken })).tokens!.sessionId).toBe(real.sessionId);
  });

  it("never accepts a refresh token as an access token", async () => {
    const { issue } = await newTenant();
    const { refreshToken } = await issue("alice");
    for (const base of [auth, chat]) {
      expect((await failure(createClient(Health, transport(refreshToken, base)).check({ service: "" }))).code, base).toBe(Code.Unauthenticated);
    }
    expect((await failure(authAs(refreshToken).listSessions({}))).code).toBe(Code.Unauthenticated);
  });

  it("lists the caller's active sessions, newest seen first, in pages, marking the current one", async () => {
    const { issue } = await newTenant();
    const made = [];
    for (const device of ["d1", "d2", "d3"]) made.push(await issue("alice", device));
    await issue("bob");
    // A refresh makes d1 the most recently seen.
    const d1 = (await authAs().refreshToken({ refreshToken: made[0]!.refreshToken })).tokens!;
    const caller = authAs(made[1]!.accessToken);
    const p1 = await caller.listSessions({ pageSize: 2 });
    expect(p1.sessions.map((s) => s.deviceId)).toEqual(["d1", "d3"]);
    expect(p1.nextPageToken).not.toBe("");
    const p2 = await caller.listSessions({ pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.sessions.map((s) => [s.deviceId, s.current])).toEqual([["d2", true]]);
    expect(p2.nextPageToken).toBe("");
    expect(p1.sessions.every((s) => s.userId === "alice")).toBe(true);
    // Bob cannot page through alice's list.
    const bob = await issue("bob", "other");
    expect((await failure(authAs(bob.accessToken).listSessions({ pageToken: p1.nextPageToken }))).code).toBe(Code.InvalidArgument);
    expect(d1.sessionId).toBe(made[0]!.sessionId);
  });

  it("revokes one of the caller's sessions; another user's or tenant's session is NOT_FOUND", async () => {
    const a = await newTenant();
    const b = await newTenant();
    const mine = await a.issue("alice", "phone");
    const myOther = await a.issue("alice", "laptop");
    const bobs = await a.issue("bob");
    const foreign = await b.issue("alice");
    const me = authAs(mine.accessToken);
    for (const id of [bobs.sessionId, foreign.sessionId, "01900000-0000-7000-8000-000000000000"]) {
      const err = await failure(me.revokeSession({ sessionId: id }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe("session not found");
    }
    await me.revokeSession({ sessionId: myOther.sessionId });
    await me.revokeSession({ sessionId: myOther.sessionId });
    expect((await failure(authAs().refreshToken({ refreshToken: myOther.refreshToken }))).code).toBe(Code.Unauthenticated);
    expect((await me.listSessions({})).sessions.map((s) => s.id)).toEqual([mine.sessionId]);
    // The others still work.
    expect((await authAs().refreshToken({ refreshToken: bobs.refreshToken })).tokens!.userId).toBe("bob");
    expect((await authAs().refreshToken({ refreshToken: foreign.refreshToken })).tokens!.userId).toBe("alice");
  });

  it("signs out with the access token or, once it expired, with the refresh token", async () => {
    const { issue } = await newTenant();
    const one = await issue("alice", "one");
    await authAs(one.accessToken).signOut({});
    expect((await failure(authAs().refreshToken({ refreshToken: one.refreshToken }))).code).toBe(Code.Unauthenticated);
    const two = await issue("alice", "two");
    await authAs().signOut({ refreshToken: two.refreshToken });
    await authAs().signOut({ refreshToken: two.refreshToken });
    expect((await failure(authAs().refreshToken({ refreshToken: two.refreshToken }))).code).toBe(Code.Unauthenticated);
    expect((await failure(authAs().signOut({}))).code).toBe(Code.Unauthenticated);
    expect((await failure(authAs().signOut({ refreshToken: "caas_r_nope" }))).code).toBe(Code.Unauthenticated);
    expect((await failure(authAs(adminCredential).signOut({}))).code).toBe(Code.PermissionDenied);
  });

  it("stops refreshing for a deactivated user and a suspended tenant", async () => {
    const { tenant: t, backend, issue } = await newTenant();
    const alice = await issue("alice");
    const bob = await issue("bob");
    await backend.deactivateUser({ userId: "alice" });
    expect((await failure(authAs().refreshToken({ refreshToken: alice.refreshToken }))).code).toBe(Code.Unauthenticated);
    await admin.suspendTenant({ tenantId: t.id, reason: "test" });
    expect((await failure(authAs().refreshToken({ refreshToken: bob.refreshToken }))).code).toBe(Code.PermissionDenied);
  });

  it("throttles IssueUserToken per tenant and user with RESOURCE_EXHAUSTED and the retry delay", async () => {
    const { issue, backend } = await newTenant();
    // The default rule: a burst of 20 per user, then one every 3 s.
    await Promise.all(Array.from({ length: 20 }, (_, i) => issue("alice", `d${i}`)));
    const err = await failure(backend.issueUserToken({ userId: "alice", deviceId: "one-more" }));
    expect(err.code).toBe(Code.ResourceExhausted);
    const [retry] = err.findDetails(RetryInfoSchema);
    const delayMs = Number(retry!.retryDelay!.seconds) * 1000 + retry!.retryDelay!.nanos / 1e6;
    expect(delayMs).toBeGreaterThan(0);
    expect(delayMs).toBeLessThanOrEqual(3000);
    // Another user of the tenant is not affected.
    expect((await issue("bob")).userId).toBe("bob");
  });
});
