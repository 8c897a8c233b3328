import type { TenantScope } from "@caas/shared/tenant-scope";

/** A conversation a user may read, and up to which seq (chat's reading rules). */
export interface ReadableConversation {
  conversationId: string;
  /** The conversation's title ("" for DIRECT conversations; "" when asked by id only). */
  title: string;
  /** The highest seq the user may read; 0 means no bound (a current member). */
  maxSeq: number;
}

/**
 * What a user may read, asked of chat (the authority on membership) on every call: the caller
 * caches the answers and drops them on the membership events that change them.
 */
export interface ConversationAccess {
  /** Every conversation the user is or was a member of and may still read, in no particular order. */
  listReadable(scope: TenantScope, userId: string): Promise<ReadableConversation[]>;
  /**
   * The readable ones among `conversationIds` (1..100 distinct ids; OPEN conversations the user
   * never joined included, as chat lets anyone read them). Unknown ids are simply absent.
   */
  check(scope: TenantScope, userId: string, conversationIds: readonly string[]): Promise<ReadableConversation[]>;
}
