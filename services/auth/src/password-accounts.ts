import type { SignInRequest, SignUpRequest } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import type { SessionTokens } from "@caas/gen/caas/auth/v1/token_pb.js";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { settingsFromJson } from "./domain/mapping.js";
import { hashPassword, verifyPassword } from "./domain/passwords.js";
import type { PasswordStore } from "./ports/password-store.js";
import type { TenantRecord, TenantStore } from "./ports/tenant-store.js";
import type { UserRecord, UserStore } from "./ports/user-store.js";
import type { SessionManager } from "./sessions.js";
import type { AuthThrottle } from "./throttle.js";
import type { TotpMfa } from "./totp-mfa.js";
import type { AuthEventPublisher } from "./auth-events.js";

/** What password accounts are built from. */
export interface PasswordAccountsDeps {
  passwords: PasswordStore;
  users: UserStore;
  tenants: TenantStore;
  sessions: SessionManager;
  throttle: AuthThrottle;
  mfa: TotpMfa;
  clock: Clock;
  logger: Logger;
  /** Publishes SignInAttempted (audited security actions). */
  events?: Pick<AuthEventPublisher, "signInAttempted">;
}

/** The normalized login of a request: `email:` or `username:` and the lower-cased value. */
export function loginOf(login: SignUpRequest["login"] | SignInRequest["login"]): string {
  if (login.case === "email") return `email:${login.value.toLowerCase()}`;
  if (login.case === "username") return `username:${login.value.toLowerCase()}`;
  throw new UnauthenticatedError("a login is required");
}

/** What a sign-in that passed its password gets: tokens, or a second-factor challenge. */
export type SignInOutcome = { tokens: SessionTokens } | { mfaChallenge: string; expireTimeMs: number; enrollmentRequired: boolean };

/**
 * Built-in password accounts for tenants with password_auth_enabled (AuthService SignUp and
 * SignIn). Passwords are kept as scrypt hashes (domain/passwords.ts). A wrong login and a wrong
 * password get the same answer after the same work (an unknown login is checked against a dummy
 * hash). Sign-in attempts are throttled per tenant and login, sign-ups per tenant.
 */
export class PasswordAccounts {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: PasswordAccountsDeps) {}

  /**
   * Creates the user (server-assigned UUIDv7 id) and its login, and starts a session; in a tenant
   * that requires MFA it answers an enrollment challenge instead of a session.
   */
  async signUp(req: SignUpRequest): Promise<{ user: UserRecord; tokens?: SessionTokens; enrollment?: { mfaChallenge: string; expireTimeMs: number } }> {
    const scope = scopeForAdmin(req.tenantId);
    const tenant = await this.passwordTenant(scope);
    await this.deps.throttle.signUp(scope);
    const login = loginOf(req.login);
    if (await this.deps.passwords.getByLogin(scope, login)) throw new AlreadyExistsError("the login is taken");
    const hash = await hashPassword(req.password);
    const now = this.deps.clock.nowMs();
    const { user } = await this.deps.users.upsert(scope, { id: newId(), displayName: req.displayName, avatarUrl: "", custom: "", roles: [] }, now);
    if (!(await this.deps.passwords.create(scope, { tenantId: scope.tenantId, login, userId: user.id, hash, createTimeMs: now }))) {
      // Another sign-up took the login meanwhile: this user never existed.
      await this.deps.users.delete(scope, user.id);
      throw new AlreadyExistsError("the login is taken");
    }
    this.deps.logger.info({ tenantId: scope.tenantId, userId: user.id }, "password account created");
    if (settingsFromJson(tenant.settings).mfaRequired) {
      const { challenge, expireTimeMs } = this.deps.mfa.challenge(scope, user.id, req.deviceId, req.deviceName, "enroll");
      return { user, enrollment: { mfaChallenge: challenge, expireTimeMs } };
    }
    const tokens = await this.deps.sessions.start({ scope, user, deviceId: req.deviceId, deviceName: req.deviceName, scopes: [], mfaSatisfied: false });
    return { user, tokens };
  }

  /** Checks the password and starts a session, or answers a challenge when TOTP is enabled. */
  async signIn(req: SignInRequest): Promise<SignInOutcome> {
    const scope = scopeForAdmin(req.tenantId);
    const tenant = await this.passwordTenant(scope);
    const login = loginOf(req.login);
    await this.deps.throttle.signIn(scope, login);
    const refused = () => new UnauthenticatedError("the login or the password is wrong");
    const attempt = (a: Parameters<NonNullable<PasswordAccountsDeps["events"]>["signInAttempted"]>[1]) => this.deps.events?.signInAttempted(scope.tenantId, a);
    const record = await this.deps.passwords.getByLogin(scope, login);
    if (!record) {
      await verifyPassword(req.password, await this.dummy());
      await attempt({ succeeded: false, failure: "unknown_login" });
      throw refused();
    }
    if (!(await verifyPassword(req.password, record.hash))) {
      await attempt({ userId: record.userId, succeeded: false, failure: "wrong_password" });
      throw refused();
    }
    const user = await this.deps.users.get(scope, record.userId);
    if (!user || user.status !== "active") {
      await attempt({ userId: record.userId, succeeded: false, failure: "inactive_user" });
      throw refused();
    }
    if (await this.deps.mfa.isEnabled(scope, user.id)) {
      const { challenge, expireTimeMs } = this.deps.mfa.challenge(scope, user.id, req.deviceId, req.deviceName);
      await attempt({ userId: user.id, succeeded: true, mfaPending: true });
      return { mfaChallenge: challenge, expireTimeMs, enrollmentRequired: false };
    }
    if (settingsFromJson(tenant.settings).mfaRequired) {
      // No tokens until TOTP is enrolled: the challenge only allows EnrollTotp and ConfirmTotp.
      const { challenge, expireTimeMs } = this.deps.mfa.challenge(scope, user.id, req.deviceId, req.deviceName, "enroll");
      await attempt({ userId: user.id, succeeded: true, mfaPending: true });
      return { mfaChallenge: challenge, expireTimeMs, enrollmentRequired: true };
    }
    const tokens = await this.deps.sessions.start({ scope, user, deviceId: req.deviceId, deviceName: req.deviceName, scopes: [], mfaSatisfied: false });
    await attempt({ userId: user.id, succeeded: true, sessionId: tokens.sessionId });
    return { tokens };
  }

  /** The tenant, if it exists, is active and allows password accounts. */
  private async passwordTenant(scope: TenantScope): Promise<TenantRecord> {
    const tenant = await this.deps.tenants.get(scope);
    if (!tenant) throw new NotFoundError("tenant");
    if (tenant.status !== "active") throw new PermissionDeniedError("the tenant is suspended");
    if (!settingsFromJson(tenant.settings).passwordAuthEnabled) throw new FailedPreconditionError("the tenant does not allow password accounts");
    return tenant;
  }

  private dummy(): Promise<string> {
    return (this.dummyHash ??= hashPassword(newId()));
  }
}
