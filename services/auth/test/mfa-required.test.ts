import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { SignInRequestSchema } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { FailedPreconditionError, InvalidArgumentError, UnauthenticatedError } from "@caas/shared/errors";
import { FakeClock } from "@caas/shared/clock";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { base32Decode, hotp, totpStep } from "../src/domain/totp.js";
import { hashPassword } from "../src/domain/passwords.js";
import { openAuthSqlite } from "../src/adapters/auth-sqlite.js";
import { createSqlitePasswordStore } from "../src/adapters/password-store-sqlite.js";
import { createSqliteTenantStore } from "../src/adapters/tenant-store-sqlite.js";
import { createSqliteTotpStore } from "../src/adapters/totp-store-sqlite.js";
import { createSqliteUserStore } from "../src/adapters/user-store-sqlite.js";
import { PasswordAccounts, type SignInOutcome } from "../src/password-accounts.js";
import { AuthThrottle } from "../src/throttle.js";
import { TotpMfa } from "../src/totp-mfa.js";
import type { SessionManager } from "../src/sessions.js";

/*
 * A tenant whose settings require MFA: a password account without TOTP signs in to an
 * enrollment-only challenge, enrolls and confirms with it, and only then gets a session.
 */
describe("sign-in in a tenant that requires MFA (SQLite stores, fake clock)", () => {
  const dir = mkdtempSync(join(tmpdir(), "caas-mfa-required-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const T0 = Date.UTC(2030, 0, 1, 12, 0, 10);
  let clock: FakeClock;
  let mfa: TotpMfa;
  let accounts: PasswordAccounts;
  let tenantId: string;
  let started: { userId: string; deviceId: string; mfaSatisfied: boolean }[];
  let setMfaRequired: (required: boolean) => Promise<void>;
  const hash = hashPassword("correct horse", { N: 1024, r: 8, p: 1 });

  beforeEach(async () => {
    clock = new FakeClock(T0);
    const db = await openAuthSqlite({ path: join(dir, `${randomBytes(6).toString("hex")}.db`) });
    const scope = freshTenantScope();
    tenantId = scope.tenantId;
    const users = createSqliteUserStore({ db });
    const tenants = createSqliteTenantStore({ db });
    const passwords = createSqlitePasswordStore({ db });
    const settings = (mfaRequired: boolean) => JSON.stringify({ passwordAuthEnabled: true, mfaRequired });
    await tenants.create({ id: tenantId, name: "t", status: "active", settings: settings(true), createTimeMs: T0, updateTimeMs: T0, revision: 1 });
    setMfaRequired = async (required) => {
      expect(await tenants.update(scope, { settings: settings(required) }, clock.nowMs())).toBeDefined();
    };
    for (const id of ["alice", "bob"]) {
      await users.upsert(scope, { id, displayName: id, avatarUrl: "", custom: "", roles: [] }, T0);
      await passwords.create(scope, { tenantId, login: `email:${id}@x.test`, userId: id, hash: await hash, createTimeMs: T0 });
    }
    started = [];
    const sessions = {
      start: async (s: { user: { id: string }; deviceId: string; mfaSatisfied: boolean }) => {
        started.push({ userId: s.user.id, deviceId: s.deviceId, mfaSatisfied: s.mfaSatisfied });
        return { sessionId: `s${started.length}`, userId: s.user.id, accessToken: "jwt" };
      },
    } as unknown as SessionManager;
    const throttle = new AuthThrottle(createMemoryRateLimiter({ clock }));
    const logger = createLogger({ service: "test", instance: "t", level: "silent" });
    mfa = new TotpMfa({
      totp: createSqliteTotpStore({ db }),
      passwords,
      users,
      tenants,
      sessions,
      throttle,
      secretKek: randomBytes(32),
      challengeKey: randomBytes(32),
      recoveryPepper: randomBytes(32),
      clock,
      logger,
    });
    accounts = new PasswordAccounts({ passwords, users, tenants, sessions, throttle, mfa, clock, logger });
  });

  const signIn = (who = "alice", password = "correct horse") =>
    accounts.signIn(create(SignInRequestSchema, { tenantId, login: { case: "email", value: `${who}@x.test` }, password, deviceId: "phone" }));
  const challengeOf = (o: SignInOutcome) => {
    if (!("mfaChallenge" in o)) throw new Error("expected a challenge, got tokens");
    return o;
  };

  it("answers an enrollment-only challenge, no tokens, to an account without TOTP", async () => {
    const o = challengeOf(await signIn());
    expect(o.enrollmentRequired).toBe(true);
    expect(o.expireTimeMs).toBe(T0 + 5 * 60_000);
    expect(started).toEqual([]);
    // The wrong password is still refused before any challenge.
    await expect(signIn("alice", "wrong horse")).rejects.toThrow(UnauthenticatedError);
    // The enrollment challenge does not complete a sign-in through VerifyMfa.
    await expect(mfa.verify(o.mfaChallenge, { case: "totpCode", value: "123456" })).rejects.toThrow(/enrollment/);
    expect(started).toEqual([]);
  });

  it("enrolls and confirms with the challenge, then gets a session with mfa_satisfied; later sign-ins need the code", async () => {
    const { mfaChallenge } = challengeOf(await signIn());
    const { secret, otpauthUri } = await mfa.enrollWithChallenge(mfaChallenge);
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/CAAS:alice\?/);
    const bytes = base32Decode(secret);
    await expect(mfa.confirmWithChallenge(mfaChallenge, hotp(bytes, totpStep(clock.nowMs()) + 5))).rejects.toThrow(InvalidArgumentError);
    expect(started).toEqual([]);
    const { recoveryCodes, tokens } = await mfa.confirmWithChallenge(mfaChallenge, hotp(bytes, totpStep(clock.nowMs())));
    expect(recoveryCodes).toHaveLength(10);
    expect(tokens.userId).toBe("alice");
    expect(started).toEqual([{ userId: "alice", deviceId: "phone", mfaSatisfied: true }]);
    // The challenge is used up: it neither enrolls again nor starts a second session.
    clock.advance(30_000);
    await expect(mfa.confirmWithChallenge(mfaChallenge, hotp(bytes, totpStep(clock.nowMs())))).rejects.toThrow(FailedPreconditionError);
    await expect(mfa.enrollWithChallenge(mfaChallenge)).rejects.toThrow(/already enabled/);
    // Now enrolled: a sign-in gets the ordinary second-factor challenge, and VerifyMfa completes it.
    const next = challengeOf(await signIn());
    expect(next.enrollmentRequired).toBe(false);
    await expect(mfa.enrollWithChallenge(next.mfaChallenge)).rejects.toThrow(/not an enrollment challenge/);
    await mfa.verify(next.mfaChallenge, { case: "totpCode", value: hotp(bytes, totpStep(clock.nowMs())) });
    expect(started).toHaveLength(2);
    // The tenant's requirement keeps TOTP on.
    await expect(mfa.disable(scopeForAdmin(tenantId), "alice", { case: "recoveryCode", value: recoveryCodes[0]! })).rejects.toThrow(/requires a second factor/);
  });

  it("a challenge acts only for its own account, expires, and voids after 5 attempts", async () => {
    const alice = challengeOf(await signIn()).mfaChallenge;
    await mfa.enrollWithChallenge(alice);
    // bob is untouched by alice's enrollment.
    expect(await mfa.isEnabled(scopeForAdmin(tenantId), "bob")).toBe(false);
    const tampered = `${alice.slice(0, 20)}${alice[20] === "A" ? "B" : "A"}${alice.slice(21)}`;
    await expect(mfa.enrollWithChallenge(tampered)).rejects.toThrow(/not valid/);
    const bob = challengeOf(await signIn("bob")).mfaChallenge;
    for (let i = 0; i < 5; i++) await expect(mfa.confirmWithChallenge(bob, "000000")).rejects.toThrow(/no TOTP enrollment is pending/);
    await expect(mfa.enrollWithChallenge(bob)).rejects.toThrow(/too many wrong codes/);
    const late = challengeOf(await signIn("bob")).mfaChallenge;
    clock.advance(5 * 60_000);
    await expect(mfa.enrollWithChallenge(late)).rejects.toThrow(/expired/);
  });

  it("signs in straight away once the tenant no longer requires MFA", async () => {
    await setMfaRequired(false);
    const o = await signIn();
    expect("tokens" in o).toBe(true);
    expect(started).toEqual([{ userId: "alice", deviceId: "phone", mfaSatisfied: false }]);
  });
});
