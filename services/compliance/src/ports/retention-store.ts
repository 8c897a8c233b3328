import type { TenantScope } from "@caas/shared/tenant-scope";

/** A tenant's (conversationId "") or one conversation's maximum ages; 0 sets no limit for that kind (for exports: the platform default). */
export interface RetentionPolicyRecord {
  tenantId: string;
  conversationId: string;
  messageMaxAgeMs: number;
  mediaMaxAgeMs: number;
  /** Tenant policies only: how long an export archive is kept after its job succeeded. */
  exportMaxAgeMs: number;
  updateTimeMs: number;
}

export type LegalHoldKind = "user" | "conversation" | "tenant";

/** A legal hold; active while releaseTimeMs is 0. */
export interface LegalHoldRecord {
  tenantId: string;
  id: string;
  kind: LegalHoldKind;
  /** The user or conversation held; "" for a tenant hold. */
  targetId: string;
  reason: string;
  createTimeMs: number;
  releaseTimeMs: number;
}

/** The most holds or policies one tenant lists at once. */
export const MAX_TENANT_ROWS = 1000;

/**
 * Retention policies and legal holds. Every method but `tenantsWithPolicies` is scoped to one
 * tenant. At most one active hold per (tenant, kind, target): placing a second returns the first.
 */
export interface RetentionStore {
  /** Creates or replaces the policy of the tenant or of one conversation. */
  putPolicy(scope: TenantScope, policy: RetentionPolicyRecord): Promise<void>;
  getPolicy(scope: TenantScope, conversationId: string): Promise<RetentionPolicyRecord | undefined>;
  /** Removes a policy; false when there was none. */
  deletePolicy(scope: TenantScope, conversationId: string): Promise<boolean>;
  /** The tenant's policies (its own first, then by conversation id), at most MAX_TENANT_ROWS. */
  policies(scope: TenantScope): Promise<RetentionPolicyRecord[]>;
  /** Tenants with at least one policy, by id (the sweeper's list), at most `limit` after `after`. */
  tenantsWithPolicies(query: { after: string; limit: number }): Promise<string[]>;
  /** Stores a new active hold, or returns the active hold on the same target (`created` false). */
  placeHold(scope: TenantScope, hold: LegalHoldRecord): Promise<{ hold: LegalHoldRecord; created: boolean }>;
  /** Marks an active hold released (`changed` false when it already was: the first release time stays); undefined for an unknown id. */
  releaseHold(scope: TenantScope, id: string, releaseTimeMs: number): Promise<{ hold: LegalHoldRecord; changed: boolean } | undefined>;
  /** The tenant's holds, newest first, active ones only unless asked; at most MAX_TENANT_ROWS. */
  holds(scope: TenantScope, query: { includeReleased: boolean }): Promise<LegalHoldRecord[]>;
  close(): Promise<void>;
}
