import { randomBytes } from "node:crypto";
import type { SessionTokens } from "@caas/gen/caas/auth/v1/token_pb.js";
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { settingsFromJson } from "./domain/mapping.js";
import { hashCredential, sameHash } from "./domain/secrets.js";
import { matchTotp, newRecoveryCodes, newTotpSecret, otpauthUri, base32Encode, totpStep } from "./domain/totp.js";
import { openPrivateKey, sealPrivateKey } from "./keys/keyring.js";
import type { PasswordStore } from "./ports/password-store.js";
import type { TenantStore } from "./ports/tenant-store.js";
import type { TotpRecord, TotpStore } from "./ports/totp-store.js";
import type { UserRecord, UserStore } from "./ports/user-store.js";
import type { SessionManager } from "./sessions.js";
import type { AuthThrottle } from "./throttle.js";
import type { AuthEventPublisher } from "./auth-events.js";

/** An MFA challenge is valid this long. */
export const MFA_CHALLENGE_TTL_MS = 5 * 60_000;
/** Starts every MFA challenge. */
const CHALLENGE_PREFIX = "caas_m_";
/** The issuer shown by authenticator apps. */
const ISSUER = "CAAS";

/** A second-factor code as presented. */
export type SecondFactor = { case: "totpCode"; value: string } | { case: "recoveryCode"; value: string };

/** What TOTP MFA is built from. */
export interface TotpMfaDeps {
  totp: TotpStore;
  passwords: PasswordStore;
  users: UserStore;
  tenants: TenantStore;
  sessions: SessionManager;
  throttle: AuthThrottle;
  /** Keyring.totpKek, Keyring.mfaChallengeKey, Keyring.recoveryCodePepper. */
  secretKek: Buffer;
  challengeKey: Buffer;
  recoveryPepper: Buffer;
  clock: Clock;
  logger: Logger;
  /** Publishes TotpEnabled / TotpDisabled (audited security actions). */
  events?: Pick<AuthEventPublisher, "totpEnabled" | "totpDisabled">;
}

/** What a challenge allows: completing a sign-in (VerifyMfa) or only enrolling TOTP first. */
export type ChallengeKind = "sign-in" | "enroll";

interface ChallengeBody {
  t: string;
  u: string;
  d: string;
  n: string;
  e: number;
  i: string;
  /** "enroll" for enrollment challenges; absent for sign-in challenges. */
  k?: "enroll";
}

/**
 * TOTP second factor of password accounts (RFC 6238, one-step window): enrollment, confirmation
 * with recovery codes, disabling, and the sign-in challenge. A code works once: each accepted
 * step is claimed in the store, together with the steps before it, so neither a replayed code
 * nor an older one in the window passes again; recovery codes are stored as keyed hashes and
 * claimed on use. Every code attempt is throttled per user, and a challenge allows 5 attempts.
 */
export class TotpMfa {
  constructor(private readonly deps: TotpMfaDeps) {}

  /** Whether `userId` must pass a second factor to sign in. */
  async isEnabled(scope: TenantScope, userId: string): Promise<boolean> {
    return (await this.deps.totp.get(scope, userId))?.enabled === true;
  }

  /** Starts (or restarts) enrollment: a fresh secret, as an otpauth URI and base32. */
  async enroll(scope: TenantScope, user: UserRecord): Promise<{ otpauthUri: string; secret: string }> {
    if (!(await this.deps.passwords.hasLogin(scope, user.id))) throw new FailedPreconditionError("TOTP is for password accounts; this user signs in through the tenant");
    const secret = newTotpSecret();
    if (!(await this.deps.totp.startEnrollment(scope, user.id, this.seal(scope, user.id, secret), this.deps.clock.nowMs()))) {
      throw new FailedPreconditionError("TOTP is already enabled");
    }
    return { otpauthUri: otpauthUri(ISSUER, user.displayName || user.id, secret), secret: base32Encode(secret) };
  }

