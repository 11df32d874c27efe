/**
 * The ingest process: exchange feeds -> batch writer -> Redis, and nothing else. No query or
 * subscription work runs on its thread, so frames are read as soon as they arrive.
 *
 * It wires its own Redis connection, the feeds (and the simulated exchange for `FEEDS=sim`),
 * the batch writer, the state guard (writes every market again when Redis lost them), live
 * coverage (removes delisted markets and those nobody ingests), feed health reports (what
 * serving processes read for `feeds` and `stale`), and what it reports in metrics (summed
 * with the serving processes' by the supervisor).
 */
import type { Config, FeedId } from '../config';
import { FeedLeases } from '../feed-leases';
import { FailureStreak } from '../failure-streak';
import { LiveCoverage } from '../live-coverage';
import type { Logger } from '../logger';
import type { MetricSources } from '../metrics';
import { createCommandClient, whenReady, type RedisTarget } from '../redis/connect';
import { announceFeedStatus, writeFeedHealth } from '../redis/feed-health';
import { createKeys, type Keys } from '../redis/keys';
import { defineScripts } from '../redis/scripts';
import { upsertMarkets } from '../redis/upsert-markets';
import type { Redis } from 'ioredis';
import { BatchWriter } from '../ingest/batch-writer';
import type { ConnectionTiming } from '../ingest/connection';
import { Feed, type FeedHealth } from '../ingest/feed';
import { adapterOptions, createAdapter, symbolChoice } from '../ingest/registry';
import { startSimExchange, type SimExchange } from '../ingest/sim/sim-exchange';
import { StateGuard } from '../ingest/state-guard';

export interface IngestOptions {
  /** Overrides the feeds' connection timing (tests use a short silence limit). */
  readonly feedTiming?: ConnectionTiming;
  /** How long the feeds may take before "no exchange is reachable" is said. Default 15 000 ms. */
  readonly unreachableNoticeMs?: number;
  /** Told of every feed status change, after the new health is in Redis. */
  readonly onFeedStatus?: (health: FeedHealth) => void;
  /** Key names, when shared with a serving side in the same process (its instance id is the lease holder's). */
  readonly keys?: Keys;
}

export interface IngestProcess {
  readonly feeds: readonly Feed[];
  readonly writer: BatchWriter;
  readonly redis: Redis;
  /** The connection feed leases are renewed on, apart from the writes' (`redis`). */
  readonly leaseRedis: Redis;
  readonly keys: Keys;
  /** What this process reports in /metrics: feeds, the writer, restores. */
  readonly metricSources: Required<Pick<MetricSources, 'feeds' | 'writer' | 'restores'>>;
  start(): Promise<void>;
  /** Stops the feeds, writes what is pending, withdraws coverage, then closes Redis. */
  stop(): Promise<void>;
}

/** How long start-up waits for Redis before ingesting anyway (writes are retried). */
const REDIS_START_WAIT_MS = 3000;
/** How often feed health is written to Redis (it expires after FEED_HEALTH_TTL_MS). */
const HEALTH_REPORT_MS = 1000;
/** How often the one-line status summary is logged. */
const STATUS_LOG_MS = 60_000;
/** The first summary comes this long after start, when feeds have had time to connect. */
const FIRST_STATUS_LOG_MS = 3000;
/** How long after start-up the feeds may take before "no exchange is reachable" is said. */
const UNREACHABLE_NOTICE_MS = 15_000;

