import type { TenantScope } from "@caas/shared";

/** What a mark records about a message: a user's reaction, the message's pin, or one edit. */
export type MarkKind = "reaction" | "pin" | "edit";

/**
 * One mark on a message (ADR 0018): the per-message projection of the log's ReactionAdded /
 * ReactionRemoved, MessagePinned / MessageUnpinned and MessageEdited events. A mark is identified
 * by (conversation, message seq, kind, key, user); its state is the one of the highest-seq event
 * applied, so applying events in any order, twice, or replaying the whole log gives the same
 * result.
 */
export interface MarkRecord {
  conversationId: string;
  /** Seq of the message's MessageCreated event. */
  messageSeq: number;
  kind: MarkKind;
  /** The reaction (1-32 characters) for reactions; the edit event's seq in decimal for edits; "" for pins. */
  key: string;
  /** The reacting user for reactions; "" for pins and edits. */
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

/** The message-marks projection (reactions, pins, edits) of a conversation log. */
export interface MessageMarkStore {
  /** Applies an event's mark: it replaces the stored state only when `mark.seq` is higher. Idempotent, order-free. */
  apply(scope: TenantScope, mark: MarkRecord): Promise<void>;

  /** The current state of one mark (present or not), if any event set it. */
  get(scope: TenantScope, conversationId: string, messageSeq: number, kind: MarkKind, key: string, userId: string): Promise<MarkRecord | undefined>;

  /** The present marks of these messages (at most 1000 seqs), in no particular order. */
  ofMessages(scope: TenantScope, conversationId: string, messageSeqs: number[]): Promise<MarkRecord[]>;

  /** Present pins, most recently pinned (highest seq) first, with a seq below `beforeSeq` when given. */
  pins(scope: TenantScope, conversationId: string, query: { beforeSeq?: number; limit: number }): Promise<MarkRecord[]>;

  /** How many present marks match. */
  count(scope: TenantScope, conversationId: string, query: MarkCountQuery): Promise<number>;

  close(): Promise<void>;
}
