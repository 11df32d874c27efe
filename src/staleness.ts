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
import type { Market } from './ingest/market';
import type { Logger } from './logger';
import { readFeedStatuses, type FeedStatus } from './redis/feed-health';
import type { Keys } from './redis/keys';

export class Staleness {
  private statuses = new Map<string, FeedStatus>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly staleAfterMs: number,
    private readonly logger: Logger,
    private readonly refreshMs = 1000,
  ) {}

  isStale(market: Market, now: number = Date.now()): boolean {
    if (this.statuses.get(market.exchange) !== 'LIVE') return true;
    return now - market.receivedAt > this.staleAfterMs;
  }

  async refresh(): Promise<void> {
    this.statuses = await readFeedStatuses(this.redis, this.keys);
  }

  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.logger.warn({ err }, 'could not read feed statuses'));
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err }, 'could not read feed statuses'));
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
