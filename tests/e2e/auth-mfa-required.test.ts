import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { base32Decode, hotp, totpStep } from "@caas/auth/testing";

const platform = inject("embedded");
const gateway = platform.endpoints.gateway!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
const bearer =
  (credential?: string): Interceptor =>
  (next) =>
  (req) => {
    if (credential !== undefined) req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth!, interceptors: [bearer(adminCredential)] }));
// Browsers' path: Connect over HTTP/1.1, through the gateway, with no credential.
const anon = createClient(AuthService, createConnectTransport({ baseUrl: gateway, httpVersion: "1.1" }));
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
const email = (value: string) => ({ case: "email" as const, value });

describe("a tenant that requires MFA (embedded platform through the gateway)", () => {
  it("gives a password account without TOTP only an enrollment challenge, and full tokens after enrolling", async () => {
    const { tenant } = await admin.createTenant({ name: "mfa-required" });
    const tenantId = tenant!.id;
    await admin.updateTenant({
      tenant: { id: tenantId, settings: { passwordAuthEnabled: true, mfaRequired: true } },
      updateMask: { paths: ["settings.password_auth_enabled", "settings.mfa_required"] },
    });

    // Sign-up creates the account but answers an enrollment challenge, not a session.
    const up = await anon.signUp({ tenantId, login: email("carol@example.com"), password: "correct horse", displayName: "Carol", deviceId: "web" });
    expect(up.user!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(up.tokens).toBeUndefined();
    expect(up.mfaEnrollmentRequired).toBe(true);
    expect(up.mfaChallenge).toMatch(/^caas_m_/);

    // So does every sign-in until TOTP is enrolled.
    const signIn = await anon.signIn({ tenantId, login: email("carol@example.com"), password: "correct horse", deviceId: "web" });
    expect(signIn).toMatchObject({ mfaRequired: true, mfaEnrollmentRequired: true });
    expect(signIn.tokens).toBeUndefined();
    const challenge = signIn.mfaChallenge;

    // The challenge is no sign-in: VerifyMfa refuses it; without it, enrollment needs a token.
    expect((await failure(anon.verifyMfa({ mfaChallenge: challenge, code: { case: "totpCode", value: "123456" } }))).code).toBe(Code.Unauthenticated);
    expect((await failure(anon.enrollTotp({}))).code).toBe(Code.Unauthenticated);
    const tampered = `${challenge.slice(0, 20)}${challenge[20] === "A" ? "B" : "A"}${challenge.slice(21)}`;
    expect((await failure(anon.enrollTotp({ mfaChallenge: tampered }))).code).toBe(Code.Unauthenticated);

    const { secret, otpauthUri } = await anon.enrollTotp({ mfaChallenge: challenge });
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/CAAS:Carol\?/);
    const wrong = await failure(anon.confirmTotp({ mfaChallenge: challenge, totpCode: hotp(base32Decode(secret), totpStep(Date.now()) + 5) }));
    expect(wrong.code).toBe(Code.InvalidArgument);
    const confirmed = await anon.confirmTotp({ mfaChallenge: challenge, totpCode: hotp(base32Decode(secret), totpStep(Date.now())) });
    expect(confirmed.recoveryCodes).toHaveLength(10);
    const tokens = confirmed.tokens!;
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ sub: up.user!.id, tenant: tenantId, device: "web" });

    // Full tokens: chat answers, and the session shows the second factor.
    const me = (t: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t)] });
    expect((await createClient(ChatService, me(tokens.accessToken)).listConversations({})).conversations).toEqual([]);
    const { sessions } = await createClient(AuthService, me(tokens.accessToken)).listSessions({});
    expect(sessions.find((s) => s.current)).toMatchObject({ mfaSatisfied: true, deviceId: "web" });

    // The challenge is spent, and the next sign-in asks for the code like any MFA account.
    expect((await failure(anon.confirmTotp({ mfaChallenge: challenge, totpCode: "000000" }))).code).toBe(Code.FailedPrecondition);
    const again = await anon.signIn({ tenantId, login: email("carol@example.com"), password: "correct horse", deviceId: "web" });
    expect(again).toMatchObject({ mfaRequired: true, mfaEnrollmentRequired: false });
  });
});