  /** Enables a pending enrollment with its first code; returns the ten recovery codes. */
  async confirm(scope: TenantScope, userId: string, code: string): Promise<string[]> {
    const record = await this.deps.totp.get(scope, userId);
    if (!record || record.enabled) throw new FailedPreconditionError(record ? "TOTP is already enabled" : "no TOTP enrollment is pending");
    await this.deps.throttle.totp(scope, userId);
    if (!(await this.check(scope, record, { case: "totpCode", value: code }))) throw new InvalidArgumentError("the code is wrong", [{ field: "totp_code", description: "not the current code" }]);
    const codes = newRecoveryCodes();
    if (
      !(await this.deps.totp.enable(
        scope,
        userId,
        codes.map((c) => this.recoveryHash(c)),
      ))
    )
      throw new FailedPreconditionError("no TOTP enrollment is pending");
    this.deps.logger.info({ tenantId: scope.tenantId, userId }, "TOTP enabled");
    await this.deps.events?.totpEnabled(scope.tenantId, userId);
    return codes;
  }

  /** Disables TOTP after a current code or a recovery code. */
  async disable(scope: TenantScope, userId: string, code: SecondFactor): Promise<void> {
    const record = await this.deps.totp.get(scope, userId);
    if (!record?.enabled) throw new FailedPreconditionError("TOTP is not enabled");
    const tenant = await this.deps.tenants.get(scope);
    if (tenant && settingsFromJson(tenant.settings).mfaRequired) throw new FailedPreconditionError("the tenant requires a second factor");
    await this.deps.throttle.totp(scope, userId);
    if (!(await this.check(scope, record, code))) throw new InvalidArgumentError("the code is wrong", [{ field: code.case === "totpCode" ? "totp_code" : "recovery_code", description: "not valid" }]);
    await this.deps.totp.remove(scope, userId);
    this.deps.logger.info({ tenantId: scope.tenantId, userId }, "TOTP disabled");
    await this.deps.events?.totpDisabled(scope.tenantId, userId);
  }

  /**
   * A sealed, expiring challenge for a sign-in that passed its password: a "sign-in" challenge is
   * completed by VerifyMfa; an "enroll" one (MFA-required tenant, no TOTP yet) only lets EnrollTotp
   * and ConfirmTotp act on the account, and ConfirmTotp then completes the sign-in.
   */
  challenge(scope: TenantScope, userId: string, deviceId: string, deviceName: string, kind: ChallengeKind = "sign-in"): { challenge: string; expireTimeMs: number } {
    const expireTimeMs = this.deps.clock.nowMs() + MFA_CHALLENGE_TTL_MS;
    const body: ChallengeBody = { t: scope.tenantId, u: userId, d: deviceId, n: deviceName, e: expireTimeMs, i: randomBytes(16).toString("base64url") };
    if (kind === "enroll") body.k = "enroll";
    const sealed = sealPrivateKey(this.deps.challengeKey, "mfa-challenge", Buffer.from(JSON.stringify(body)));
    return { challenge: `${CHALLENGE_PREFIX}${Buffer.from(sealed).toString("base64url")}`, expireTimeMs };
  }

  /**
   * Completes a sign-in: UNAUTHENTICATED for a forged, expired or used challenge and a wrong code;
   * RESOURCE_EXHAUSTED after 5 attempts on one challenge. The new session has mfa_satisfied.
   */
  async verify(challenge: string, code: SecondFactor): Promise<SessionTokens> {
    const body = this.openChallenge(challenge);
    // An enrollment challenge completes a sign-in only through ConfirmTotp.
    if (body.k === "enroll") throw new UnauthenticatedError("this challenge is for TOTP enrollment: call EnrollTotp and ConfirmTotp with it");
    const scope = scopeForAdmin(body.t);
    await this.deps.throttle.challenge(scope, body.i);
    await this.deps.throttle.totp(scope, body.u);
    const record = await this.deps.totp.get(scope, body.u);
    if (!record?.enabled || !(await this.check(scope, record, code))) throw new UnauthenticatedError("the code is wrong");
    if (!(await this.deps.totp.claim(scope, body.u, `challenge:${body.i}`, this.deps.clock.nowMs()))) throw new UnauthenticatedError("the challenge was already used");
    const tenant = await this.deps.tenants.get(scope);
    if (!tenant) throw new UnauthenticatedError("the challenge is not valid");
    if (tenant.status !== "active") throw new PermissionDeniedError("the tenant is suspended");
    const user = await this.deps.users.get(scope, body.u);
    if (!user || user.status !== "active") throw new UnauthenticatedError("the login or the password is wrong");
    return this.deps.sessions.start({ scope, user, deviceId: body.d, deviceName: body.n, scopes: [], mfaSatisfied: true });
  }

