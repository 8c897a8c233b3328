import type { TenantScope } from "@caas/shared/tenant-scope";

/** A conversation-level restriction of one user (caas.chat.v1.MemberState MUTED / BANNED). */
export type RestrictionKind = "mute" | "ban";

/**
 * One user's mute or ban in one conversation, as the newest MemberMuted/MemberUnmuted (or
 * MemberBanned/MemberUnbanned) event of the log left it: a projection of the log, like members.
 */
export interface RestrictionRecord {
  conversationId: string;
  userId: string;
  kind: RestrictionKind;
  /** False once lifted (unmute, unban). */
  present: boolean;
  /** When a timed restriction ends (epoch ms); 0 for an indefinite one. */
  expireTimeMs: number;
  reason: string;
  /** Who muted or banned (or lifted it). */
  actorId: string;
  /** Seq of the event that set this state; an older seq never overwrites a newer one. */
  seq: number;
  timeMs: number;
}

/** Keyset position in a conversation's list of bans (user id order). */
export interface RestrictionKey {
  userId: string;
}

/** Whether a restriction holds at `nowMs` (present and not expired). */
export function inForce(r: RestrictionRecord | undefined, nowMs: number): r is RestrictionRecord {
  return r !== undefined && r.present && (r.expireTimeMs === 0 || r.expireTimeMs > nowMs);
}

/**
 * Mutes and bans per (conversation, user): the store of record the write path reads (never
 * cached) before a send, reaction, join or add.
 */
export interface ModerationStore {
  /**
   * Sets the restriction at `record.seq`. Applied only when `seq` is newer than the stored one, so
   * replays and racing writers end in log order. Returns whether it was applied.
   */
  put(scope: TenantScope, record: RestrictionRecord): Promise<boolean>;

  /** The user's restriction of this kind (present or lifted), if any. */
  get(scope: TenantScope, conversationId: string, userId: string, kind: RestrictionKind): Promise<RestrictionRecord | undefined>;

  /**
   * Present restrictions of one kind in a conversation, by user id after `after`, at most `limit`
   * (1..1000). Expired ones are included: the caller compares `expireTimeMs` with its clock.
   */
  list(scope: TenantScope, conversationId: string, kind: RestrictionKind, query: { after?: RestrictionKey; limit: number }): Promise<RestrictionRecord[]>;

  close(): Promise<void>;
}
