import { ResourceExhaustedError } from "@caas/shared/errors";
import { scopeFromVerifiedClaims } from "@caas/shared/tenant-scope";
import { tenantRule, type RateLimitAction, type RateLimitConfig } from "@caas/shared/rate-limiting/rules";
import type { Principal } from "@caas/shared/context";
import type { RateLimiter } from "@caas/shared/rate-limiting";

/**
 * The gateway's per-user and per-tenant limits (DESIGN "Rate limits per user and per tenant per
 * action"). Each call of a signed-in user takes one token from the user's bucket of the action,
 * then one from the tenant's bucket (the user rule times `tenantFactor`); the user bucket comes
 * first so a user refused by their own limit does not drain the tenant's. A refusal is
 * RESOURCE_EXHAUSTED with the retry delay as google.rpc.RetryInfo.
 *
 * Only `user` principals are counted here: API keys and the platform-admin credential are not
 * resolved at the edge (auth verifies them and throttles the credential-minting RPCs itself, as
 * it does sign-in and sign-up), and service tokens are the mesh's own calls. Nor are calls whose
 * owner counts their action itself (`actionOf` answers undefined: sends, counted by chat).
 */
export class EdgeRateLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: RateLimitConfig,
  ) {}

  /** Takes the tokens of one call, or throws ResourceExhaustedError; no action: not counted here. */
  async check(principal: Principal, action: RateLimitAction | undefined): Promise<void> {
    if (principal.kind !== "user" || action === undefined) return;
    const scope = scopeFromVerifiedClaims({ tenant: principal.tenantId });
    const rule = this.config.perUser[action];
    const user = await this.limiter.take(scope, `${action}:user:${principal.userId}`, rule);
    if (!user.allowed) throw new ResourceExhaustedError(`rate limit for ${action} reached for this user; retry later`, user.retryAfterMs);
    const tenant = await this.limiter.take(scope, `${action}:tenant`, tenantRule(rule, this.config.tenantFactor));
    if (!tenant.allowed) throw new ResourceExhaustedError(`rate limit for ${action} reached for this tenant; retry later`, tenant.retryAfterMs);
  }
}
