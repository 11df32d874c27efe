/**
 * Decides `Market.stale`: a market is stale when its feed is not LIVE, or when it has had no
 * update for longer than STALE_AFTER_MS. Feed statuses are read from Redis in the background,
 * so serving a page or a subscription message never waits for them: at once when an ingesting
 * process announces a change (`listen`, keys.feedStatusChannel), so every serving process and
 * instance follows a feed going LIVE or down together, and every second in any case (an
 * announcement lost while Redis was away, a process that died without announcing anything).
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
  /** The refresh under way, and whether another must follow it (an announcement came meanwhile). */
  private inFlight: Promise<void> | null = null;
  private again = false;

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

  /**
   * Re-reads statuses whenever an ingesting process announces a change on `subscriber`, a
   * connection in subscriber mode (the one carrying price updates). It subscribes again each
   * time the connection is ready, in case the first SUBSCRIBE failed while Redis was away.
   */
  listen(subscriber: Redis): void {
    const channel = Buffer.from(this.keys.feedStatusChannel);
    // messageBuffer, not message: a `message` listener makes ioredis turn every price update into a string.
    subscriber.on('messageBuffer', (from: Buffer) => {
      if (from.equals(channel)) void this.refreshInBackground();
    });
    const subscribe = () => subscriber.subscribe(this.keys.feedStatusChannel).catch((err: unknown) => this.failures.failed(err));
    subscriber.on('ready', () => void subscribe());
    void subscribe();
  }

  /**
   * Refreshes; a failure (Redis away) is logged once per outage, and the last statuses stay.
   * Calls during a refresh make one more refresh after it, not one each.
   */
  private refreshInBackground(): Promise<void> {
    if (this.inFlight !== null) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = this.refresh()
      .then(
        () => this.failures.succeeded(),
        (err: unknown) => this.failures.failed(err),
      )
      .finally(() => {
        this.inFlight = null;
        if (this.again) {
          this.again = false;
          void this.refreshInBackground();
        }
      });
    return this.inFlight;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
