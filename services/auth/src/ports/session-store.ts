import type { TenantScope } from "@caas/shared/tenant-scope";

/** Why a session ended early (caas.events.v1.SessionRevokeReason). */
export type SessionRevokeReason = "sign-out" | "revoked-by-user" | "refresh-token-reused" | "user-erased" | "user-deleted";

/** A signed-in device of a user; it owns one refresh-token family. */
export interface SessionRecord {
  tenantId: string;
  /** UUIDv7, the `sid` claim of its access tokens. */
  id: string;
  userId: string;
  deviceId: string;
  /** "" when none. */
  deviceName: string;
  /** The scopes its access tokens carry (empty: the user's full access). */
  scopes: string[];
  mfaSatisfied: boolean;
  createTimeMs: number;
  lastSeenTimeMs: number;
  /** The refresh family ends then unless refreshed (sliding). */
  expireTimeMs: number;
  /** Set once, at the first revocation; later revocations keep it. */
  revokeTimeMs?: number;
  revokeReason?: SessionRevokeReason;
}

/** A refresh token as stored: only its keyed hash. */
export interface RefreshTokenRecord {
  /** HMAC of the token under the refresh pepper. */
  hash: string;
  expireTimeMs: number;
}

/** What presenting a refresh token found. */
export type RotateOutcome =
  /** The token was current: it is now used, `next` is current, the session was extended. */
  | { kind: "rotated"; session: SessionRecord }
  /** The token had been used already (a copy was replayed): nothing changed. */
  | { kind: "reused"; session: SessionRecord }
  /** No such token in this tenant. */
  | { kind: "unknown" };

/** One page of a user's active sessions. */
export interface SessionListQuery {
  userId: string;
  /** Sessions revoked or expired at this time are left out. */
  nowMs: number;
  /** Keyset from the previous page: only rows after (lastSeenTimeMs desc, id desc). */
  after?: { lastSeenTimeMs: number; id: string };
  /** 1..1000. */
  limit: number;
}

/**
 * Sessions and their refresh-token families. Every method is scoped to one tenant; ids and token
 * hashes of another tenant are simply not found.
 */
export interface SessionStore {
  /** Stores a new session with its first refresh token. The id must be new (UUIDv7). */
  create(scope: TenantScope, session: SessionRecord, refresh: RefreshTokenRecord): Promise<void>;

  get(scope: TenantScope, id: string): Promise<SessionRecord | undefined>;

  /** The session a refresh token (used or not, unexpired) belongs to; for SignOut by refresh token. */
  findByRefreshHash(scope: TenantScope, hash: string, nowMs: number): Promise<SessionRecord | undefined>;

  /**
   * Uses the refresh token with hash `hash`: atomically marks it used (exactly one of concurrent
   * callers wins), stores `next` as the family's new token and sets the session's last-seen and
   * expire times. A token already used answers "reused" and changes nothing; the caller revokes
   * the family. An expired token is "unknown". The session's revocation is the caller's to check.
   */
  rotate(scope: TenantScope, hash: string, next: RefreshTokenRecord, nowMs: number): Promise<RotateOutcome>;

  /**
   * Revokes the session; idempotent: the first revoke time and reason are kept. Undefined for an
   * unknown id.
   */
  revoke(scope: TenantScope, id: string, nowMs: number, reason: SessionRevokeReason): Promise<SessionRecord | undefined>;

  /** The user's sessions neither revoked nor expired, most recently seen first. */
  listActive(scope: TenantScope, query: SessionListQuery): Promise<SessionRecord[]>;

  close(): Promise<void>;
}
