/**
 * Keeps the live state to what this process's feeds cover. Each ingesting process publishes
 * the ids of the markets it subscribes (its coverage, src/redis/coverage.ts); then:
 * - a market a feed stops subscribing because the exchange delisted it is dropped from the
 *   write queue and removed from Redis (every index, filter set and search entry) once the
 *   write under way, if any, has ended, so no late write brings it back;
 * - once every feed has chosen its symbols at start-up, markets that no live ingesting
 *   process covers are removed (a narrowed symbol list, an exchange taken out of FEEDS, a
 *   market delisted while tickql was down). A market another live process covers is never
 *   removed: the sweep checks every live process's coverage inside Redis.
 * `feeds` are the feeds this process ingests now (src/feed-leases.ts keeps the list): it covers
 * only those, and with `tenure`, says for each whose symbols are chosen which lease tenure its
 * coverage is (coverage.ts `tenureMember`), so the sweep knows the feed has settled with its
 * new holder. A sweep runs whenever a feed this process has just taken (or every feed at
 * start-up) has chosen its symbols; it leaves alone the markets of feeds changing hands.
 * Failures (Redis away) are retried, the first of an outage logged; nothing here throws at the feeds.
 */
import type { Redis } from 'ioredis';
import { FailureStreak } from './failure-streak';
import type { Logger } from './logger';
import { publishCoverage, sweepLeftovers, withdrawCoverage } from './redis/coverage';
import type { Keys } from './redis/keys';
import { removeMarkets } from './redis/remove-markets';
import type { BatchWriter } from './ingest/batch-writer';
import type { Feed } from './ingest/feed';

/** How long to wait before trying a failed coverage update or removal again. */
const RETRY_MS = 5_000;

export interface LiveCoverageOptions {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly writer: BatchWriter;
  /** The feeds this process ingests now (read at each pass: the list may change). */
  readonly feeds: readonly Feed[];
  /** The lease value of a feed's tenure (FeedLeases.lease); without it no tenure is published. */
  readonly tenure?: (feed: Feed) => string | null;
  /** Resolves once this process's presence marker is in Redis (StateGuard.check). */
  readonly markerWritten: () => Promise<void>;
  readonly logger: Logger;
}

export class LiveCoverage {
  private readonly chosen = new Set<Feed>();
  /** Ids removed from feeds whose removal from Redis has not succeeded yet. */
  private readonly toRemove = new Set<string>();
  private work: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Feeds whose symbols a sweep has followed. */
  private swept = new Set<Feed>();
  readonly stats = { removedDelisted: 0, removedLeftovers: 0, failures: 0 };
  private readonly failures: FailureStreak;

  constructor(private readonly options: LiveCoverageOptions) {
    this.failures = new FailureStreak(options.logger, 'coverage updates and market removals', `retrying every ${RETRY_MS / 1000} s`);
  }

  /** A feed's subscribed symbols changed (`Feed`'s `onSymbolsChange`). */
  symbolsChanged(feed: Feed, removed: readonly string[]): void {
    if (this.stopped || !this.options.feeds.includes(feed)) return; // a feed whose tenure has ended
    this.chosen.add(feed);
    if (removed.length > 0) {
      this.options.writer.forget(removed);
      for (const id of removed) this.toRemove.add(id);
    }
    this.run();
  }

  /** Publishes the coverage again (Redis lost it along with the markets: StateGuard's restore). */
  republish(): void {
    if (!this.stopped) this.run();
  }

  /** Withdraws this process's coverage (its markets stay until another process's sweep). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    await this.work;
    await withdrawCoverage(this.options.redis, this.options.keys, this.options.keys.instance).catch(() => {});
  }

  /** One pass at a time, in order: publish coverage, remove delisted markets, sweep once. */
  private run(): void {
    this.work = this.work.then(() => this.pass());
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    const { redis, keys, writer, feeds, logger } = this.options;
    try {
      // Coverage counts only while its process's marker exists (another process's sweep
      // treats it as dead otherwise), so the marker goes first.
      await this.options.markerWritten();
      // What is published now is what a sweep may rely on: the feeds and choices of this moment
      // (the list changes with the leases, and a feed may choose while the pass awaits).
      const current = [...feeds];
      const chosen = current.filter((feed) => this.chosen.has(feed));
      const tenures = chosen.flatMap((feed) => {
        const lease = this.options.tenure?.(feed) ?? null;
        return lease === null ? [] : [lease];
      });
      await publishCoverage(redis, keys, keys.instance, current.flatMap((feed) => feed.coveredIds()), tenures);
      if (this.toRemove.size > 0) {
        const ids = [...this.toRemove];
        await writer.flush();
        const removed = await removeMarkets(redis, keys, ids);
        for (const id of ids) this.toRemove.delete(id);
        this.stats.removedDelisted += removed;
        logger.info({ removed, ids: ids.length }, 'delisted markets removed from the live state');
      }
      // Forget feeds of ended tenures.
      for (const feed of this.chosen) if (!feeds.includes(feed)) this.chosen.delete(feed);
      this.swept = new Set([...this.swept].filter((feed) => feeds.includes(feed)));
      // Sweep once every feed held had chosen its symbols when the coverage was published, and
      // one of them is new since the last sweep (start-up, a feed taken over).
      if (current.length > 0 && chosen.length === current.length && chosen.some((feed) => !this.swept.has(feed))) {
        const { removed } = await sweepLeftovers(redis, keys);
        for (const feed of chosen) this.swept.add(feed);
        this.stats.removedLeftovers += removed.length;
        if (removed.length > 0) {
          logger.info({ removed: removed.length, examples: removed.slice(0, 10) }, 'removed markets that no running process ingests');
        }
      }
      this.failures.succeeded();
    } catch (err) {
      this.stats.failures++;
      this.failures.failed(err);
      if (this.retryTimer === null && !this.stopped) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.run();
        }, RETRY_MS);
        this.retryTimer.unref();
      }
    }
  }
}
