/**
 * Per-address budgets for queries and for new subscriptions, in this process's memory
 * (rate-limiter-flexible). Each budget is a rate per second, counted in one-second windows,
 * plus a burst allowance: what an address takes beyond the rate is drawn from a second
 * budget of `burst` per 10-second window. Memory holds one record per address and window
 * while it is running, and each record expires with its window.
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type Budget = 'query' | 'subscription';

export interface Rate {
  /** Per second; 0 = unlimited. */
  readonly perSecond: number;
  /** Extra per 10-second window. */
  readonly burst: number;
}

const BURST_WINDOW_S = 10;

export class RateLimits {
  private readonly limiters: Record<Budget, BurstyRateLimiter | null>;

  constructor(rates: Record<Budget, Rate>) {
    this.limiters = { query: limiter('query', rates.query), subscription: limiter('subscription', rates.subscription) };
  }

  /**
   * Takes one from `budget` for `key`. Returns null when allowed, else the milliseconds
   * until the budget has room again.
   */
  async take(budget: Budget, key: string): Promise<number | null> {
    const limiter = this.limiters[budget];
    if (!limiter) return null;
    try {
      await limiter.consume(key);
      return null;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return Math.max(1, refusal.msBeforeNext);
      throw refusal;
    }
  }
}

function limiter(name: Budget, rate: Rate): BurstyRateLimiter | null {
  if (rate.perSecond === 0) return null;
  return new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: name, points: rate.perSecond, duration: 1 }),
    // Consulted only when the first refuses; with 0 points it refuses too.
    new RateLimiterMemory({ keyPrefix: `${name}-burst`, points: rate.burst, duration: BURST_WINDOW_S }),
  );
}