  /** EnrollTotp with an enrollment challenge instead of an access token. */
  async enrollWithChallenge(challenge: string): Promise<{ otpauthUri: string; secret: string }> {
    const { scope, user } = await this.enrollmentAccount(challenge);
    return this.enroll(scope, user);
  }

  /**
   * ConfirmTotp with an enrollment challenge: enables TOTP, uses up the challenge and starts the
   * session the sign-in asked for (mfa_satisfied: the code just checked is the second factor).
   */
  async confirmWithChallenge(challenge: string, code: string): Promise<{ recoveryCodes: string[]; tokens: SessionTokens }> {
    const { scope, user, body } = await this.enrollmentAccount(challenge);
    const recoveryCodes = await this.confirm(scope, user.id, code);
    if (!(await this.deps.totp.claim(scope, user.id, `challenge:${body.i}`, this.deps.clock.nowMs()))) throw new UnauthenticatedError("the challenge was already used");
    const tokens = await this.deps.sessions.start({ scope, user, deviceId: body.d, deviceName: body.n, scopes: [], mfaSatisfied: true });
    this.deps.logger.info({ tenantId: scope.tenantId, userId: user.id }, "TOTP enrolled at sign-in");
    return { recoveryCodes, tokens };
  }

  /** The account an enrollment challenge acts for, after its attempt is counted. */
  private async enrollmentAccount(challenge: string): Promise<{ scope: TenantScope; user: UserRecord; body: ChallengeBody }> {
    const body = this.openChallenge(challenge);
    if (body.k !== "enroll") throw new UnauthenticatedError("the MFA challenge is not an enrollment challenge; complete the sign-in with VerifyMfa");
    const scope = scopeForAdmin(body.t);
    await this.deps.throttle.challenge(scope, body.i);
    const tenant = await this.deps.tenants.get(scope);
    if (!tenant) throw new UnauthenticatedError("the MFA challenge is not valid");
    if (tenant.status !== "active") throw new PermissionDeniedError("the tenant is suspended");
    const user = await this.deps.users.get(scope, body.u);
    if (!user || user.status !== "active") throw new UnauthenticatedError("the login or the password is wrong");
    return { scope, user, body };
  }

  private openChallenge(challenge: string): ChallengeBody {
    const refused = new UnauthenticatedError("the MFA challenge is not valid");
    if (!challenge.startsWith(CHALLENGE_PREFIX)) throw refused;
    let body: ChallengeBody;
    try {
      body = JSON.parse(openPrivateKey(this.deps.challengeKey, "mfa-challenge", Buffer.from(challenge.slice(CHALLENGE_PREFIX.length), "base64url")).toString("utf8")) as ChallengeBody;
    } catch {
      throw refused;
    }
    if (body.e <= this.deps.clock.nowMs()) throw new UnauthenticatedError("the MFA challenge has expired; sign in again");
    return body;
  }

  /** Checks a code and claims its use; false for a wrong, replayed or used code. */
  private async check(scope: TenantScope, record: TotpRecord, code: SecondFactor): Promise<boolean> {
    const now = this.deps.clock.nowMs();
    if (code.case === "recoveryCode") {
      const hash = this.recoveryHash(code.value);
      if (!record.recoveryHashes.some((h) => sameHash(h, hash))) return false;
      return this.deps.totp.claim(scope, record.userId, `recovery:${hash}`, now);
    }
    const secret = openPrivateKey(this.deps.secretKek, this.aad(scope, record.userId), Buffer.from(record.sealedSecret, "base64"));
    const step = matchTotp(secret, code.value, now);
    if (step === undefined) return false;
    if (!(await this.deps.totp.claim(scope, record.userId, `step:${step}`, now))) return false;
    // The earlier steps still inside the window are spent too: an older code never passes after a newer one.
    for (let s = step - 1; s >= totpStep(now) - 1; s--) await this.deps.totp.claim(scope, record.userId, `step:${s}`, now);
    return true;
  }

  private recoveryHash(code: string): string {
    return hashCredential(this.deps.recoveryPepper, code.toLowerCase());
  }

  private aad(scope: TenantScope, userId: string): string {
    return `totp:${scope.tenantId}:${userId}`;
  }

  private seal(scope: TenantScope, userId: string, secret: Buffer): string {
    return Buffer.from(sealPrivateKey(this.deps.secretKek, this.aad(scope, userId), secret)).toString("base64");
  }
}
