import type { TenantScope } from "@caas/shared/tenant-scope";

/** A user's link to their audit pseudonym: the key the pseudonym was derived with, kept apart from the chain. */
export interface AuditSubjectRecord {
  userId: string;
  /** "psn_" + 32 hex characters: what the chained records carry in place of the user id. */
  pseudonym: string;
  /** The user's own 32-byte HMAC key; destroyed (with the row) when the user is erased. */
  key: Uint8Array;
  createTimeMs: number;
}

/**
 * The links between users and their audit pseudonyms, and the markers of erased users. Stored
 * beside the audit chain but never part of it: deleting a link changes no chained byte. Both are
 * keyed by the user's `subject`, a keyed hash of the user id (AuditPseudonyms), never by the id
 * itself: the id sits in the link row only, in no index (an index B-tree's interior pages can keep
 * copies of a deleted key). One link per (tenant, subject) and per (tenant, pseudonym). An erasure
 * marker keeps the subject and the erasure time, so records about the user that arrive late from
 * the bus are not linked again.
 */
export interface AuditSubjectStore {
  /** The subject's link; `candidate` is stored when there is none (under a race exactly one candidate wins and is returned to both). */
  linkSubject(scope: TenantScope, subject: string, candidate: AuditSubjectRecord): Promise<AuditSubjectRecord>;
  /** The subject's link, if any. */
  subjectOf(scope: TenantScope, subject: string): Promise<AuditSubjectRecord | undefined>;
  /** The users of those pseudonyms still linked (pseudonym to user id). */
  usersOf(scope: TenantScope, pseudonyms: readonly string[]): Promise<Map<string, string>>;
  /**
   * Destroys the subject's link (row and key) and records the erasure marker at `eraseTimeMs` (a later
   * erasure moves it on); then makes the deletion durable on disk (SQLite: freed space is zeroed and
   * the WAL truncated). True when a link was deleted.
   */
  forgetSubject(scope: TenantScope, subject: string, eraseTimeMs: number): Promise<boolean>;
  /** When the subject was erased, if it was. */
  erasedAt(scope: TenantScope, subject: string): Promise<number | undefined>;
}
