import type { RateLimiter } from "../ports/rate-limiter.js";
import { checkCost, checkName, tenantOf, toBucket } from "./checks.js";
import { TOKEN_EPSILON, decide } from "./rate-limiter-bucket.js";
import { defineScript, type RedisClient } from "./redis-client.js";

export interface RedisRateLimiterOptions {
  /** A client shared with other adapters; its owner closes it. */
  redis: RedisClient;
  /** Starts every key. */
  prefix: string;
}

/*
 * Refill and take on one bucket, atomically, timed by the Redis server's clock (TIME), so every
 * instance sharing a bucket agrees on how much has refilled whatever its own clock says. Mirrors
 * `takeTokens` in rate-limiter-bucket.ts. A bucket that will be full again gets a PEXPIRE for
 * that moment (a missing bucket is a full one), and one that is full is deleted.
 * KEYS[1] bucket hash (fields tk = tokens, ts = updated ms); ARGV: capacity, refillPerSec, cost,
 * epsilon. Returns { allowed 0|1, tokens left as a string } (Lua numbers would be truncated).
 */
const TAKE = defineScript(`
local cap, rate, cost, eps = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'tk', 'ts')
local tokens = cap
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(cap, tonumber(state[1]) + elapsed * rate / 1000)
end
local allowed = 0
if tokens + eps >= cost then
  tokens = math.max(0, tokens - cost)
  allowed = 1
end
local untilFull = math.ceil((cap - tokens) / rate * 1000)
if untilFull <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tk', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
  redis.call('PEXPIRE', KEYS[1], untilFull)
end
return { allowed, string.format('%.17g', tokens) }
`);

/**
 * The cluster-mode `RateLimiter`: one Redis hash per bucket at `<prefix>:rl:<tenantId>:<key>`
 * (tenant ids contain no `:`), shared by all instances, each take one Lua script (EVALSHA, EVAL
 * when the server lost it). Time is the Redis server's, so instance clock skew does not change
 * the rate. Buckets expire once refilled: no cleanup job. One Redis server, or a cluster (each
 * take touches one key). Needs Redis >= 5 (TIME in scripts with effect replication).
 */
export function createRedisRateLimiter(opts: RedisRateLimiterOptions): RateLimiter {
  const { redis } = opts;
  const prefix = checkName("redis prefix", opts.prefix, 128);

  return {
    async take(scope, key, rule, cost = 1) {
      const k = `${prefix}:rl:${tenantOf(scope)}:${checkName("rate limit key", key, 512)}`;
      const { capacity, refillPerSec } = toBucket(rule);
      checkCost(cost, capacity);
      const reply = (await redis.runScript(TAKE, [k], [capacity, refillPerSec, cost, TOKEN_EPSILON])) as [number, string];
      return decide(reply[0] === 1, Number(reply[1]), cost, refillPerSec);
    },
  };
}
