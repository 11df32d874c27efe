/**
 * Latency of `markets` at a given universe size, measured three ways in one run:
 * - lua:    the queryMarkets script alone (one round trip to Redis);
 * - http:   a full GraphQL POST to a running yoga server over loopback (what a client sees);
 * - baseline fetch-and-sort: HGETALL every market into Node, then filter, sort and page
 *   there (test/support/reference-query.ts), as most teams start.
 * Requests run one at a time, so figures are per-request latency, not throughput.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { Market } from '../src/ingest/market';
import { silentLogger } from '../src/logger';
import { createKeys } from '../src/redis/keys';
import { decodeMarket } from '../src/redis/market-codec';
import { queryMarkets, type MarketQuery } from '../src/redis/query-markets';
import { defineScripts } from '../src/redis/scripts';
import { upsertMarkets } from '../src/redis/upsert-markets';
import { createYogaServer } from '../src/server/yoga';
import { Staleness } from '../src/staleness';
import { PriceUpdates } from '../src/subscriptions/price-updates';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { referenceQuery } from '../test/support/reference-query';
import { syntheticMarkets } from './synthetic-markets';
import { summarize, type Summary } from './stats';

export interface QueryCase {
  readonly name: string;
  readonly query: MarketQuery;
  readonly graphql: string;
}

export const QUERY_CASES: readonly QueryCase[] = [
  {
    name: 'top 50 by quote volume',
    query: { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: {}, offset: 0, limit: 50 },
    graphql: '{ markets(page: { limit: 50 }) { total items { id price quoteVolume24h changePercent24h } } }',
  },
  {
    name: 'USDT on binance+okx by change',
    query: { sort: { field: 'changePercent24h', direction: 'desc' }, filter: { quotes: ['USDT'], exchanges: ['binance', 'okx'] }, offset: 0, limit: 50 },
    graphql: '{ markets(sort: { field: CHANGE_PERCENT_24H }, filter: { quotes: ["USDT"], exchanges: ["binance", "okx"] }) { total items { id price changePercent24h } } }',
  },
  {
    name: 'search "BTC"',
    query: { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { search: 'BTC' }, offset: 0, limit: 50 },
    graphql: '{ markets(filter: { search: "BTC" }) { total items { id price } } }',
  },
  {
    name: 'deep page (offset 5000)',
    query: { sort: { field: 'price', direction: 'asc' }, filter: {}, offset: 5000, limit: 50 },
    graphql: '{ markets(sort: { field: PRICE, direction: ASC }, page: { offset: 5000, limit: 50 }) { total items { id price } } }',
  },
];

export interface SeedResult {
  /** Redis `used_memory` growth per market, all indexes included. */
  readonly bytesPerMarket: number;
}

export interface QueryResult {
  readonly name: string;
  readonly lua: Summary;
  readonly http: Summary;
  readonly baseline: Summary;
}

async function time(iterations: number, fn: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < Math.min(50, iterations); i++) await fn(); // warm up
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return summarize(samples);
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN);
}

export async function benchMarketsQuery(redisUrl: string, size: number, iterations: number): Promise<{ seed: SeedResult; queries: QueryResult[] }> {
  const redis = new Redis(redisUrl);
  const subscriber = new Redis(redisUrl);
  defineScripts(redis);
  const keys = createKeys(`bench${size}`);
  const markets = syntheticMarkets(size, 42);
  const memoryBefore = await usedMemory(redis);
  for (let i = 0; i < markets.length; i += 2000) await upsertMarkets(redis, keys, markets.slice(i, i + 2000));
  const seed = { bytesPerMarket: ((await usedMemory(redis)) - memoryBefore) / size };

  const logger = silentLogger();
  const staleness = new Staleness(redis, keys, 30_000, logger);
  const pubsub = new RedisPubSub({ publisher: redis, subscriber });
  const yoga = createYogaServer({ redis, keys, staleness, priceUpdates: new PriceUpdates(pubsub, keys, logger), configuredFeeds: [] }, logger);
  const server = createServer(yoga).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;

  const fetchAndSort = async (query: MarketQuery) => {
    const all = await redis.hgetall(keys.market);
    const list: Market[] = Object.values(all).map(decodeMarket);
    return referenceQuery(list, query);
  };

  const results: QueryResult[] = [];
  for (const c of QUERY_CASES) {
    // The three must agree, or the comparison means nothing.
    const viaLua = await queryMarkets(redis, keys, c.query);
    const viaBaseline = await fetchAndSort(c.query);
    if (JSON.stringify(viaLua) !== JSON.stringify(viaBaseline)) throw new Error(`${c.name}: Lua and baseline disagree`);
    const body = JSON.stringify({ query: c.graphql });
    const post = async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const json = (await response.json()) as { errors?: unknown };
      if (json.errors) throw new Error(JSON.stringify(json.errors));
    };
    results.push({
      name: c.name,
      lua: await time(iterations, () => queryMarkets(redis, keys, c.query)),
      http: await time(iterations, post),
      baseline: await time(Math.max(20, Math.floor(iterations / 10)), () => fetchAndSort(c.query)),
    });
  }

  server.close();
  await redis.flushdb(); // the bench's own private server
  redis.disconnect();
  subscriber.disconnect();
  return { seed, queries: results };
}
