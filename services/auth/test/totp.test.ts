import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createLogger } from "@caas/shared/logger";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError, UnauthenticatedError } from "@caas/shared/errors";
import { FakeClock } from "@caas/shared/clock";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, totpStep } from "../src/domain/totp.js";
import { openAuthSqlite } from "../src/adapters/auth-sqlite.js";
import { createSqlitePasswordStore } from "../src/adapters/password-store-sqlite.js";
import { createSqliteTenantStore } from "../src/adapters/tenant-store-sqlite.js";
import { createSqliteTotpStore } from "../src/adapters/totp-store-sqlite.js";
import { createSqliteUserStore } from "../src/adapters/user-store-sqlite.js";
import { AuthThrottle } from "../src/throttle.js";
import { TotpMfa } from "../src/totp-mfa.js";
import type { SessionManager } from "../src/sessions.js";

describe("TOTP primitives (RFC 6238 / RFC 4226 / RFC 4648)", () => {
  const rfcSecret = Buffer.from("12345678901234567890");

  it("matches the RFC 6238 SHA-1 test vectors (last six digits)", () => {
    for (const [t, code] of [
      [59, "287082"],
      [1111111109, "081804"],
      [1111111111, "050471"],
      [1234567890, "005924"],
      [2000000000, "279037"],
    ] as const) {
      expect(hotp(rfcSecret, totpStep(t * 1000))).toBe(code);
    }
  });

  it("accepts the current step and one either side, nothing further", () => {
    const now = 1234567890_000;
    const step = totpStep(now);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step), now)).toBe(step);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step - 1), now)).toBe(step - 1);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step + 1), now)).toBe(step + 1);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step - 2), now)).toBeUndefined();
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step + 2), now)).toBeUndefined();
  });

  it("encodes base32 and otpauth URIs", () => {
    expect(base32Encode(Buffer.from("foobar"))).toBe("MZXW6YTBOI");
    expect(base32Decode("mzxw6ytboi======").toString()).toBe("foobar");
    const secret = randomBytes(20);
    expect(base32Decode(base32Encode(secret))).toEqual(secret);
    expect(otpauthUri("CAAS", "Alice Smith", rfcSecret)).toBe("otpauth://totp/CAAS:Alice%20Smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=CAAS&algorithm=SHA1&digits=6&period=30");
  });
});

