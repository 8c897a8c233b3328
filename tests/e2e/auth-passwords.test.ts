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
import { base32Decode, hotp, totpStep } from "@caas/auth/testing";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const chat = platform.endpoints.chat!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

function transport(baseUrl: string, credential?: string) {
  const bearer: Interceptor = (next) => (req) => {
    if (credential !== undefined) req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
  return createGrpcTransport({ baseUrl, interceptors: [bearer] });
}
const admin = createClient(TenantAdminService, transport(auth, adminCredential));
const anon = createClient(AuthService, transport(auth));

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

async function passwordTenant(enabled = true) {
  const { tenant } = await admin.createTenant({ name: "standalone" });
  if (enabled) {
    await admin.updateTenant({ tenant: { id: tenant!.id, settings: { passwordAuthEnabled: true } }, updateMask: { paths: ["settings.password_auth_enabled"] } });
  }
  return tenant!.id;
}

const email = (value: string) => ({ case: "email" as const, value });

describe("password sign-up and sign-in (embedded platform, real clients)", () => {
  it("signs up with a server-assigned id and signs in with email or username, case-insensitively", async () => {
    const tenantId = await passwordTenant();
    const up = await anon.signUp({ tenantId, login: email("Alice@Example.com"), password: "correct horse", displayName: "Alice", deviceId: "phone" });
    expect(up.user).toMatchObject({ tenantId, displayName: "Alice" });
    expect(up.user!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(decodeJwt(up.tokens!.accessToken)).toMatchObject({ sub: up.user!.id, tenant: tenantId, device: "phone" });
    const signIn = await anon.signIn({ tenantId, login: email("alice@example.COM"), password: "correct horse", deviceId: "laptop" });
    expect(signIn.mfaRequired).toBe(false);
    expect(signIn.tokens!.userId).toBe(up.user!.id);
    expect(signIn.tokens!.sessionId).not.toBe(up.tokens!.sessionId);
    expect((await createClient(Health, transport(chat, signIn.tokens!.accessToken)).check({ service: "" })).status).toBeDefined();
    const bob = await anon.signUp({ tenantId, login: { case: "username", value: "Bob_1" }, password: "hunter2hunter2", displayName: "Bob", deviceId: "d" });
    expect((await anon.signIn({ tenantId, login: { case: "username", value: "bob_1" }, password: "hunter2hunter2", deviceId: "d" })).tokens!.userId).toBe(bob.user!.id);
  });

  it("refuses a taken login, a disabled or unknown tenant, and says nothing about which of login or password was wrong", async () => {
    const tenantId = await passwordTenant();
    await anon.signUp({ tenantId, login: email("carol@example.com"), password: "password-1", displayName: "Carol", deviceId: "d" });
    expect((await failure(anon.signUp({ tenantId, login: email("CAROL@example.com"), password: "password-2", displayName: "C2", deviceId: "d" }))).code).toBe(Code.AlreadyExists);
    const wrongPassword = await failure(anon.signIn({ tenantId, login: email("carol@example.com"), password: "password-2", deviceId: "d" }));
    const unknownLogin = await failure(anon.signIn({ tenantId, login: email("nobody@example.com"), password: "password-1", deviceId: "d" }));
    expect([wrongPassword.code, unknownLogin.code]).toEqual([Code.Unauthenticated, Code.Unauthenticated]);
    expect(wrongPassword.rawMessage).toBe(unknownLogin.rawMessage);
    const disabled = await passwordTenant(false);
    expect((await failure(anon.signUp({ tenantId: disabled, login: email("a@example.com"), password: "password-1", displayName: "A", deviceId: "d" }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(anon.signIn({ tenantId: "01900000-0000-7000-8000-000000000000", login: email("a@example.com"), password: "password-1", deviceId: "d" }))).code).toBe(Code.NotFound);
    // Another tenant's account does not exist here.
    const other = await passwordTenant();
    expect((await failure(anon.signIn({ tenantId: other, login: email("carol@example.com"), password: "password-1", deviceId: "d" }))).code).toBe(Code.Unauthenticated);
  });

  it("refuses a deactivated account", async () => {
    const tenantId = await passwordTenant();
    const up = await anon.signUp({ tenantId, login: email("dave@example.com"), password: "password-1", displayName: "Dave", deviceId: "d" });
    const { secret } = await admin.createApiKey({ tenantId, name: "k" });
    await createClient(UserAdminService, transport(auth, secret)).deactivateUser({ userId: up.user!.id });
    expect((await failure(anon.signIn({ tenantId, login: email("dave@example.com"), password: "password-1", deviceId: "d" }))).code).toBe(Code.Unauthenticated);
  });

  it("throttles password guessing per login with RESOURCE_EXHAUSTED and the retry delay", async () => {
    const tenantId = await passwordTenant();
    await anon.signUp({ tenantId, login: email("erin@example.com"), password: "the-password", displayName: "Erin", deviceId: "d" });
    const firstGuess = Date.now();
    for (let i = 0; i < 10; i++) {
      expect((await failure(anon.signIn({ tenantId, login: email("erin@example.com"), password: `guess-${i}`, deviceId: "d" }))).code).toBe(Code.Unauthenticated);
    }
    // Even the right password is refused until the delay has passed.
    const err = await failure(anon.signIn({ tenantId, login: email("erin@example.com"), password: "the-password", deviceId: "d" }));
    expect(err.code).toBe(Code.ResourceExhausted);
    const delay = err.findDetails(RetryInfoSchema)[0]!.retryDelay!;
    // 10 sign-ins per 300 s refill one every 30 s: the delay is what is left of the first 30 s
    // (however long the guesses took on a loaded machine), never more.
    const delayMs = Number(delay.seconds) * 1000 + delay.nanos / 1e6;
    expect(delayMs).toBeLessThanOrEqual(30_000);
    expect(delayMs).toBeGreaterThan(30_000 - (Date.now() - firstGuess) - 1_000);
    // Another login of the tenant is not affected.
    await anon.signUp({ tenantId, login: email("frank@example.com"), password: "the-password", displayName: "Frank", deviceId: "d" });
    expect((await anon.signIn({ tenantId, login: email("frank@example.com"), password: "the-password", deviceId: "d" })).tokens).toBeDefined();
  });
});

describe("TOTP second factor over the network", () => {
  /** A password account with TOTP enabled; its confirmation code and recovery codes. */
  async function enrolled(tenantId: string, login: string) {
    const { tokens } = await anon.signUp({ tenantId, login: email(login), password: "the-password", displayName: "T", deviceId: "d" });
    const me = createClient(AuthService, transport(auth, tokens!.accessToken));
    const { secret, otpauthUri } = await me.enrollTotp({});
    expect(otpauthUri).toMatch(new RegExp(`^otpauth://totp/CAAS:T\\?secret=${secret}&`));
    const code = hotp(base32Decode(secret), totpStep(Date.now()));
    const { recoveryCodes } = await me.confirmTotp({ totpCode: code });
    expect(recoveryCodes).toHaveLength(10);
    return { me, code, recoveryCodes, secret };
  }

  it("requires the second factor at sign-in once enrolled; a replayed code fails, a recovery code works once", async () => {
    const tenantId = await passwordTenant();
    const { code, recoveryCodes } = await enrolled(tenantId, "tina@example.com");
    const signIn = () => anon.signIn({ tenantId, login: email("tina@example.com"), password: "the-password", deviceId: "laptop" });
    const first = await signIn();
    expect(first.tokens).toBeUndefined();
    expect(first.mfaRequired).toBe(true);
    expect(first.mfaChallenge).toMatch(/^caas_m_/);
    // The code that confirmed the enrollment was spent there.
    const replay = await failure(anon.verifyMfa({ mfaChallenge: first.mfaChallenge, code: { case: "totpCode", value: code } }));
    expect(replay.code).toBe(Code.Unauthenticated);
    const done = await anon.verifyMfa({ mfaChallenge: first.mfaChallenge, code: { case: "recoveryCode", value: recoveryCodes[0]! } });
    const sessions = (await createClient(AuthService, transport(auth, done.tokens!.accessToken)).listSessions({})).sessions;
    expect(sessions.find((s) => s.current)).toMatchObject({ deviceId: "laptop", mfaSatisfied: true });
    // The challenge and the recovery code are both used up.
    expect((await failure(anon.verifyMfa({ mfaChallenge: first.mfaChallenge, code: { case: "recoveryCode", value: recoveryCodes[1]! } }))).code).toBe(Code.Unauthenticated);
    const second = await signIn();
    expect((await failure(anon.verifyMfa({ mfaChallenge: second.mfaChallenge, code: { case: "recoveryCode", value: recoveryCodes[0]! } }))).code).toBe(Code.Unauthenticated);
  });

  it("voids a challenge after 5 wrong codes, and disables TOTP with a recovery code", async () => {
    const tenantId = await passwordTenant();
    const { me, recoveryCodes } = await enrolled(tenantId, "uma@example.com");
    const { mfaChallenge } = await anon.signIn({ tenantId, login: email("uma@example.com"), password: "the-password", deviceId: "d" });
    for (let i = 0; i < 5; i++) {
      expect((await failure(anon.verifyMfa({ mfaChallenge, code: { case: "totpCode", value: "000000" } }))).code).toBe(Code.Unauthenticated);
    }
    const exhausted = await failure(anon.verifyMfa({ mfaChallenge, code: { case: "recoveryCode", value: recoveryCodes[0]! } }));
    expect(exhausted.code).toBe(Code.ResourceExhausted);
    expect(exhausted.findDetails(RetryInfoSchema)).toHaveLength(1);
    expect((await failure(me.disableTotp({ code: { case: "recoveryCode", value: "aaaaa-aaaaa" } }))).code).toBe(Code.InvalidArgument);
    await me.disableTotp({ code: { case: "recoveryCode", value: recoveryCodes[0]! } });
    expect((await anon.signIn({ tenantId, login: email("uma@example.com"), password: "the-password", deviceId: "d" })).tokens).toBeDefined();
  });

  it("offers TOTP to password accounts only", async () => {
    const tenantId = await passwordTenant();
    const { secret } = await admin.createApiKey({ tenantId, name: "k" });
    const backend = createClient(UserAdminService, transport(auth, secret));
    await backend.upsertUser({ userId: "managed", displayName: "M" });
    const { tokens } = await backend.issueUserToken({ userId: "managed", deviceId: "d" });
    const err = await failure(createClient(AuthService, transport(auth, tokens!.accessToken)).enrollTotp({}));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect((await failure(anon.enrollTotp({}))).code).toBe(Code.Unauthenticated);
  });
});
