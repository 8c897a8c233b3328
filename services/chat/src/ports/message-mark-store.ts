import type { TenantScope } from "@caas/shared/tenant-scope";

/**
 * What a mark records about a message: a user's reaction, the message's pin, one edit, or one
 * thread reply (on the thread's root message).
 */
export type MarkKind = "reaction" | "pin" | "edit" | "reply";

/**
 * One mark on a message (ADR 0018): the per-message projection of the log's ReactionAdded /
 * ReactionRemoved, MessagePinned / MessageUnpinned and MessageEdited events, and of the
 * MessageCreated events of thread replies (on their root). A mark is identified
 * by (conversation, message seq, kind, key, user); its state is the one of the highest-seq event
 * applied, so applying events in any order, twice, or replaying the whole log gives the same
 * result.
 */
export interface MarkRecord {
  conversationId: string;
  /** Seq of the message's MessageCreated event. */
  messageSeq: number;
  kind: MarkKind;
  /** The reaction (1-32 characters) for reactions; the edit's or reply's own seq in decimal for edits and replies; "" for pins. */
  key: string;
  /** The reacting user for reactions, the sender for replies; "" for pins and edits. */
  userId: string;
  /** Seq of the event that set this state. */
  seq: number;
  /** False after a removal (reaction removed, message unpinned). */
  present: boolean;
  /** Who caused the event (the pinner for pins). */
  actorId: string;
  /** The event's commit time. */
  timeMs: number;
}

/** Which present marks to count. */
export interface MarkCountQuery {
  kind: MarkKind;
  messageSeq?: number;
  userId?: string;
}

/** The replies of one thread root, summed up (caas.chat.v1.ThreadSummary). */
export interface ThreadRecord {
  /** Seq of the root message. */
  messageSeq: number;
  /** Every reply, deleted ones included (ListThreadReplies lists them as tombstones). */
  replyCount: number;
  lastReplySeq: number;
  lastReplyTimeMs: number;
  /** Up to 5 distinct senders, the one who replied most recently first. */
  participantIds: string[];
}

/** Most participants a ThreadRecord names. */
export const THREAD_PARTICIPANTS = 5;

/** The message-marks projection (reactions, pins, edits, thread replies) of a conversation log. */
export interface MessageMarkStore {
  /** Applies an event's mark: it replaces the stored state only when `mark.seq` is higher. Idempotent, order-free. */
  apply(scope: TenantScope, mark: MarkRecord): Promise<void>;

  /** The current state of one mark (present or not), if any event set it. */
  get(scope: TenantScope, conversationId: string, messageSeq: number, kind: MarkKind, key: string, userId: string): Promise<MarkRecord | undefined>;

  /** The present marks of these messages (at most 1000 seqs), in no particular order; thread replies are left out (see `threads`). */
  ofMessages(scope: TenantScope, conversationId: string, messageSeqs: number[]): Promise<MarkRecord[]>;

  /** Present pins, most recently pinned (highest seq) first, with a seq below `beforeSeq` when given. */
  pins(scope: TenantScope, conversationId: string, query: { beforeSeq?: number; limit: number }): Promise<MarkRecord[]>;

  /** How many present marks match. */
  count(scope: TenantScope, conversationId: string, query: MarkCountQuery): Promise<number>;

  /** The thread summaries of those of these root messages (at most 1000 seqs) that have replies, in no particular order. */
  threads(scope: TenantScope, conversationId: string, messageSeqs: number[]): Promise<ThreadRecord[]>;

  /** Reply marks of one root message with a seq above `afterSeq`, oldest first, at most `limit` (1..1000). */
  replies(scope: TenantScope, conversationId: string, messageSeq: number, query: { afterSeq: number; limit: number }): Promise<MarkRecord[]>;

  /** Removes every mark of a conversation (before a rebuild replays its log). Idempotent. */
  clear(scope: TenantScope, conversationId: string): Promise<void>;

  close(): Promise<void>;
}
