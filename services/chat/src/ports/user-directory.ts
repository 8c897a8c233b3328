import type { TenantScope } from "@caas/shared/tenant-scope";

/**
 * The tenant's users as chat needs them: whether ids named as conversation members are users of
 * the tenant who may take part (the auth service holds the users; chat keeps no copy).
 */
export interface UserDirectory {
  /**
   * The ids among `userIds` (1..n, unique) that are not active users of the scope's tenant
   * (unknown or deactivated), in request order; empty when all are. Uncached: a user created or
   * reactivated a moment ago counts at once. When the tenant's settings say users are created on
   * first use, unknown ids are created by this call and are not missing.
   * Errors: UnavailableError when the directory cannot be reached (the caller then changes nothing).
   */
  missing(scope: TenantScope, userIds: readonly string[]): Promise<string[]>;
}
