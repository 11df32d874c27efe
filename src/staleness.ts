/**
 * Decides `Market.stale`: a market is stale when its feed is not LIVE, or when it has had no
 * update for longer than STALE_AFTER_MS. Feed statuses are refreshed from Redis in the
 * background (one round trip a second), so serving a page or a subscription message never
 * waits for them.
 *
 * Age is measured from the local receive time, not the exchange's event time, so an exchange
 * whose clock runs ahead or behind does not make its markets look fresh or stale.
 */
import type { Redis } from 'ioredis';
import { FailureStreak } from './failure-streak';
import type { Market } from './market';
import type { Logger } from './logger';
import { readFeedStatuses, type FeedStatus } from './redis/feed-health';
import type { Keys } from './redis/keys';

export class Staleness {
  private statuses = new Map<string, FeedStatus>();
  private timer: NodeJS.Timeout | undefined;
  private readonly failures: FailureStreak;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly staleAfterMs: number,
    logger: Logger,
    private readonly refreshMs = 1000,
  ) {
    this.failures = new FailureStreak(logger, 'reading feed statuses', 'markets keep the staleness last read');
  }

  isStale(market: Market, now: number = Date.now()): boolean {
    if (this.statuses.get(market.exchange) !== 'LIVE') return true;
    return now - market.receivedAt > this.staleAfterMs;
  }

  async refresh(): Promise<void> {
    this.statuses = await readFeedStatuses(this.redis, this.keys);
  }

  async start(): Promise<void> {
    await this.refreshInBackground();
    this.timer = setInterval(() => void this.refreshInBackground(), this.refreshMs);
    this.timer.unref();
  }

  /** Refreshes; a failure (Redis away) is logged once per outage, and the last statuses stay. */
  private refreshInBackground(): Promise<void> {
    return this.refresh().then(
      () => this.failures.succeeded(),
      (err: unknown) => this.failures.failed(err),
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
