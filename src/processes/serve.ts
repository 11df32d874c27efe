/**
 * A serving process: the GraphQL API (yoga over HTTP and SSE, graphql-ws over WebSocket),
 * subscriptions carried by Redis pub/sub, `/healthz`, `/readyz` and `/metrics`. It reads
 * exchange frames never: the ingest process writes the live state, and this process reads it
 * from Redis. Any number of them share `PORT` (src/processes/supervisor.ts).
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import type { Services } from '../context';
import type { Logger } from '../logger';
import { Metrics, type MetricSources } from '../metrics';
import { createCommandClient, createRedisClient, whenReady, type RedisTarget } from '../redis/connect';
import { createKeys, type Keys } from '../redis/keys';
import { defineScripts } from '../redis/scripts';
import { cachedMarketSource } from '../redis/page-cache';
import { redisMarketSource } from '../redis/query-markets';
import { QuoteRates } from '../quote-rates';
import { Staleness } from '../staleness';
import { createPricePubSub } from '../subscriptions/price-pubsub';
import { PriceUpdates } from '../subscriptions/price-updates';
import { AccessControl } from '../server/access-control';
import { attachGraphqlWs, type GraphqlWsServer } from '../delivery/graphql-ws';
import { withOpsRoutes, type MetricsEndpoint } from '../server/ops-routes';
import { createYogaServer, GRAPHQL_PATH } from '../server/yoga';

export interface ServeOptions {
  /** See `GraphqlWsOptions.sharePayloads`; default true. The bench turns it off to compare. */
  readonly sharePayloads?: boolean;
  /** More metric sources of this process (an ingest running in the same process). */
  readonly metricSources?: Pick<MetricSources, 'feeds' | 'writer' | 'restores'>;
  /** Answers `/metrics` for the whole instance instead of this process (the supervisor's sum). */
  readonly instanceMetrics?: MetricsEndpoint;
  /** Problems of the instance beyond this process (a worker down), for `/readyz`. */
  readonly instanceProblems?: () => Promise<Record<string, string>>;
  /** Key names, when shared with an ingest side in the same process. */
  readonly keys?: Keys;
}

