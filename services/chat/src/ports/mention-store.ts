import type { TenantScope } from "@caas/shared/tenant-scope";

/** A message mentioning users: one record per (user, conversation, message seq). */
export interface MentionRecord {
  conversationId: string;
  /** The seq of the mentioning message. */
  seq: number;
  /** The mentioned users (current members other than the sender). */
  userIds: string[];
  timeMs: number;
}

/**
 * Per-user mention records (DESIGN "Unread": mention counts come from per-user mention records).
 * A user's mention count in a conversation is the number of records after their read position;
 * records at or behind it may be pruned.
 */
export interface MentionStore {
  /** Stores one record per mentioned user. Idempotent: recording the same message again changes nothing. */
  record(scope: TenantScope, mention: MentionRecord): Promise<void>;

  /**
   * The user's records with seq > `afterSeq`, counted per conversation (conversations without
   * any left out); at most 10 000 positions.
   */
  count(scope: TenantScope, userId: string, positions: { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>>;

  /** Deletes every user's records of these messages (at most 1000 seqs; they were deleted for everyone: they mention nobody). Idempotent. */
  forget(scope: TenantScope, conversationId: string, seqs: number[]): Promise<void>;

  /** Deletes the user's records with seq <= `uptoSeq` in one conversation (they are read). Idempotent. */
  prune(scope: TenantScope, userId: string, conversationId: string, uptoSeq: number): Promise<void>;

  close(): Promise<void>;
}