describe("TotpMfa with a fake clock (SQLite stores)", () => {
  const dir = mkdtempSync(join(tmpdir(), "caas-totp-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const T0 = Date.UTC(2030, 0, 1, 12, 0, 10);
  let clock: FakeClock;
  let mfa: TotpMfa;
  let scope: ReturnType<typeof freshTenantScope>;
  let started: { mfaSatisfied: boolean; userId: string }[];

  beforeEach(async () => {
    clock = new FakeClock(T0);
    const db = await openAuthSqlite({ path: join(dir, `${randomBytes(6).toString("hex")}.db`) });
    scope = freshTenantScope();
    const users = createSqliteUserStore({ db });
    const tenants = createSqliteTenantStore({ db });
    const passwords = createSqlitePasswordStore({ db });
    await tenants.create({ id: scope.tenantId, name: "t", status: "active", settings: "{}", createTimeMs: T0, updateTimeMs: T0, revision: 1 });
    await users.upsert(scope, { id: "alice", displayName: "Alice", avatarUrl: "", custom: "", roles: [] }, T0);
    await users.upsert(scope, { id: "tenant-managed", displayName: "T", avatarUrl: "", custom: "", roles: [] }, T0);
    await passwords.create(scope, { tenantId: scope.tenantId, login: "email:alice@x.test", userId: "alice", hash: "scrypt$1$1$1$a$b", createTimeMs: T0 });
    started = [];
    const sessions = {
      start: async (s: { user: { id: string }; mfaSatisfied: boolean }) => {
        started.push({ userId: s.user.id, mfaSatisfied: s.mfaSatisfied });
        return { sessionId: "s", userId: s.user.id };
      },
    } as unknown as SessionManager;
    mfa = new TotpMfa({
      totp: createSqliteTotpStore({ db }),
      passwords,
      users,
      tenants,
      sessions,
      throttle: new AuthThrottle(createMemoryRateLimiter({ clock })),
      secretKek: randomBytes(32),
      challengeKey: randomBytes(32),
      recoveryPepper: randomBytes(32),
      clock,
      logger: createLogger({ service: "test", instance: "t", level: "silent" }),
    });
  });

  async function enrolled(): Promise<{ secret: Buffer; recovery: string[] }> {
    const { secret } = await mfa.enroll(scope, { id: "alice", displayName: "Alice" } as never);
    const bytes = base32Decode(secret);
    const recovery = await mfa.confirm(scope, "alice", hotp(bytes, totpStep(clock.nowMs())));
    return { secret: bytes, recovery };
  }

  it("enrolls password accounts only, confirms with a code and returns ten recovery codes once", async () => {
    await expect(mfa.enroll(scope, { id: "tenant-managed", displayName: "T" } as never)).rejects.toThrow(FailedPreconditionError);
    const { secret } = await mfa.enroll(scope, { id: "alice", displayName: "Alice" } as never);
    const bytes = base32Decode(secret);
    await expect(mfa.confirm(scope, "alice", hotp(bytes, totpStep(clock.nowMs()) + 5))).rejects.toThrow(InvalidArgumentError);
    expect(await mfa.isEnabled(scope, "alice")).toBe(false);
    const codes = await mfa.confirm(scope, "alice", hotp(bytes, totpStep(clock.nowMs())));
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(await mfa.isEnabled(scope, "alice")).toBe(true);
    await expect(mfa.enroll(scope, { id: "alice", displayName: "Alice" } as never)).rejects.toThrow(/already enabled/);
  });

  it("completes a sign-in with the next code; a replayed code, an older one and one out of the window are refused", async () => {
    const { secret } = await enrolled();
    const confirmStep = totpStep(clock.nowMs());
    // The confirmation code is spent: the same code again is a replay.
    const c1 = mfa.challenge(scope, "alice", "phone", "").challenge;
    await expect(mfa.verify(c1, { case: "totpCode", value: hotp(secret, confirmStep) })).rejects.toThrow(UnauthenticatedError);
    clock.advance(30_000);
    await mfa.verify(c1, { case: "totpCode", value: hotp(secret, confirmStep + 1) });
    expect(started).toEqual([{ userId: "alice", mfaSatisfied: true }]);
    // The step before is still in the window but older than a used one: refused.
    const c2 = mfa.challenge(scope, "alice", "phone", "").challenge;
    await expect(mfa.verify(c2, { case: "totpCode", value: hotp(secret, confirmStep) })).rejects.toThrow(UnauthenticatedError);
    clock.advance(90_000);
    await expect(mfa.verify(c2, { case: "totpCode", value: hotp(secret, totpStep(clock.nowMs()) - 2) })).rejects.toThrow(UnauthenticatedError);
    await expect(mfa.verify(c2, { case: "totpCode", value: hotp(secret, totpStep(clock.nowMs()) + 2) })).rejects.toThrow(UnauthenticatedError);
    // One step late is accepted (clock drift).
    await mfa.verify(c2, { case: "totpCode", value: hotp(secret, totpStep(clock.nowMs()) - 1) });
    expect(started).toHaveLength(2);
  });

  it("uses a challenge once, expires it after 5 minutes and voids it after 5 attempts", async () => {
    const { secret, recovery } = await enrolled();
    const c = mfa.challenge(scope, "alice", "phone", "").challenge;
    await mfa.verify(c, { case: "recoveryCode", value: recovery[0]! });
    clock.advance(30_000);
    await expect(mfa.verify(c, { case: "totpCode", value: hotp(secret, totpStep(clock.nowMs())) })).rejects.toThrow(/already used/);
    const late = mfa.challenge(scope, "alice", "phone", "").challenge;
    clock.advance(5 * 60_000);
    await expect(mfa.verify(late, { case: "totpCode", value: hotp(secret, totpStep(clock.nowMs())) })).rejects.toThrow(/expired/);
    const tampered = `${late.slice(0, 20)}${late[20] === "A" ? "B" : "A"}${late.slice(21)}`;
    await expect(mfa.verify(tampered, { case: "totpCode", value: "000000" })).rejects.toThrow(/not valid/);
    const guessed = mfa.challenge(scope, "alice", "phone", "").challenge;
    for (let i = 0; i < 5; i++) await expect(mfa.verify(guessed, { case: "totpCode", value: "000000" })).rejects.toThrow(UnauthenticatedError);
    await expect(mfa.verify(guessed, { case: "totpCode", value: hotp(secret, totpStep(clock.nowMs())) })).rejects.toThrow(ResourceExhaustedError);
  });

  it("takes each recovery code once, case-insensitively, and disables with one", async () => {
    const { recovery } = await enrolled();
    const c = () => mfa.challenge(scope, "alice", "d", "").challenge;
    await mfa.verify(c(), { case: "recoveryCode", value: recovery[1]!.toUpperCase() });
    await expect(mfa.verify(c(), { case: "recoveryCode", value: recovery[1]! })).rejects.toThrow(UnauthenticatedError);
    await expect(mfa.verify(c(), { case: "recoveryCode", value: "aaaaa-aaaaa" })).rejects.toThrow(UnauthenticatedError);
    await expect(mfa.disable(scope, "alice", { case: "recoveryCode", value: recovery[1]! })).rejects.toThrow(InvalidArgumentError);
    await mfa.disable(scope, "alice", { case: "recoveryCode", value: recovery[2]! });
    expect(await mfa.isEnabled(scope, "alice")).toBe(false);
    await expect(mfa.disable(scope, "alice", { case: "recoveryCode", value: recovery[3]! })).rejects.toThrow(FailedPreconditionError);
  });
});
