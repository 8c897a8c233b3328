import type { TenantScope } from "@caas/shared/tenant-scope";

/** A user as the directory keeps them (from auth's user events). */
export interface DirectoryUser {
  userId: string;
  displayName: string;
  avatarUrl: string;
}

/** Where a page of directory results starts (exclusive): the last user's folded name and id. */
export type DirectoryKey = [nameFolded: string, userId: string];

export interface DirectoryQuery {
  /**
   * Folded words (lowercase, no diacritics, letters and digits only), 1-32: a user matches when
   * every word starts a word of their folded display name.
   */
  words: string[];
  /** A user also matches when their id starts with this (case-sensitive); "" for none. */
  idPrefix: string;
  /** Users who blocked this user are left out. */
  viewerId: string;
  /** 1..101 (a page plus one, to tell whether another follows). */
  limit: number;
  after?: DirectoryKey;
}

/**
 * The tenant's user directory for SearchUsers, fed by auth's user events and chat's block events.
 * Writes are last-writer-wins per user (auth's events of one tenant arrive in order) and
 * idempotent; only active users are ever returned.
 */
export interface UserDirectory {
  /** Creates or replaces a user (active unless `setActive` later says otherwise). */
  put(scope: TenantScope, user: DirectoryUser): Promise<void>;
  /** Marks a user active or deactivated; unknown users are ignored. */
  setActive(scope: TenantScope, userId: string, active: boolean): Promise<void>;
  /** Forgets a user and their blocks. Idempotent. */
  remove(scope: TenantScope, userId: string): Promise<void>;
  /** Records (`blocked` true) or drops that `blockerId` blocked `blockedId`. Idempotent. */
  setBlock(scope: TenantScope, blockerId: string, blockedId: string, blocked: boolean): Promise<void>;
  /** Active matching users not blocking the viewer, ordered by (folded name, id), after `after`. */
  search(scope: TenantScope, query: DirectoryQuery): Promise<(DirectoryUser & { nameFolded: string })[]>;
  close(): Promise<void>;
}