export async function buildIngest(config: Config, logger: Logger, target: RedisTarget, options: IngestOptions = {}): Promise<IngestProcess> {
  const redis = createCommandClient(target.url, logger);
  defineScripts(redis);
  // Leases on a connection of their own: on the writes' connection a renewal would queue
  // behind whole batches of upserts (tens of thousands of markets at start-up), answer after
  // the lease's lifetime, and end the tenure of a process that was working all along.
  const leaseRedis = createCommandClient(target.url, logger, 'leases');
  defineScripts(leaseRedis);
  const keys = options.keys ?? createKeys(config.redisPrefix);

  // ---- One ingester per feed across processes (src/feed-leases.ts) ---------------------------
  // Each configured feed is ingested by whichever process sharing the Redis holds its lease;
  // this one stands by for the others. `feeds` holds the Feeds it ingests now, a new Feed per
  // tenure; the writer writes only markets of held feeds, fenced by their lease.
  const sims = new Map<string, SimExchange>();
  if (config.feeds.includes('sim')) {
    const sim = await startSimExchange({ markets: config.simMarkets, tickMs: config.simTickMs });
    sims.set('sim', sim);
    logger.info({ url: sim.wsUrl, markets: sim.symbols.length }, 'simulated exchange (Binance protocol) listening');
  }
  const feeds: Feed[] = [];
  const writer: BatchWriter = new BatchWriter((markets) => upsertMarkets(redis, keys, markets, leases.fence()), {
    batchMs: config.batchMs,
    logger,
    keep: (market) => leases.holds(market.exchange),
  });
  const leases: FeedLeases<FeedId> = new FeedLeases({
    redis: leaseRedis,
    keys,
    ids: config.feeds,
    held: feeds,
    writer,
    logger,
    create: (id) => {
      const feed: Feed = new Feed({
        adapter: createAdapter(id, adapterOptions(config, id, sims.get(id) ?? null)),
        symbols: symbolChoice(config, id),
        listingRefreshMs: config.listingRefreshMs,
        onMarket: (market) => writer.push(market),
        onSymbolsChange: ({ removed }) => coverage.symbolsChanged(feed, removed),
        logger,
        maxFramesPerSecond: config.feedMaxFramesPerSecond,
        timing: options.feedTiming,
        onStatusChange: (health) =>
          void reportHealth().then(() => {
            if (leases.holds(health.exchange)) announceFeedStatus(redis, keys, health.exchange).catch((err: unknown) => healthWrites.failed(err));
            try {
              options.onFeedStatus?.(health);
            } catch (err) {
              logger.error({ err }, 'onFeedStatus threw');
            }
          }),
      });
      return feed;
    },
    // Coverage and health follow the feeds held (a standby writes neither for a feed).
    onChange: () => {
      coverage.republish();
      void reportHealth();
    },
  });
  // ---- end of feed leases --------------------------------------------------------------------

  // Writes every market again when Redis comes back without them (restart, flush, failover).
  const stateGuard = new StateGuard({
    redis,
    markerKey: keys.ingestMarker(keys.instance),
    restore: () => feeds.reduce((queued, feed) => queued + writer.restore(feed.latestMarkets()), 0),
    onRestore: () => {
      coverage.republish();
      void reportHealth();
    },
    logger,
  });
  // Delisted markets and markets nobody ingests leave the live state (live-coverage.ts).
  const coverage = new LiveCoverage({ redis, keys, writer, feeds, tenure: (feed) => leases.lease(feed), markerWritten: () => stateGuard.check(), logger });
  const unreachable = new UnreachableNotice(feeds, logger, options.unreachableNoticeMs ?? UNREACHABLE_NOTICE_MS);
  const timers: NodeJS.Timeout[] = [];

  const healthWrites = new FailureStreak(logger, 'feed health writes', 'other processes see these feeds as DOWN once their reports expire');
  async function reportHealth(): Promise<void> {
    try {
      await writeFeedHealth(redis, keys, feeds.filter((f) => leases.holds(f.exchange)).map((f) => f.health()));
      healthWrites.succeeded();
    } catch (err) {
      healthWrites.failed(err);
    }
  }

  async function logStatus(): Promise<void> {
    const markets = await redis.zcard(keys.ids).catch(() => null);
    const feedStates = Object.fromEntries(feeds.map((f) => [f.exchange, f.health().status]));
    logger.info({ feeds: feedStates, markets, written: writer.stats.written }, `status: ${markets ?? '?'} markets; feeds ${JSON.stringify(feedStates)}`);
  }

  return {
    feeds,
    writer,
    redis,
    leaseRedis,
    keys,
    metricSources: { feeds: () => feeds.map((f) => f.health()), writer, restores: () => stateGuard.stats.restores },
    async start() {
      if (!(await whenReady(redis, REDIS_START_WAIT_MS))) logger.warn({ url: target.url }, 'Redis is not reachable yet; ingesting and retrying');
      if (config.feeds.length > 0) stateGuard.start();
      await leases.start();
      unreachable.start();
      timers.push(setInterval(() => void reportHealth(), HEALTH_REPORT_MS));
      timers.push(setTimeout(() => void logStatus(), FIRST_STATUS_LOG_MS));
      timers.push(setInterval(() => void logStatus(), STATUS_LOG_MS));
      for (const t of timers) t.unref();
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      unreachable.stop();
      await leases.stopFeeds();
      await writer.stop();
      await coverage.stop();
      stateGuard.stop();
      await reportHealth();
      // Last: a standby elsewhere takes the feeds over at once, with everything written.
      await leases.release();
      await Promise.all([redis.quit().catch(() => {}), leaseRedis.quit().catch(() => {})]);
      await Promise.all([...sims.values()].map((s) => s.close()));
    },
  };
}

/**
 * First contact without a network: when no feed has gone live and every feed has failed to
 * connect, say so once, with the offline alternative, instead of a warning per retry. The
 * feeds keep retrying with backoff, quietly, and count every failure in `feeds`.
 */
class UnreachableNotice {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly feeds: readonly Feed[],
    private readonly logger: Logger,
    private readonly afterMs: number,
  ) {}

  start(): void {
    const real = this.feeds.filter((feed) => feed.exchange !== 'sim');
    if (real.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const health = real.map((feed) => feed.health());
      if (health.some((h) => h.status === 'LIVE' || h.errors === 0)) return;
      this.logger.warn(
        { feeds: Object.fromEntries(health.map((h) => [h.exchange, h.lastError])) },
        `no exchange is reachable from here (${health.map((h) => h.exchange).join(', ')}); tickql keeps retrying with backoff, quietly (failures are counted in the feeds query). Offline? Try \`npm run demo\`, which ingests a built-in simulated exchange`,
      );
    }, this.afterMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
