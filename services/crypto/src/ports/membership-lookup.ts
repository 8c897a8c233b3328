import type { TenantScope } from "@caas/shared/tenant-scope";

/** The conversations a user is a member of, as chat knows them (for fanning out device-list changes). */
export interface MembershipLookup {
  /** Ids of the user's current conversations (deleted ones excluded), in any order. */
  conversationsOf(scope: TenantScope, userId: string): Promise<string[]>;
}
