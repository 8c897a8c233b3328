import type { ConnectionInfo, PresenceConnection, UserPresence } from "../ports/presence.js";
import { checkName } from "@caas/shared/checks";

/*
 * The presence rules both adapters apply, so they cannot drift: the memory adapter runs them on
 * its maps, the Redis adapter on what HGETALL returned (its Lua script mirrors `purgeExpired`).
 */

/** Last-seen times are forgotten this long after the user went offline, unless configured. */
export const DEFAULT_LAST_SEEN_RETENTION_MS = 30 * 24 * 3600 * 1000;

export const checkUserId = (userId: string) => checkName("user id", userId, 256);
export const checkConnectionId = (connectionId: string) => checkName("connection id", connectionId, 256);

/** addBounded's bound: a positive integer. */
export function checkMaxConnections(max: unknown): number {
  if (typeof max !== "number" || !Number.isSafeInteger(max) || max <= 0) throw new RangeError(`maxConnections must be a positive integer, got ${String(max)}`);
  return max;
}

/** Info must be a flat object of strings (it is stored as JSON and shown to other services). */
export function checkInfo(info: ConnectionInfo): ConnectionInfo {
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    throw new RangeError("connection info must be an object of strings");
  }
  for (const [k, v] of Object.entries(info)) {
    if (typeof v !== "string") throw new RangeError(`connection info ${JSON.stringify(k)} must be a string`);
  }
  if (JSON.stringify(info).length > 2048) throw new RangeError("connection info exceeds 2048 characters");
  return { ...info };
}

/** What the store holds for one user. */
export interface StoredConnection {
  expiresAtMs: number;
  info: ConnectionInfo;
}

/**
 * The presence of one user at `nowMs`: online while any connection is alive (`nowMs <
 * expiresAtMs`); otherwise last seen at the latest of the stored last-seen time and the expiry
 * times of the connections that expired, unless that is older than the retention.
 */
export function aggregate(userId: string, connections: Iterable<[string, StoredConnection]>, storedLastSeenMs: number | null, nowMs: number, retentionMs: number): UserPresence {
  const alive: PresenceConnection[] = [];
  let lastSeenMs = storedLastSeenMs;
  for (const [connectionId, c] of connections) {
    if (nowMs < c.expiresAtMs) alive.push({ connectionId, expiresAtMs: c.expiresAtMs, info: { ...c.info } });
    else lastSeenMs = Math.max(lastSeenMs ?? c.expiresAtMs, c.expiresAtMs);
  }
  alive.sort((a, b) => (a.connectionId < b.connectionId ? -1 : a.connectionId > b.connectionId ? 1 : 0));
  if (alive.length > 0) return { userId, online: true, lastSeenMs: null, connections: alive };
  const remembered = lastSeenMs !== null && nowMs < lastSeenMs + retentionMs;
  return { userId, online: false, lastSeenMs: remembered ? lastSeenMs : null, connections: [] };
}
