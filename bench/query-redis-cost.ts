/**
 * Redis time of one `markets` script call per query shape: `npx tsx bench/query-redis-cost.ts`.
 *
 * Fills a private redis-server with 10,000 synthetic markets (the bench's usual universe,
 * bench/lib/synthetic-markets.ts) through the upsert script, then runs lua/queryMarkets-n.lua
 * CALLS times per shape, one call at a time, and prints the plan the script chose and Redis's
 * own microseconds per call (`INFO commandstats`, evalsha): the server's time, whatever the
 * client or the machine does meanwhile. No writes run during the calls.
 */
import { Redis } from 'ioredis';
import { createKeys } from '../src/redis/keys';
import { startLocalRedis } from '../src/redis/local-server';
import { queryMarkets, type MarketQuery } from '../src/redis/query-markets';
import { defineScripts } from '../src/redis/scripts';
import { upsertMarkets } from '../src/redis/upsert-markets';
import { syntheticMarkets } from './lib/synthetic-markets';

const MARKETS = 10_000;
const CALLS = 200;

const SHAPES: Record<string, MarketQuery> = {
  'top 50 by quote volume': { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: {}, offset: 0, limit: 50 },
  'USDT on binance+okx by change': { sort: { field: 'changePercent24h', direction: 'desc' }, filter: { quotes: ['USDT'], exchanges: ['binance', 'okx'] }, offset: 0, limit: 50 },
  'search "BTC"': { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { search: 'BTC' }, offset: 0, limit: 50 },
  'deep page (price ascending, offset 5,000)': { sort: { field: 'price', direction: 'asc' }, filter: {}, offset: 5000, limit: 50 },
};

const server = await startLocalRedis();
const redis = new Redis(server.url);
defineScripts(redis);
const keys = createKeys('cost');
try {
  const markets = syntheticMarkets(MARKETS, 42);
  for (let i = 0; i < markets.length; i += 2000) await upsertMarkets(redis, keys, markets.slice(i, i + 2000));
  console.log(`| shape | plan | matching | Redis µs per call |\n|---|---|---|---|`);
  for (const [name, query] of Object.entries(SHAPES)) {
    await redis.config('RESETSTAT');
    let last = await queryMarkets(redis, keys, query);
    for (let i = 1; i < CALLS; i++) last = await queryMarkets(redis, keys, query);
    const stats = (await redis.info('commandstats')).split('\n').find((line) => line.startsWith('cmdstat_evalsha'));
    const usPerCall = Number(/usec_per_call=([\d.]+)/.exec(stats ?? '')?.[1]);
    console.log(`| ${name} | ${last.plan} | ${last.total.toLocaleString('en')} | ${usPerCall.toFixed(0)} |`);
  }
} finally {
  redis.disconnect();
  await server.stop();
}
