import { systemClock, type Clock } from "@caas/shared/clock";
import type { Presence } from "../ports/presence.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { checkTtl, tenantOf } from "@caas/shared/checks";
import { DEFAULT_LAST_SEEN_RETENTION_MS, aggregate, checkConnectionId, checkInfo, checkMaxConnections, checkUserId, type StoredConnection } from "./presence-state.js";

export interface MemoryPresenceOptions {
  clock?: Clock;
  /** How long an offline user's last-seen time is kept. Default 30 days. */
  lastSeenRetentionMs?: number;
  /** How often (by the clock) a write also sweeps forgotten users out of memory. Default 1 min. */
  sweepIntervalMs?: number;
}

interface UserRecord {
  connections: Map<string, StoredConnection>;
  lastSeenMs: number | null;
}

/**
 * The embedded-mode `Presence`: per-user records in a map of this process, timed by the injected
 * clock. Single process only: connections held by another process are invisible here. Expired
 * connections are purged on the user's next write; users with nothing left to remember are
 * swept out at most once per `sweepIntervalMs`.
 */
export function createMemoryPresence(opts: MemoryPresenceOptions = {}): Presence {
  const clock = opts.clock ?? systemClock;
  const retentionMs = opts.lastSeenRetentionMs ?? DEFAULT_LAST_SEEN_RETENTION_MS;
  const sweepIntervalMs = opts.sweepIntervalMs ?? 60_000;
  // "tenant NUL user": tenant ids cannot contain NUL, so two tenants never share a record.
  const users = new Map<string, UserRecord>();
  let lastSweepMs = clock.nowMs();

  const recordKey = (scope: TenantScope, userId: string) => `${tenantOf(scope)}\u0000${checkUserId(userId)}`;

  /** Drops expired connections, keeping their expiry as a last-seen candidate (as the Lua script does). */
  function purgeExpired(record: UserRecord, nowMs: number): void {
    for (const [id, c] of record.connections) {
      if (nowMs >= c.expiresAtMs) {
        record.lastSeenMs = Math.max(record.lastSeenMs ?? c.expiresAtMs, c.expiresAtMs);
        record.connections.delete(id);
      }
    }
  }

  /** The user's record with expired connections purged, created when `create` is set. */
  function write(key: string, nowMs: number, create: boolean): UserRecord | undefined {
    if (nowMs - lastSweepMs >= sweepIntervalMs) sweep(nowMs);
    let record = users.get(key);
    if (!record && create) users.set(key, (record = { connections: new Map(), lastSeenMs: null }));
    if (record) purgeExpired(record, nowMs);
    return record;
  }

  function sweep(nowMs: number): void {
    lastSweepMs = nowMs;
    for (const [key, record] of users) {
      purgeExpired(record, nowMs);
      const remembered = record.lastSeenMs !== null && nowMs < record.lastSeenMs + retentionMs;
      if (record.connections.size === 0 && !remembered) users.delete(key);
    }
  }

  return {
    async add(scope, userId, connectionId, ttlMs, info) {
      const key = recordKey(scope, userId);
      checkConnectionId(connectionId);
      const ttl = checkTtl(ttlMs);
      const stored = checkInfo(info);
      const nowMs = clock.nowMs();
      write(key, nowMs, true)!.connections.set(connectionId, { expiresAtMs: nowMs + ttl, info: stored });
    },

    async addBounded(scope, userId, connectionId, ttlMs, info, maxConnections) {
      const key = recordKey(scope, userId);
      checkConnectionId(connectionId);
      const ttl = checkTtl(ttlMs);
      const stored = checkInfo(info);
      const max = checkMaxConnections(maxConnections);
      const nowMs = clock.nowMs();
      const record = write(key, nowMs, true)!;
      const others = record.connections.size - (record.connections.has(connectionId) ? 1 : 0);
      if (others >= max) return false;
      record.connections.set(connectionId, { expiresAtMs: nowMs + ttl, info: stored });
      return true;
    },

    async touch(scope, userId, connectionId, ttlMs) {
      const key = recordKey(scope, userId);
      checkConnectionId(connectionId);
      const ttl = checkTtl(ttlMs);
      const nowMs = clock.nowMs();
      const c = write(key, nowMs, false)?.connections.get(connectionId);
      if (!c) return false;
      c.expiresAtMs = nowMs + ttl;
      return true;
    },

    async remove(scope, userId, connectionId) {
      const key = recordKey(scope, userId);
      checkConnectionId(connectionId);
      const nowMs = clock.nowMs();
      const record = write(key, nowMs, false);
      if (!record?.connections.delete(connectionId)) return false;
      record.lastSeenMs = Math.max(record.lastSeenMs ?? nowMs, nowMs);
      return true;
    },

    async get(scope, userIds) {
      const keys = userIds.map((userId) => recordKey(scope, userId));
      const nowMs = clock.nowMs();
      return keys.map((key, i) => {
        const record = users.get(key);
        return aggregate(userIds[i]!, record?.connections ?? [], record?.lastSeenMs ?? null, nowMs, retentionMs);
      });
    },
  };
}
