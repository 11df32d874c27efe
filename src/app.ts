/**
 * buildApp wires the pieces: Redis connections, ingest (feeds -> batch writer -> Lua upsert),
 * the GraphQL server (yoga over HTTP and SSE, graphql-ws over WebSocket), and the background
 * jobs (feed health reports, staleness refresh, status log). It returns { start, stop }.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import type { Config, FeedId } from './config';
import type { Services } from './context';
import { BatchWriter } from './ingest/batch-writer';
import type { ConnectionTiming } from './ingest/connection';
import { Feed } from './ingest/feed';
import { FeedLeases } from './feed-leases';
import { LiveCoverage } from './live-coverage';
import { StateGuard } from './ingest/state-guard';
import { adapterOptions, createAdapter, symbolChoice } from './ingest/registry';
import { startSimExchange, type SimExchange } from './ingest/sim/sim-exchange';
import type { Logger } from './logger';
import { Metrics } from './metrics';
import { createCommandClient, createRedisClient, whenReady, type RedisTarget } from './redis/connect';
import { writeFeedHealth } from './redis/feed-health';
import { createKeys } from './redis/keys';
import { defineScripts } from './redis/scripts';
import { cachedMarketSource } from './redis/page-cache';
import { redisMarketSource } from './redis/query-markets';
import { upsertMarkets } from './redis/upsert-markets';
import { AccessControl } from './server/access-control';
import { attachGraphqlWs, type GraphqlWsServer } from './server/graphql-ws';
import { withOpsRoutes } from './server/ops-routes';
import { createYogaServer, GRAPHQL_PATH } from './server/yoga';
import { Staleness } from './staleness';
import { createPricePubSub } from './subscriptions/price-pubsub';
import { PriceUpdates } from './subscriptions/price-updates';

export interface App {
  readonly services: Services;
  readonly feeds: readonly Feed[];
  readonly writer: BatchWriter;
  /** The GraphQL URL, known once started. */
  url(): string;
  /** graphql-ws's shared-subscription counters (server/shared-subscriptions.ts); null before start. */
  subscriptionStats(): Pick<GraphqlWsServer, 'sharedPayloads' | 'sharedDelivery'> | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AppOptions {
  /** See `GraphqlWsOptions.sharePayloads`; default true. The bench turns it off to compare. */
  readonly sharePayloads?: boolean;
  /** Overrides the feeds' connection timing (tests use a short silence limit). */
  readonly feedTiming?: ConnectionTiming;
  /** How long the feeds may take before "no exchange is reachable" is said. Default 15 000 ms. */
  readonly unreachableNoticeMs?: number;
}

/** How long in-flight HTTP requests may take to finish at shutdown. */
const HTTP_DRAIN_MS = 3000;
/** How often Node checks open HTTP requests against HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS. */
const CONNECTIONS_CHECK_MS = 1000;
/** How long start-up waits for Redis before serving anyway. */
const REDIS_START_WAIT_MS = 3000;
/** Distinct `markets` queries whose pages are kept in memory. */
const PAGE_CACHE_ENTRIES = 1000;
/** How often feed health is written to Redis (it expires after FEED_HEALTH_TTL_MS). */
const HEALTH_REPORT_MS = 1000;
/** How often the one-line status summary is logged. */
const STATUS_LOG_MS = 60_000;
/** The first summary comes this long after start, when feeds have had time to connect. */
const FIRST_STATUS_LOG_MS = 3000;

