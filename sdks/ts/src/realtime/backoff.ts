/** Reconnect delays: exponential with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export interface BackoffOptions {
  /** First delay's upper bound (ms); default 500. */
  initialMs?: number;
  /** Largest upper bound (ms); default 30 000. */
  maxMs?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): uniformly random in
 * [bound/2, bound] with bound = min(max, initial * 2^attempt), so clients that lost the same
 * server do not come back in step; never below the server's `retryAfterMs`.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, retryAfterMs = 0, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const bound = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.max(retryAfterMs, Math.round(bound / 2 + random() * (bound / 2)));
}
