import { Redis } from 'ioredis';
import type { Services } from '../../src/context';
import { DEFAULT_GRAPHQL_LIMITS, type GraphqlLimits } from '../../src/config';
import { silentLogger, type Logger } from '../../src/logger';
import { redisMarketSource } from '../../src/redis/query-markets';
import { createYogaServer, type TickqlYoga } from '../../src/server/yoga';
import { QuoteRates } from '../../src/quote-rates';
import { Staleness } from '../../src/staleness';
import { createPricePubSub } from '../../src/subscriptions/price-pubsub';
import { PriceUpdates } from '../../src/subscriptions/price-updates';
import type { TestRedis } from './redis';

export interface TestServer {
  readonly services: Services;
  readonly yoga: TickqlYoga;
  /** POSTs a GraphQL operation to yoga in-process; returns the parsed JSON body. */
  graphql(query: string, variables?: Record<string, unknown>): Promise<{ data?: any; errors?: any[] }>;
  close(): Promise<void>;
}

export async function startTestServer(
  t: TestRedis,
  options: { staleAfterMs?: number; configuredFeeds?: string[]; limits?: Partial<GraphqlLimits>; logger?: Logger } = {},
): Promise<TestServer> {
  const logger = options.logger ?? silentLogger();
  const subscriber = new Redis(t.url);
  const pubsub = createPricePubSub(t.redis, subscriber, logger);
  const staleness = new Staleness(t.redis, t.keys, options.staleAfterMs ?? 30_000, logger, 50);
  await staleness.start();
  // Its own connection, so tests that count the commands of a request do not count its reads.
  const ratesConnection = new Redis(t.url);
  const quoteRates = new QuoteRates(ratesConnection, t.keys, (market, now) => staleness.isStale(market, now), logger, { refreshMs: 50, discoverMs: 50 });
  await quoteRates.start();
  const services: Services = {
    redis: t.redis,
    keys: t.keys,
    marketSource: redisMarketSource(t.redis, t.keys),
    staleness,
    quoteRates,
    priceUpdates: new PriceUpdates(pubsub, t.keys, logger),
    configuredFeeds: options.configuredFeeds ?? [],
  };
  const yoga = createYogaServer(services, logger, { ...DEFAULT_GRAPHQL_LIMITS, ...options.limits });
  return {
    services,
    yoga,
    graphql: async (query, variables) => {
      const response = await yoga.fetch('http://tickql.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: any; errors?: any[] };
    },
    close: async () => {
      staleness.stop();
      quoteRates.stop();
      ratesConnection.disconnect();
      subscriber.disconnect();
    },
  };
}
