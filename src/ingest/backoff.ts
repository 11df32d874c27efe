/**
 * Reconnect delays: capped exponential backoff with full jitter. Attempt n waits a uniformly
 * random time in [0, min(cap, base * 2^n)). Full jitter spreads many clients (or many feeds
 * after one network blip) over the whole window instead of retrying in lock-step, and the
 * cap keeps a long outage from growing the wait without bound.
 */

export interface BackoffOptions {
  /** Window of the first retry. Default 500 ms. */
  readonly baseMs?: number;
  /** Largest window. Default 30 000 ms: a long outage is retried about every 15 s on average. */
  readonly capMs?: number;
  /**
   * A connection that stayed live at least this long resets the attempt count when it is lost,
   * so one drop after hours of service is retried quickly. Default 30 000 ms.
   */
  readonly healthyAfterMs?: number;
}

export type ResolvedBackoff = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: ResolvedBackoff = { baseMs: 500, capMs: 30_000, healthyAfterMs: 30_000 };

export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  return { ...DEFAULT_BACKOFF, ...options };
}

/** Delay before retry number `attempt` (0 for the first retry). `random` returns [0, 1). */
export function backoffDelay(attempt: number, random: () => number, options: ResolvedBackoff): number {
  // 2^attempt overflows to Infinity long before attempt gets large; min() caps it either way.
  const window = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * window);
}
