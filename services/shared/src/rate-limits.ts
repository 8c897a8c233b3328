import type { RateRule } from "./ports/rate-limiter.js";

/**
 * The actions per-user and per-tenant rate limits are counted by (DESIGN "Rate limits per user
 * and per tenant per action"). `default` covers every call no other action names.
 */
export const RATE_LIMIT_ACTIONS = ["message.send", "typing", "upload", "download", "delete", "search", "default"] as const;
export type RateLimitAction = (typeof RATE_LIMIT_ACTIONS)[number];

/**
 * Per-user limits by default, as `limit` per `windowMs` (a burst of `limit`, then one every
 * `windowMs / limit`): upload 10/min, download 100/min, delete 20/min, search 30/min (the issue's
 * numbers); sends 20 per 2 s (a burst of 20, then 10 a second: chat's earlier built-in rate);
 * typing 5 per 5 s (a burst of 5, then one a second, as the socket service counts typing); any
 * other call 100 per 10 s (generous: a burst of 100, then 10 a second).
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitAction, { limit: number; windowMs: number }>> = {
  "message.send": { limit: 20, windowMs: 2_000 },
  typing: { limit: 5, windowMs: 5_000 },
  upload: { limit: 10, windowMs: 60_000 },
  download: { limit: 100, windowMs: 60_000 },
  delete: { limit: 20, windowMs: 60_000 },
  search: { limit: 30, windowMs: 60_000 },
  default: { limit: 100, windowMs: 10_000 },
};

/**
 * The tenant-wide bucket of an action is the user bucket times this: a tenant's users together
 * may do what 100 users at their own limit do before the tenant is refused. It keeps one tenant
 * from taking the whole shared deployment while no ordinary user notices it.
 */
export const DEFAULT_TENANT_RATE_FACTOR = 100;

/** The validated rate-limit settings (CAAS_RATE_LIMITS, CAAS_RATE_LIMIT_TENANT_FACTOR). */
export interface RateLimitConfig {
  /** Per-user limit of each action. */
  perUser: Record<RateLimitAction, { limit: number; windowMs: number }>;
  /** Tenant bucket = user bucket x this (a whole number >= 1). */
  tenantFactor: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, sec: 1_000, m: 60_000, min: 60_000, h: 3_600_000 };
const ENTRY = /^([a-z][a-z.]*)=(\d+)\/(\d*)(ms|s|sec|m|min|h)$/;

/**
 * Parses the compact `CAAS_RATE_LIMITS` form: comma-separated `action=N/[K]unit` entries, e.g.
 * `message.send=10/s,search=30/min,upload=5/10min` (unit ms, s, min or h; K defaults to 1).
 * Actions left out keep their defaults. Returns the limits and every problem found (unknown
 * action, repeated action, zero or malformed numbers), each naming the entry.
 */
export function parseRateLimits(raw: string | undefined): { perUser: RateLimitConfig["perUser"]; problems: string[] } {
  const perUser = { ...DEFAULT_RATE_LIMITS } as RateLimitConfig["perUser"];
  const problems: string[] = [];
  if (raw === undefined || raw.trim() === "") return { perUser, problems };
  const seen = new Set<string>();
  for (const item of raw.split(",").map((s) => s.trim())) {
    const where = `CAAS_RATE_LIMITS entry ${JSON.stringify(item)}`;
    const m = ENTRY.exec(item);
    if (!m) {
      problems.push(`${where} is not action=N/unit (e.g. search=30/min, message.send=10/s)`);
      continue;
    }
    const [, action, countRaw, multRaw, unit] = m as unknown as [string, string, string, string, string];
    if (!(RATE_LIMIT_ACTIONS as readonly string[]).includes(action)) {
      problems.push(`${where} names an unknown action ${action} (known: ${RATE_LIMIT_ACTIONS.join(", ")})`);
      continue;
    }
    if (seen.has(action)) problems.push(`${where} repeats ${action}`);
    seen.add(action);
    const limit = Number(countRaw);
    const windowMs = (multRaw === "" ? 1 : Number(multRaw)) * UNITS[unit]!;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1_000_000) {
      problems.push(`${where}: the count must be 1..1000000`);
      continue;
    }
    if (!Number.isSafeInteger(windowMs) || windowMs < 1 || windowMs > 24 * 3_600_000) {
      problems.push(`${where}: the window must be 1 ms..24 h`);
      continue;
    }
    perUser[action as RateLimitAction] = { limit, windowMs };
  }
  return { perUser, problems };
}

/** The tenant-wide rule of an action: the user rule with `factor` times the tokens and refill. */
export function tenantRule(user: { limit: number; windowMs: number }, factor: number): RateRule {
  return { limit: user.limit * factor, windowMs: user.windowMs };
}

/** The rule as a token bucket (for code that takes `{ capacity, refillPerSec }`). */
export function bucketOf(rule: { limit: number; windowMs: number }): { capacity: number; refillPerSec: number } {
  return { capacity: rule.limit, refillPerSec: (rule.limit / rule.windowMs) * 1000 };
}