export async function buildApp(config: Config, logger: Logger, target: RedisTarget, options: AppOptions = {}): Promise<App> {
  const redis = createCommandClient(target.url, logger);
  defineScripts(redis);
  const subscriber = createRedisClient(target.url, 'subscriber', logger);
  const pubsub = createPricePubSub(redis, subscriber);
  const keys = createKeys(config.redisPrefix);

  const staleness = new Staleness(redis, keys, config.staleAfterMs, logger);
  const priceUpdates = new PriceUpdates(pubsub, keys, logger);
  const services: Services = {
    redis,
    keys,
    marketSource: cachedMarketSource(redisMarketSource(redis, keys), {
      freshMs: config.queryCacheMs,
      staleMs: Math.max(config.queryCacheMs, config.queryCacheStaleMs),
      maxEntries: PAGE_CACHE_ENTRIES,
    }),
    staleness,
    priceUpdates,
    configuredFeeds: config.feeds,
  };

  // ---- One ingester per feed across processes (feed-leases.ts) ------------------------------
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
    redis,
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
        // This process knows its own feeds' status at once; others learn it within a second.
        onStatusChange: () => void reportHealth().then(() => staleness.refresh().catch(() => {})),
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

  let ws: GraphqlWsServer | null = null;
  const metrics = new Metrics({
    feeds: () => feeds.map((f) => f.health()),
    writer,
    webSocketClients: () => ws?.wss.clients.size ?? 0,
    subscriptions: () => priceUpdates.stats(),
    restores: () => stateGuard.stats.restores,
    webSocketLimits: () => ({
      slowClientsClosed: ws?.slowClientStats.closed ?? 0,
      sseStreamsCut: ws?.slowClientStats.streamsCut ?? 0,
      outboundWaits: ws?.slowClientStats.outboundWaits ?? 0,
      rateLimited: ws?.limitStats.rateLimited ?? 0,
      subscriptionsRefused: ws?.limitStats.subscriptionsRefused ?? 0,
    }),
  });
  const access = new AccessControl(config.access, (reason, transport) => metrics.refused(reason, transport));
  const yoga = createYogaServer(services, logger, config.graphql, [metrics.plugin(), access.plugin()]);
  const readiness = {
    notReady: () => {
      const problems: Record<string, string> = {};
      if (redis.status !== 'ready') problems.redis = `command connection ${redis.status}`;
      if (subscriber.status !== 'ready') problems.redisSubscriber = `subscriber connection ${subscriber.status}`;
      return problems;
    },
  };
  const server: Server = createServer(
    {
      headersTimeout: config.access.headersTimeoutMs,
      requestTimeout: config.access.requestTimeoutMs,
      // How often Node looks for requests over those timeouts (default 30 s).
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    access.guardMetrics(withOpsRoutes(yoga, readiness, metrics)),
  );
  if (config.access.maxSockets > 0) server.maxConnections = config.access.maxSockets;
  const timers: NodeJS.Timeout[] = [];

  let healthWriteError = '';
  async function reportHealth(): Promise<void> {
    try {
      await writeFeedHealth(redis, keys, feeds.filter((f) => leases.holds(f.exchange)).map((f) => f.health()));
      healthWriteError = '';
    } catch (err) {
      // Once per outage, not once a second.
      const message = err instanceof Error ? err.message : String(err);
      if (message !== healthWriteError) logger.warn({ err }, 'could not write feed health');
      healthWriteError = message;
    }
  }

  async function logStatus(): Promise<void> {
    const markets = await redis.zcard(keys.ids).catch(() => null);
    const feedStates = Object.fromEntries(feeds.map((f) => [f.exchange, f.health().status]));
    logger.info({ feeds: feedStates, markets, written: writer.stats.written }, `status: ${markets ?? '?'} markets; feeds ${JSON.stringify(feedStates)}`);
  }

  function url(): string {
    const address = server.address() as AddressInfo | null;
    if (!address) throw new Error('not started');
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}${GRAPHQL_PATH}`;
  }

  return {
    services,
    feeds,
    writer,
    url,
    subscriptionStats: () => (ws ? { sharedPayloads: { ...ws.sharedPayloads }, sharedDelivery: { ...ws.sharedDelivery } } : null),
    async start() {
      // Serve even if Redis is not there yet: /readyz says so and queries fail fast.
      if (!(await whenReady(redis, REDIS_START_WAIT_MS))) logger.warn({ url: target.url }, 'Redis is not reachable yet; serving and retrying');
      await staleness.start();
      metrics.startRedisProbe(redis);
      server.listen(config.port, config.host);
      await once(server, 'listening');
      ws = attachGraphqlWs(server, yoga, { logger, sharePayloads: options.sharePayloads ?? true, access: access.webSocket(), limits: config.websocket });
      const slowClients = ws.slowClients;
      server.on('request', (req, res) => {
        if (req.headers.accept?.includes('text/event-stream')) slowClients.watchStream(req.socket, res);
      });
      if (config.feeds.length > 0) stateGuard.start();
      await leases.start();
      unreachable.start();
      timers.push(setInterval(() => void reportHealth(), HEALTH_REPORT_MS));
      timers.push(setTimeout(() => void logStatus(), FIRST_STATUS_LOG_MS));
      timers.push(setInterval(() => void logStatus(), STATUS_LOG_MS));
      for (const t of timers) t.unref();
      logger.info(
        { url: url(), feeds: config.feeds, redisPrefix: config.redisPrefix },
        `tickql listening: GraphiQL and GraphQL at ${url()} (WebSocket and SSE subscriptions on the same path); feeds: ${config.feeds.join(', ') || 'none (serve only)'}`,
      );
    },
    /**
     * Shutdown, in an order that loses nothing: stop accepting connections; close WebSocket
     * subscriptions with 1001 (going away); stop the feeds and flush every pending market
     * write; let in-flight HTTP requests finish for up to HTTP_DRAIN_MS (then cut what is
     * left, such as SSE streams, which never end by themselves); then close Redis.
     */
    async stop() {
      for (const t of timers) clearInterval(t);
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await ws?.close();
      unreachable.stop();
      await leases.stopFeeds();
      await writer.stop();
      await coverage.stop();
      stateGuard.stop();
      await reportHealth();
      await leases.release();
      const drained = await Promise.race([httpClosed.then(() => true), delay(HTTP_DRAIN_MS).then(() => false)]);
      if (!drained) server.closeAllConnections();
      await httpClosed;
      staleness.stop();
      metrics.stop();
      priceUpdates.close();
      await Promise.allSettled([subscriber.quit(), redis.quit()]);
      await Promise.all([...sims.values()].map((s) => s.close()));
      await target.privateServer?.stop();
    },
  };
}

/** How long after start-up the feeds may take before "no exchange is reachable" is said. */
const UNREACHABLE_NOTICE_MS = 15_000;

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
