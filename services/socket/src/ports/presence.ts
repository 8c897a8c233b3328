import type { TenantScope } from "@caas/shared/tenant-scope";

/** Small per-connection facts kept with a connection (e.g. `{ instance: "socket-1", device: "ios" }`). */
export type ConnectionInfo = Readonly<Record<string, string>>;

/** One live connection of a user. */
export interface PresenceConnection {
  connectionId: string;
  /** When the connection expires unless touched again (ms since epoch, from the adapter's clock). */
  expiresAtMs: number;
  info: ConnectionInfo;
}

/** The aggregated presence of one user across all their devices and tabs. */
export interface UserPresence {
  userId: string;
  /** True while at least one connection is alive (added, not removed, not expired). */
  online: boolean;
  /**
   * When the user's last connection went away: the time of its `remove`, or its expiry time
   * when it expired. `null` while online, and for a user never seen (or forgotten after the
   * adapter's last-seen retention).
   */
  lastSeenMs: number | null;
  /** The alive connections, ordered by `connectionId`. */
  connections: PresenceConnection[];
}

/**
 * Who is online, per (tenant, user), fed by the socket instances that hold the connections.
 *
 * Time: a connection is alive while `now < expiresAtMs`. `now` comes from the adapter's
 * injected `Clock`. Expiry is what makes a dead instance's connections go offline: an instance
 * that dies without `remove` stops `touch`ing, and its connections expire `ttlMs` after their
 * last heartbeat. Socket instances therefore `touch` every connection well within its TTL
 * (e.g. TTL 60 s, heartbeat every 20 s).
 *
 * Ordering: operations on one user are applied atomically, one at a time. Connection ids are
 * unique per connection (a UUIDv7 minted by the socket instance) and the owning instance awaits
 * `add` before it may `remove`, so add/remove of one connection never race. Users are isolated
 * by tenant: the same user id under two tenants is two unrelated users.
 *
 * Ids: user and connection ids are 1-256 characters; `ttlMs` is a positive integer. Invalid
 * arguments are a `RangeError` (a programming error).
 */
export interface Presence {
  /**
   * Registers a connection of `userId`, alive for `ttlMs` from now, with `info`. Idempotent per
   * connection id: adding an existing (even expired) id replaces its expiry and info and does not
   * count it twice.
   */
  add(scope: TenantScope, userId: string, connectionId: string, ttlMs: number, info: ConnectionInfo): Promise<void>;

  /**
   * `add`, bounded: registers the connection only while the user has fewer than `maxConnections`
   * alive connections besides this one, checked and added in one atomic step (also across
   * instances on a shared backend), so N concurrent calls for a user with room for C allow
   * exactly min(N, C). Returns whether the connection was added; a refusal changes nothing.
   * `maxConnections` is a positive integer.
   */
  addBounded(scope: TenantScope, userId: string, connectionId: string, ttlMs: number, info: ConnectionInfo, maxConnections: number): Promise<boolean>;

  /**
   * Heartbeat: extends an alive connection to `ttlMs` from now. Returns false, changing nothing,
   * when the connection is unknown or has already expired (an expired connection is never
   * revived: the user was already reported offline, so the caller must `add` it again).
   */
  touch(scope: TenantScope, userId: string, connectionId: string, ttlMs: number): Promise<boolean>;

  /**
   * Removes a connection. Returns true when it was alive. If it was the user's last alive
   * connection, the user goes offline with `lastSeenMs` = now. Removing an already-expired
   * connection keeps its expiry time as the last-seen candidate (the user left when it expired,
   * not when the cleanup ran). Idempotent: removing an unknown connection returns false.
   */
  remove(scope: TenantScope, userId: string, connectionId: string): Promise<boolean>;

  /**
   * The presence of each listed user, in the order of `userIds` (a user listed twice appears
   * twice). Read-only; each user's entry is consistent in itself, the batch is not a snapshot.
   */
  get(scope: TenantScope, userIds: readonly string[]): Promise<UserPresence[]>;
}
