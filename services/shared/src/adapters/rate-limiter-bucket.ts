import type { RateDecision } from "../ports/rate-limiter.js";

/*
 * The token-bucket arithmetic. The memory adapter runs `takeTokens`; the Redis adapter's Lua
 * script mirrors its refill-and-take step and hands the result to `decide`, so both adapters
 * answer the same numbers.
 */

/** Float slack: after many partial refills 0.9999999999 tokens count as 1. */
export const TOKEN_EPSILON = 1e-9;

/** The decision for a bucket left with `tokens` after a take of `cost` that was (not) allowed. */
export function decide(allowed: boolean, tokens: number, cost: number, refillPerSec: number): RateDecision {
  return {
    allowed,
    remaining: Math.max(0, Math.floor(tokens + TOKEN_EPSILON)),
    retryAfterMs: allowed ? 0 : Math.max(1, Math.ceil(((cost - tokens) / refillPerSec) * 1000)),
  };
}

export interface TakeInput {
  capacity: number;
  refillPerSec: number;
  cost: number;
  nowMs: number;
  /** The stored bucket; none means full. */
  prev?: { tokens: number; updatedAtMs: number } | undefined;
}

/** Refills the bucket up to `nowMs`, takes `cost` if there is enough, and says what is left. */
export function takeTokens(input: TakeInput): { tokens: number; msUntilFull: number; decision: RateDecision } {
  const { capacity, refillPerSec, cost, nowMs, prev } = input;
  let tokens = capacity;
  if (prev) {
    const elapsedMs = Math.max(0, nowMs - prev.updatedAtMs);
    tokens = Math.min(capacity, prev.tokens + (elapsedMs * refillPerSec) / 1000);
  }
  const allowed = tokens + TOKEN_EPSILON >= cost;
  if (allowed) tokens = Math.max(0, tokens - cost);
  const msUntilFull = Math.ceil(((capacity - tokens) / refillPerSec) * 1000);
  return { tokens, msUntilFull, decision: decide(allowed, tokens, cost, refillPerSec) };
}
