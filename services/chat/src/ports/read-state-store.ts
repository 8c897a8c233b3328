import type { TenantScope } from "@caas/shared";

/** A user's read position in one conversation. Per-user state, not an event of the log. */
export interface ReadStateRecord {
  conversationId: string;
  userId: string;
  /** Every event with seq <= lastReadSeq counts as read. */
  lastReadSeq: number;
  /** The conversation's countable-message counter at lastReadSeq: unread = counter now - this. */
  lastReadCountable: number;
  updateTimeMs: number;
}

/** Read positions: they only ever move forward. */
export interface ReadStateStore {
  /**
   * Moves the user's position forward to `seq` (with the countable counter at that seq).
   * Creates the row when missing; a seq at or behind the stored one changes nothing. Returns the
   * resulting state. Safe under concurrent calls: the highest seq wins.
   */
  advance(
    scope: TenantScope,
    position: { conversationId: string; userId: string; seq: number; countableSeq: number; timeMs: number },
  ): Promise<ReadStateRecord>;

  get(scope: TenantScope, conversationId: string, userId: string): Promise<ReadStateRecord | undefined>;

  /** The user's rows for these conversations (missing ones left out); at most 10 000 ids. */
  ofUser(scope: TenantScope, userId: string, conversationIds: string[]): Promise<ReadStateRecord[]>;

  close(): Promise<void>;
}
