import type { TenantScope } from "@caas/shared/tenant-scope";

/** A member's permissions within a conversation (caas.chat.v1.MemberRole). */
export type RoleKind = "owner" | "admin" | "member";

/** What a join stores. */
export interface NewMember {
  conversationId: string;
  userId: string;
  role: RoleKind;
  /** Seq of the event that made the user a member (ConversationCreated or MemberJoined). */
  joinedSeq: number;
  joinTimeMs: number;
}

/**
 * A user's membership row: current (`active`) or former (left or removed at `leftSeq`). The row
 * is a projection of the membership events of the log: `stateSeq` is the seq of the newest event
 * applied to it, and an update carrying an older seq is ignored, so writers racing on one row
 * end in log order.
 */
export interface MemberRecord extends NewMember {
  active: boolean;
  /** Seq of the MemberLeft/MemberRemoved event; 0 while active. */
  leftSeq: number;
  /** 0 while active. */
  leftTimeMs: number;
  stateSeq: number;
}

/** Keyset position in (joinedSeq, userId) order. */
export interface MemberKey {
  joinedSeq: number;
  userId: string;
}

/**
 * Memberships of conversations. Read on every write path (never cached): a removed member loses
 * access at the next call.
 */
export interface MemberStore {
  /**
   * Makes the user a member. Idempotent: an active row is returned unchanged; a former member's
   * row is reactivated when `joinedSeq` is newer than its `stateSeq`.
   */
  join(scope: TenantScope, member: NewMember): Promise<MemberRecord>;

  /** The row of a user (active or former), if any. */
  get(scope: TenantScope, conversationId: string, userId: string): Promise<MemberRecord | undefined>;

  /** The rows of these users (active or former) in one conversation; at most 1000 ids. */
  getMany(scope: TenantScope, conversationId: string, userIds: string[]): Promise<MemberRecord[]>;

  /** Active members in (joinedSeq, userId) order after `after`, at most `limit` (1..1000). */
  list(scope: TenantScope, conversationId: string, query: { after?: MemberKey; role?: RoleKind; limit: number }): Promise<MemberRecord[]>;

  /** The number of active members (of one role, when given). */
  count(scope: TenantScope, conversationId: string, role?: RoleKind): Promise<number>;

  /**
   * The number of active members of each of these conversations (at most 1000 ids), in one
   * query: every id given is a key of the result (0 for none or unknown).
   */
  countMany(scope: TenantScope, conversationIds: readonly string[]): Promise<Map<string, number>>;

  /**
   * Ends an active membership at the seq of its MemberLeft/MemberRemoved event. False when the
   * row is not active or already saw a newer event.
   */
  leave(scope: TenantScope, conversationId: string, userId: string, seq: number, timeMs: number): Promise<boolean>;

  /** Sets an active member's role at the seq of its MemberRoleChanged event; false otherwise. */
  setRole(scope: TenantScope, conversationId: string, userId: string, role: RoleKind, seq: number): Promise<boolean>;

  /**
   * A user's memberships: every active one, plus former ones that ended after `leftAfterMs`
   * (none when omitted). At most 10 000, in no particular order.
   */
  ofUser(scope: TenantScope, userId: string, opts?: { leftAfterMs?: number }): Promise<MemberRecord[]>;

  close(): Promise<void>;
}
