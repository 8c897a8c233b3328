import type { TenantScope } from "@caas/shared/tenant-scope";

/** The most conversations one `readable` call may name (ChatInternalService.CheckAccess's limit). */
export const MAX_ACCESS_BATCH = 100;

/**
 * Which conversations a user can read, asked of chat (the store of record for membership) on
 * every call, uncached: a removed member loses access to attached media at once.
 */
export interface ConversationAccess {
  /** The subset of `conversationIds` (1..MAX_ACCESS_BATCH, distinct) that `userId` can read any part of. */
  readable(scope: TenantScope, userId: string, conversationIds: readonly string[]): Promise<Set<string>>;
}
