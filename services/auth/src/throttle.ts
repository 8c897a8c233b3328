import { openRateLimiter, type OpenedRateLimiter } from "@caas/shared/rate-limiting/select";
import { ResourceExhaustedError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { RateLimiter, RateRule } from "@caas/shared/rate-limiting";
import type { TenantScope } from "@caas/shared/tenant-scope";

/** The limits on minting sessions. */
export interface AuthRateRules {
  /** IssueUserToken per tenant and user. */
  issueUserTokenPerUser: RateRule;
  /** IssueUserToken per tenant, all users together. */
  issueUserTokenPerTenant: RateRule;
  /** SignIn attempts per tenant and login (password guessing). */
  signInPerLogin: RateRule;
  /** SignUp per tenant. */
  signUpPerTenant: RateRule;
  /** Second-factor code attempts (VerifyMfa, ConfirmTotp, DisableTotp) per tenant and user. */
  totpPerUser: RateRule;
  /** Attempts on one MFA challenge. */
  attemptsPerChallenge: RateRule;
}

/**
 * Defaults: a burst of 20 sessions per user, then one every 3 s; 600 a minute per tenant; 10
 * sign-in attempts per login, then one every 30 s; 60 sign-ups a minute per tenant; 10 code
 * attempts per user, then one every 30 s; 5 attempts per MFA challenge (its lifetime).
 */
export const DEFAULT_AUTH_RATE_RULES: AuthRateRules = {
  issueUserTokenPerUser: { limit: 20, windowMs: 60_000 },
  issueUserTokenPerTenant: { limit: 600, windowMs: 60_000 },
  signInPerLogin: { limit: 10, windowMs: 300_000 },
  signUpPerTenant: { limit: 60, windowMs: 60_000 },
  totpPerUser: { limit: 10, windowMs: 300_000 },
  attemptsPerChallenge: { limit: 5, windowMs: 300_000 },
};

/**
 * Throttles the auth RPCs that mint credentials: a refused call is RESOURCE_EXHAUSTED with the
 * retry delay (google.rpc.RetryInfo). The per-user bucket is taken first, so one noisy user
 * cannot drain the tenant's bucket with refused calls.
 */
export class AuthThrottle {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly rules: AuthRateRules = DEFAULT_AUTH_RATE_RULES,
  ) {}

  /** Before IssueUserToken for `userId`. */
  async issueUserToken(scope: TenantScope, userId: string): Promise<void> {
    const user = await this.limiter.take(scope, `issue-user-token:user:${userId}`, this.rules.issueUserTokenPerUser);
    if (!user.allowed) throw new ResourceExhaustedError("too many tokens issued for this user; retry later", user.retryAfterMs);
    const tenant = await this.limiter.take(scope, "issue-user-token:tenant", this.rules.issueUserTokenPerTenant);
    if (!tenant.allowed) throw new ResourceExhaustedError("too many tokens issued for this tenant; retry later", tenant.retryAfterMs);
  }

  /** Before a SignIn attempt for `login` (counted whether it succeeds or not). */
  async signIn(scope: TenantScope, login: string): Promise<void> {
    const d = await this.limiter.take(scope, `sign-in:login:${login}`, this.rules.signInPerLogin);
    if (!d.allowed) throw new ResourceExhaustedError("too many sign-in attempts for this login; retry later", d.retryAfterMs);
  }

  /** Before a second-factor code of `userId` is checked. */
  async totp(scope: TenantScope, userId: string): Promise<void> {
    const d = await this.limiter.take(scope, `totp:user:${userId}`, this.rules.totpPerUser);
    if (!d.allowed) throw new ResourceExhaustedError("too many second-factor attempts; retry later", d.retryAfterMs);
  }

  /** Before a code is checked against MFA challenge `nonce`: the sixth attempt is refused. */
  async challenge(scope: TenantScope, nonce: string): Promise<void> {
    const d = await this.limiter.take(scope, `mfa-challenge:${nonce}`, this.rules.attemptsPerChallenge);
    if (!d.allowed) throw new ResourceExhaustedError("too many wrong codes for this sign-in; sign in again", d.retryAfterMs);
  }

  /** Before a SignUp. */
  async signUp(scope: TenantScope): Promise<void> {
    const d = await this.limiter.take(scope, "sign-up:tenant", this.rules.signUpPerTenant);
    if (!d.allowed) throw new ResourceExhaustedError("too many sign-ups for this tenant; retry later", d.retryAfterMs);
  }
}

/**
 * The auth service's rate limiter, chosen by the shared `openRateLimiter` from the run mode:
 * memory embedded, Redis (CAAS_REDIS_URL) in cluster mode, so every auth instance counts against
 * the same buckets.
 */
export function openAuthRateLimiter(config: Config, logger: Logger, clock: Clock): Promise<OpenedRateLimiter> {
  return openRateLimiter(config, logger, clock, { service: "auth", prefix: "caas:auth:rl:" });
}
