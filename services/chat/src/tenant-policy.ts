import { Code, ConnectError } from "@connectrpc/connect";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AUTH_EVENTS } from "@caas/shared/eventing/topics";
import { createPeerClient } from "@caas/shared/clients";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import { DEFAULT_POLICY, withGrants, type AuthzPolicy, type RoleGrant, type TenantPolicyLookup } from "@caas/shared/identity/policy";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { Subscription } from "@caas/shared/eventing/bus";

/** Reads a tenant's role grants from auth (AuthInternalService.GetTenantPolicy); undefined for an unknown tenant. */
export type RoleGrantFetcher = (tenantId: string) => Promise<readonly RoleGrant[] | undefined>;

export interface TenantPolicyCacheOptions {
  fetch: RoleGrantFetcher;
  clock: Clock;
  /** A backstop for a missed TenantSettingsChanged event: entries older than this are read again. Default 60 s. */
  ttlMs?: number;
  logger?: Pick<Logger, "warn">;
}

/**
 * The tenants' ABAC policies (defaults plus role grants), cached per tenant and dropped on the
 * auth event TenantSettingsChanged (`invalidate`). Grants only add rights, so when auth cannot be
 * reached the defaults answer (nothing extra is granted) and nothing is cached. Per process.
 */
export class TenantPolicyCache {
  private readonly entries = new Map<string, { policy: AuthzPolicy; timeMs: number }>();
  private readonly ttlMs: number;

  constructor(private readonly opts: TenantPolicyCacheOptions) {
    this.ttlMs = opts.ttlMs ?? 60_000;
  }

  /** The lookup ChatServiceDeps.policyFor takes. */
  readonly lookup: TenantPolicyLookup = async (tenantId) => {
    const now = this.opts.clock.nowMs();
    const hit = this.entries.get(tenantId);
    if (hit && now - hit.timeMs < this.ttlMs) return hit.policy;
    let grants: readonly RoleGrant[] | undefined;
    try {
      grants = await this.opts.fetch(tenantId);
    } catch (err) {
      this.opts.logger?.warn({ err, tenantId }, "tenant role grants not readable; the default policy answers");
      return DEFAULT_POLICY;
    }
    const policy = grants && grants.length > 0 ? withGrants(DEFAULT_POLICY, grants) : DEFAULT_POLICY;
    this.entries.set(tenantId, { policy, timeMs: now });
    return policy;
  };

  /** Drops a tenant's entry (TenantSettingsChanged): the next lookup reads auth again. */
  invalidate(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}

/** The tenant policies of a running chat instance: the cache, fed by auth, and its event watch. */
export interface TenantPolicies {
  lookup: TenantPolicyLookup;
  /** Starts dropping entries on TenantSettingsChanged (one consumer group per instance: every instance hears every event). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wires the cache to auth (GetTenantPolicy with a service token, so only with a service-secret
 * root; without one every tenant gets the defaults) and to the auth events topic.
 */
export function openTenantPolicies(ctx: ServiceContext): TenantPolicies {
  const { config, logger, clock, bus, peers, serviceSecret } = ctx;
  if (!serviceSecret) {
    logger.warn("no service secret: per-tenant role grants are not read; every tenant gets the default ABAC policy");
    return { lookup: () => DEFAULT_POLICY, start: async () => {}, stop: async () => {} };
  }
  const tokens = createPeerServiceTokenSource({ service: "chat", root: serviceSecret, peers, clock });
  const auth = createPeerClient(AuthInternalService, "auth", peers, { defaultTimeoutMs: 5_000 });
  const cache = new TenantPolicyCache({
    clock,
    logger,
    fetch: async (tenantId) => {
      try {
        return (await auth.getTenantPolicy({ tenantId }, { headers: { authorization: `Bearer ${await tokens.token("auth")}` } })).roleGrants;
      } catch (err) {
        if (ConnectError.from(err).code === Code.NotFound) return undefined;
        throw err;
      }
    },
  });
  let sub: Subscription | undefined;
  return {
    lookup: cache.lookup,
    start: async () => {
      sub = await bus.subscribe(AUTH_EVENTS, { group: `chat-policies.${config.instanceId}`, from: "latest" }, async (record) => {
        if (record.value.payload.case === "tenantSettingsChanged") cache.invalidate(record.value.tenantId);
      });
    },
    stop: async () => {
      await sub?.close();
      sub = undefined;
    },
  };
}
