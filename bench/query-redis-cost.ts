/**
 * Redis time of one `markets` script call per query shape, on the markets scenario's universe:
 * `npx tsx bench/query-redis-cost.ts` (sizes in markets: `QUERY_COST_SIZES=10000,50000`, the
 * default).
 *
 * For each size it starts tickql as the markets scenario does (bench/lib/live-service.ts: five
 * local exchanges listing an equal share, 5,000 ticker updates/s, the real process tree with
 * WORKERS=1), then calls lua/queryMarkets-n.lua CALLS times per shape of that scenario, one
 * call at a time (and a two-byte search, read off the index and scanned, and the USD shapes:
 * sorted and bounded by USD value at the rates tickql reads, src/quote-rates.ts), with the updates
 * flowing and again with the exchanges paused, and prints the
 * plan the script chose, the matches, and Redis's own microseconds per call: the server's time,
 * whatever the client or the machine does meanwhile.
 *
 * tickql's ingest runs its scripts with EVALSHA, so to tell the query's time apart in `INFO
 * commandstats` this tool loads the same script text as a Redis function of its own and calls
 * it with FCALL (counted as `cmdstat_fcall`); the script runs unchanged.
 */
import type { Redis } from 'ioredis';
import { silentLogger } from '../src/logger';
import { QuoteRates, type RateTable } from '../src/quote-rates';
import { createKeys, type Keys } from '../src/redis/keys';
import { queryMarkets, type MarketQuery, type QueryPlan } from '../src/redis/query-markets';
import { loadScripts } from '../src/redis/scripts';
import { LiveService } from './lib/live-service';
import { buildBundle } from './lib/service';
import { equalListings, shapesFor } from './scenarios/markets-query';

const CALLS = 200;
const UPDATES_PER_SECOND = 5000;
const sizes = (process.env.QUERY_COST_SIZES ?? '10000,50000').split(',').map(Number);

const FUNCTION = 'tickql_query_cost';
const queryScript = loadScripts().find((s) => s.name === 'queryMarkets')!;
const library = `#!lua name=${FUNCTION}\nredis.register_function('${FUNCTION}', function(KEYS, ARGV)\n${queryScript.source}\nend)`;

/** A connection whose `queryMarkets` command is FCALL of the library above: the keys and arguments queryMarkets builds, passed on as they are. */
function viaFunction(redis: Redis): Redis {
  return new Proxy(redis, {
    get(target, name, receiver) {
      if (name !== 'queryMarkets') return Reflect.get(target, name, receiver);
      return (...args: (string | number)[]) => target.call('FCALL', FUNCTION, ...args);
    },
  });
}

/**
 * The markets scenario's shapes, then a two-byte search read off the index and the same search
 * scanned (the plan the script used before the index held 2-byte runs), then the USD shapes at
 * `rates`: the top 50 by USD volume merged from the per-quote indexes and the same page
 * materialized (every market converted), the binance+okx leaderboard in USD, and the movers
 * with at least $1M of volume.
 */
function shapes(size: number, rates: RateTable): Array<{ readonly name: string; readonly query: MarketQuery; readonly plan: QueryPlan }> {
  const twoBytes: MarketQuery = { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { search: 'BT' }, offset: 0, limit: 50 };
  const topUsd: MarketQuery = { sort: { field: 'quoteVolume24hUsd', direction: 'desc' }, filter: {}, offset: 0, limit: 50, rates };
  return [
    ...shapesFor(size).flatMap((shape) => (shape.query === null ? [] : [{ name: shape.name, query: shape.query, plan: 'auto' as const }])),
    { name: 'search "BT"', query: twoBytes, plan: 'auto' },
    { name: 'search "BT", scanned (plan "materialize")', query: twoBytes, plan: 'materialize' },
    { name: 'top 50 by USD volume', query: topUsd, plan: 'auto' },
    { name: 'top 50 by USD volume, every market converted (plan "materialize")', query: topUsd, plan: 'materialize' },
    {
      name: 'binance+okx by USD volume',
      query: { sort: { field: 'quoteVolume24hUsd', direction: 'desc' }, filter: { exchanges: ['binance', 'okx'] }, offset: 0, limit: 50, rates },
      plan: 'auto',
    },
    {
      name: 'at least $1M of USD volume, by change',
      query: { sort: { field: 'changePercent24h', direction: 'desc' }, filter: { ranges: [{ field: 'quoteVolume24hUsd', min: 1e6, max: null }] }, offset: 0, limit: 50, rates },
      plan: 'auto',
    },
  ];
}

/** The rates a serving process would read now (every source taken as live: the feeds are). */
async function currentRates(redis: Redis, keys: Keys): Promise<RateTable> {
  const quoteRates = new QuoteRates(redis, keys, () => false, silentLogger());
  await quoteRates.refresh();
  return quoteRates.current();
}

async function redisMicroseconds(redis: Redis, run: () => Promise<unknown>): Promise<number> {
  await redis.config('RESETSTAT');
  for (let i = 0; i < CALLS; i++) await run();
  const line = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_fcall:'));
  return Number(/usec_per_call=([\d.]+)/.exec(line ?? '')?.[1]);
}

buildBundle();
console.log(`| markets | shape | plan | matching | Redis µs per call, ${UPDATES_PER_SECOND.toLocaleString('en')} updates/s | Redis µs per call, no updates |\n|---|---|---|---|---|---|`);
for (const size of sizes) {
  const live = await LiveService.start({ listings: equalListings(size), updatesPerSecond: UPDATES_PER_SECOND, env: { WORKERS: '1' }, logPrefix: `/tmp/query-redis-cost-${size}`, servedTimeoutMs: 300_000 });
  try {
    await live.admin.call('FUNCTION', 'LOAD', 'REPLACE', library);
    const redis = viaFunction(live.admin);
    const keys = createKeys('tickql');
    const rates = await currentRates(live.admin, keys);
    const unrated = rates.entries.filter((r) => r.rate === null).map((r) => r.quote);
    if (unrated.length > 0) throw new Error(`quote assets without a rate: ${unrated.join(', ')}`);
    for (const { name, query, plan } of shapes(size, rates)) {
      const last = await queryMarkets(redis, keys, query, plan);
      const underWrites = await redisMicroseconds(live.admin, () => queryMarkets(redis, keys, query, plan));
      await live.pause();
      const quiet = await redisMicroseconds(live.admin, () => queryMarkets(redis, keys, query, plan));
      await live.resume();
      console.log(`| ${size.toLocaleString('en')} | ${name} | ${last.plan} | ${last.total.toLocaleString('en')} | ${underWrites.toFixed(0)} | ${quiet.toFixed(0)} |`);
    }
  } finally {
    await live.stop();
  }
}
