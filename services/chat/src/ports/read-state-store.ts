import type { TenantScope } from "@caas/shared/tenant-scope";

/**
 * A user's read and delivery positions in one conversation. Per-user state, not an event of the
 * log: both markers only move forward, each on its own.
 */
export interface ReadStateRecord {
  conversationId: string;
  userId: string;
  /** Every event with seq <= lastReadSeq counts as read. */
  lastReadSeq: number;
  /** The conversation's countable-message counter at lastReadSeq: unread = counter now - this. */
  lastReadCountable: number;
  /** Every event with seq <= lastDeliveredSeq reached a device of the user (as reported by it). */
  lastDeliveredSeq: number;
  /** When a marker last moved. */
  updateTimeMs: number;
}

/** A move of one marker. */
export interface MarkerMove {
  conversationId: string;
  userId: string;
  seq: number;
  timeMs: number;
}

/** Read and delivery positions: they only ever move forward. */
export interface ReadStateStore {
  /**
   * Moves the user's read position forward to `seq` (with the countable counter at that seq).
   * Creates the row when missing; a seq at or behind the stored one changes nothing. Returns the
   * resulting state. Safe under concurrent calls: the highest seq wins.
   */
  advance(scope: TenantScope, position: MarkerMove & { countableSeq: number }): Promise<ReadStateRecord>;

  /**
   * `advance` without reading back the resulting state, for callers that need nothing back (a
   * sender's own position moving to the message it sent): the same rules, fewer round trips.
   */
  moveRead(scope: TenantScope, position: MarkerMove & { countableSeq: number }): Promise<void>;

  /**
   * Moves the user's delivery position forward to `seq`, with the same rules as `advance`; the
   * read position is left alone (and the other way round).
   */
  advanceDelivered(scope: TenantScope, position: MarkerMove): Promise<ReadStateRecord>;

  get(scope: TenantScope, conversationId: string, userId: string): Promise<ReadStateRecord | undefined>;

  /** The user's rows for these conversations (missing ones left out); at most 10 000 ids. */
  ofUser(scope: TenantScope, userId: string, conversationIds: string[]): Promise<ReadStateRecord[]>;

  /**
   * Every user's row in one conversation, by user id ascending, starting after `afterUserId`;
   * with `changedAfterMs`, only rows whose updateTimeMs is greater. At most `limit` (1..1000).
   */
  ofConversation(scope: TenantScope, conversationId: string, query: { afterUserId?: string; changedAfterMs?: number; limit: number }): Promise<ReadStateRecord[]>;

  /** Drops the user's read and delivery positions in the given conversations (erasure); returns how many conversations had any. */
  forget(scope: TenantScope, userId: string, conversationIds: string[]): Promise<number>;
  close(): Promise<void>;
}