export interface ServeProcess {
  readonly services: Services;
  readonly metrics: Metrics;
  /** The GraphQL URL, known once started. */
  url(): string;
  /** graphql-ws's shared-subscription counters (delivery/shared-subscriptions.ts); null before start. */
  subscriptionStats(): Pick<GraphqlWsServer, 'sharedPayloads' | 'sharedDelivery'> | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How long in-flight HTTP requests may take to finish at shutdown. */
const HTTP_DRAIN_MS = 3000;
/** How often Node checks open HTTP requests against HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS. */
const CONNECTIONS_CHECK_MS = 1000;
/** How long start-up waits for Redis before serving anyway. */
const REDIS_START_WAIT_MS = 3000;
/** Distinct `markets` queries whose pages are kept in memory when QUERY_CACHE_MS opts in. */
const PAGE_CACHE_ENTRIES = 1000;

export async function buildServer(config: Config, logger: Logger, target: RedisTarget, options: ServeOptions = {}): Promise<ServeProcess> {
  const redis = createCommandClient(target.url, logger);
  defineScripts(redis);
  const subscriber = createRedisClient(target.url, 'subscriber', logger);
  const pubsub = createPricePubSub(redis, subscriber, logger);
  const keys = options.keys ?? createKeys(config.redisPrefix);

  const staleness = new Staleness(redis, keys, config.staleAfterMs, logger);
  staleness.listen(subscriber);
  const quoteRates = new QuoteRates(redis, keys, (market, now) => staleness.isStale(market, now), logger);
  const priceUpdates = new PriceUpdates(pubsub, keys, logger);
  const services: Services = {
    redis,
    keys,
    marketSource: cachedMarketSource(redisMarketSource(redis, keys), {
      freshMs: config.queryCacheMs,
      staleMs: config.queryCacheStaleMs,
      maxEntries: PAGE_CACHE_ENTRIES,
    }),
    staleness,
    quoteRates,
    priceUpdates,
    // A serve-only instance ingests nothing: FEEDS (all five by default) is not its to report.
    configuredFeeds: config.role === 'serve' ? [] : config.feeds,
  };

  let ws: GraphqlWsServer | null = null;
  const metrics = new Metrics({
    ...options.metricSources,
    webSocketClients: () => ws?.wss.clients.size ?? 0,
    subscriptions: () => priceUpdates.stats(),
    webSocketLimits: () => ({
      slowClientsClosed: ws?.slowClientStats.closed ?? 0,
      sseStreamsCut: ws?.slowClientStats.streamsCut ?? 0,
      outboundWaits: ws?.slowClientStats.outboundWaits ?? 0,
      rateLimited: ws?.limitStats.rateLimited ?? 0,
      subscriptionsRefused: ws?.limitStats.subscriptionsRefused ?? 0,
    }),
  });
  const access = new AccessControl(config.access, (reason, transport) => metrics.refused(reason, transport));
  const yoga = createYogaServer(services, logger, config.graphql, [metrics.plugin(), access.plugin()], config.http);
  const readiness = {
    notReady: async () => {
      const problems: Record<string, string> = {};
      if (redis.status !== 'ready') problems.redis = `command connection ${redis.status}`;
      if (subscriber.status !== 'ready') problems.redisSubscriber = `subscriber connection ${subscriber.status}`;
      return { ...problems, ...(await options.instanceProblems?.()) };
    },
  };
  const server: Server = createServer(
    {
      headersTimeout: config.access.headersTimeoutMs,
      requestTimeout: config.access.requestTimeoutMs,
      // How often Node looks for requests over those timeouts (default 30 s).
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    access.guardMetrics(withOpsRoutes(yoga, readiness, options.instanceMetrics ?? metrics)),
  );
  if (config.access.maxSockets > 0) server.maxConnections = config.access.maxSockets;

  function url(): string {
    const address = server.address() as AddressInfo | null;
    if (!address) throw new Error('not started');
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}${GRAPHQL_PATH}`;
  }

  return {
    services,
    metrics,
    url,
    subscriptionStats: () => (ws ? { sharedPayloads: { ...ws.sharedPayloads }, sharedDelivery: { ...ws.sharedDelivery } } : null),
    async start() {
      // Serve even if Redis is not there yet: /readyz says so and queries fail fast.
      if (!(await whenReady(redis, REDIS_START_WAIT_MS))) logger.warn({ url: target.url }, 'Redis is not reachable yet; serving and retrying');
      await staleness.start();
      await quoteRates.start();
      metrics.startRedisProbe(redis);
      server.listen(config.port, config.host);
      await once(server, 'listening');
      ws = attachGraphqlWs(server, yoga, { logger, sharePayloads: options.sharePayloads ?? true, access: access.webSocket(), limits: config.websocket });
      const slowClients = ws.slowClients;
      server.on('request', (req, res) => {
        if (req.headers.accept?.includes('text/event-stream')) slowClients.watchStream(req.socket, res);
      });
    },
    /**
     * Shutdown, in an order that loses nothing: stop accepting connections; close WebSocket
     * subscriptions with 1001 (going away); let in-flight HTTP requests finish for up to
     * HTTP_DRAIN_MS (then cut what is left, such as SSE streams, which never end by
     * themselves); then close Redis.
     */
    async stop() {
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Every subscription goes with the connection: none is released one by one on the way.
      priceUpdates.close();
      await ws?.close();
      const drained = await Promise.race([httpClosed.then(() => true), delay(HTTP_DRAIN_MS).then(() => false)]);
      if (!drained) server.closeAllConnections();
      await httpClosed;
      staleness.stop();
      quoteRates.stop();
      metrics.stop();
      await Promise.allSettled([subscriber.quit(), redis.quit()]);
    },
  };
}
