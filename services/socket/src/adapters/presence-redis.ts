import { systemClock, type Clock } from "@caas/shared/clock";
import type { ConnectionInfo, Presence } from "../ports/presence.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { checkName, checkTtl, tenantOf } from "@caas/shared/checks";
import { DEFAULT_LAST_SEEN_RETENTION_MS, aggregate, checkConnectionId, checkInfo, checkMaxConnections, checkUserId, type StoredConnection } from "./presence-state.js";
import { defineScript, type RedisClient } from "@caas/shared/redis";

export interface RedisPresenceOptions {
  /** A client shared with other adapters; its owner closes it. */
  redis: RedisClient;
  /** Starts every key. */
  prefix: string;
  /** Supplies `now` for expiry and last-seen (every instance's clock; keep them NTP-synced). */
  clock?: Clock;
  /** How long an offline user's last-seen time is kept. Default 30 days. */
  lastSeenRetentionMs?: number;
}

/*
 * One write (add / touch / remove) on one user's hash, atomically. It first purges expired
 * connections (keeping the latest expiry as the last-seen candidate, like `purgeExpired` in the
 * memory adapter), applies the operation, then sets the key to live until its last connection
 * expires plus the last-seen retention (or deletes it when nothing is left to remember).
 * Hash fields: `e:<connectionId>` expiry ms, `i:<connectionId>` info JSON, `ls` last-seen ms.
 * KEYS[1] user hash; ARGV: op, now, connectionId, ttlMs, infoJson, retentionMs, maxConnections
 * (op `addmax`: an add only while fewer than that many other connections are alive). Returns 1
 * when the add, touch or remove applied to an alive connection, else 0.
 */
const WRITE = defineScript(`
local key = KEYS[1]
local op, now, conn = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local retention = tonumber(ARGV[6])
local fields = redis.call('HGETALL', key)
local lastSeen, maxAlive, others = nil, nil, 0
for i = 1, #fields, 2 do
  if fields[i] == 'ls' then
    local ls = tonumber(fields[i + 1])
    if lastSeen == nil or ls > lastSeen then lastSeen = ls end
  end
end
for i = 1, #fields, 2 do
  local f = fields[i]
  if string.sub(f, 1, 2) == 'e:' then
    local id, exp = string.sub(f, 3), tonumber(fields[i + 1])
    if now >= exp then
      if lastSeen == nil or exp > lastSeen then lastSeen = exp end
      redis.call('HDEL', key, f, 'i:' .. id)
    elseif id ~= conn then
      others = others + 1
      if maxAlive == nil or exp > maxAlive then maxAlive = exp end
    end
  end
end
local result, ef, inf = 0, 'e:' .. conn, 'i:' .. conn
local newExp = now + tonumber(ARGV[4] ~= '' and ARGV[4] or '0')
if op == 'add' or (op == 'addmax' and others < tonumber(ARGV[7])) then
  redis.call('HSET', key, ef, string.format('%.0f', newExp), inf, ARGV[5])
  result = 1
elseif op == 'touch' then
  if redis.call('HEXISTS', key, ef) == 1 then
    redis.call('HSET', key, ef, string.format('%.0f', newExp))
    result = 1
  end
elseif op == 'remove' then
  if redis.call('HDEL', key, ef, inf) > 0 then
    if lastSeen == nil or now > lastSeen then lastSeen = now end
    result = 1
  end
end
if result == 1 and op ~= 'remove' and (maxAlive == nil or newExp > maxAlive) then maxAlive = newExp end
if lastSeen ~= nil then redis.call('HSET', key, 'ls', string.format('%.0f', lastSeen)) end
local horizon = maxAlive or lastSeen
if horizon == nil or horizon + retention <= now then
  redis.call('DEL', key)
else
  redis.call('PEXPIRE', key, string.format('%.0f', horizon + retention - now))
end
return result
`);

/**
 * The cluster-mode `Presence`: one Redis hash per user at `<prefix>:presence:<tenantId>:<userId>`
 * (tenant ids contain no `:`), shared by every socket instance. Writes are one Lua script on that
 * one key; `get` reads the hashes in one pipeline and applies the same rules as the memory
 * adapter. Times come from the injected clock (passed into the script), so instances should be
 * NTP-synced; skew shifts expiry by the skew, small next to heartbeat TTLs. Each key also gets a
 * Redis TTL (its last expiry plus the last-seen retention), so dead users need no cleanup job.
 * One Redis server, or a cluster (each command touches one key).
 */
export function createRedisPresence(opts: RedisPresenceOptions): Presence {
  const { redis } = opts;
  const prefix = checkName("redis prefix", opts.prefix, 128);
  const clock = opts.clock ?? systemClock;
  const retentionMs = opts.lastSeenRetentionMs ?? DEFAULT_LAST_SEEN_RETENTION_MS;
  const userKey = (scope: TenantScope, userId: string) => `${prefix}:presence:${tenantOf(scope)}:${checkUserId(userId)}`;
  const now = () => Math.floor(clock.nowMs());

  async function write(op: "add" | "addmax" | "touch" | "remove", key: string, connectionId: string, ttlMs: number | undefined, infoJson: string, maxConnections = 0): Promise<boolean> {
    const args = [op, now(), connectionId, ttlMs ?? "", infoJson, retentionMs, maxConnections];
    return (await redis.runScript(WRITE, [key], args)) === 1;
  }

  return {
    async add(scope, userId, connectionId, ttlMs, info) {
      const key = userKey(scope, userId);
      checkConnectionId(connectionId);
      const ttl = checkTtl(ttlMs);
      await write("add", key, connectionId, ttl, JSON.stringify(checkInfo(info)));
    },

    async addBounded(scope, userId, connectionId, ttlMs, info, maxConnections) {
      const key = userKey(scope, userId);
      checkConnectionId(connectionId);
      const ttl = checkTtl(ttlMs);
      return write("addmax", key, connectionId, ttl, JSON.stringify(checkInfo(info)), checkMaxConnections(maxConnections));
    },

    async touch(scope, userId, connectionId, ttlMs) {
      const key = userKey(scope, userId);
      checkConnectionId(connectionId);
      return write("touch", key, connectionId, checkTtl(ttlMs), "");
    },

    async remove(scope, userId, connectionId) {
      const key = userKey(scope, userId);
      return write("remove", key, checkConnectionId(connectionId), undefined, "");
    },

    async get(scope, userIds) {
      const hashes = await redis.hgetallMany(userIds.map((userId) => userKey(scope, userId)));
      const nowMs = now();
      return hashes.map((hash, i) => {
        const { connections, lastSeenMs } = parseHash(hash);
        return aggregate(userIds[i]!, connections, lastSeenMs, nowMs, retentionMs);
      });
    },
  };
}

function parseHash(hash: Record<string, string>): {
  connections: Map<string, StoredConnection>;
  lastSeenMs: number | null;
} {
  const connections = new Map<string, StoredConnection>();
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith("e:")) continue;
    const id = field.slice(2);
    const info = JSON.parse(hash[`i:${id}`] ?? "{}") as ConnectionInfo;
    connections.set(id, { expiresAtMs: Number(value), info });
  }
  return { connections, lastSeenMs: hash.ls === undefined ? null : Number(hash.ls) };
}
