/**
 * The GraphQL server under test, in its own process: tickql's yoga server with one of three
 * market sources behind `markets`. Only the source differs between the systems compared.
 *   SOURCE=lua-cached the service's own page source (src/redis/page-cache.ts) in front of
 *                    lua/queryMarkets-n.lua, configured by QUERY_CACHE_MS and
 *                    QUERY_CACHE_STALE_MS as the service is; by default fresh pages, identical
 *                    requests sharing computations not yet sent
 *   SOURCE=lua       the script alone: every request runs it in Redis
 *   SOURCE=fetch     fetch every market from Redis into Node and sort there
 *   SOURCE=postgres  a PostgreSQL table with indexes
 * Env: REDIS_URL, REDIS_PREFIX, POSTGRES_URL (for postgres).
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { createKeys } from '../../src/redis/keys';
import { cachedMarketSource } from '../../src/redis/page-cache';
import { redisMarketSource, type MarketSource } from '../../src/redis/query-markets';
import { defineScripts } from '../../src/redis/scripts';
import { createYogaServer } from '../../src/server/yoga';
import { QuoteRates } from '../../src/quote-rates';
import { Staleness } from '../../src/staleness';
import { PriceUpdates } from '../../src/subscriptions/price-updates';
import { announceReady, onStop } from '../lib/processes';
import { fetchAndSortSource } from '../sources/fetch-and-sort';
import { postgresSource } from '../sources/postgres';

const env = process.env;
const redis = new Redis(env.REDIS_URL!, { enableAutoPipelining: true });
defineScripts(redis);
const keys = createKeys(env.REDIS_PREFIX ?? 'bench');
const pool = env.SOURCE === 'postgres' ? new pg.Pool({ connectionString: env.POSTGRES_URL, max: 8 }) : null;

const sources: Record<string, () => MarketSource> = {
  lua: () => redisMarketSource(redis, keys),
  // The service's page source, as configured (its defaults unless QUERY_CACHE_* are given).
  'lua-cached': () => {
    const config = loadConfig({ QUERY_CACHE_MS: env.QUERY_CACHE_MS, QUERY_CACHE_STALE_MS: env.QUERY_CACHE_STALE_MS });
    return cachedMarketSource(redisMarketSource(redis, keys), { freshMs: config.queryCacheMs, staleMs: config.queryCacheStaleMs, maxEntries: 1000 });
  },
  fetch: () => fetchAndSortSource(redis, keys),
  postgres: () => postgresSource(pool!),
};
const makeSource = sources[env.SOURCE ?? ''];
if (!makeSource) throw new Error(`SOURCE must be one of ${Object.keys(sources).join(', ')}`);

const logger = silentLogger();
const subscriber = new Redis(env.REDIS_URL!, { lazyConnect: true });
const yoga = createYogaServer(
  {
    redis,
    keys,
    marketSource: makeSource(),
    staleness: new Staleness(redis, keys, 30_000, logger),
    // Never started: the compared shapes neither convert to USD nor select USD fields.
    quoteRates: new QuoteRates(redis, keys, () => false, logger),
    priceUpdates: new PriceUpdates(new RedisPubSub({ publisher: redis, subscriber }), keys, logger),
    configuredFeeds: [],
  },
  logger,
);
const server = createServer(yoga).listen(0, '127.0.0.1');
await once(server, 'listening');
onStop(async () => {
  server.close();
  await pool?.end();
  redis.disconnect();
  return { cpu: process.cpuUsage() };
});
announceReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` });
