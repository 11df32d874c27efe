/**
 * Redis time of lua/upsertMarkets-n.lua per market written, against the same script at an
 * earlier revision: `npx tsx bench/upsert-redis-cost.ts` (baseline revision:
 * `UPSERT_BASELINE_REV`, default c5d1eaf, the script before the per-quote indexes).
 *
 * A private redis-server; 10,000 synthetic markets (seven quote assets) written once under each
 * script's own prefix; then blocks of batches of 256 markets (an ingest flush's chunk), each
 * market with a new price, quote volume and event time, the two scripts taking turns block by
 * block on the same batches. Redis's own time per call (`INFO commandstats`, EVALSHA), divided
 * by the markets per call. The baseline gets the keys its revision took: the same fixed keys
 * less the quotes zset, and three per market (its exchange, base and quote zsets).
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Market } from '../src/market';
import { createKeys, USD_FIELDS } from '../src/redis/keys';
import { startLocalRedis } from '../src/redis/local-server';
import { upsertArguments } from '../src/redis/upsert-markets';
import { syntheticMarkets } from './lib/synthetic-markets';

const MARKETS = 10_000;
const BATCH = 256;
const BLOCKS = 8;
const CALLS_PER_BLOCK = 50;
const revision = process.env.UPSERT_BASELINE_REV ?? 'c5d1eaf';

const current = execFileSync('git', ['show', 'HEAD:lua/upsertMarkets-n.lua'], { encoding: 'utf8' });
const baseline = execFileSync('git', ['show', `${revision}:lua/upsertMarkets-n.lua`], { encoding: 'utf8' });

const server = await startLocalRedis();
const redis = new Redis(server.url);
try {
  const sha = { current: (await redis.script('LOAD', current)) as string, baseline: (await redis.script('LOAD', baseline)) as string };
  const keys = { current: createKeys('cur'), baseline: createKeys('base') };

  /** The call for `markets` in the layout of `script`. */
  function call(script: 'current' | 'baseline', markets: readonly Market[]): Promise<unknown> {
    const { keys: scriptKeys, args } = upsertArguments(keys[script], markets);
    if (script === 'baseline') {
      // Before: 12 fixed keys (no quotes zset) and 3 per market (no per-quote indexes).
      const fixed = scriptKeys.slice(0, 12);
      const perMarket = 3 + USD_FIELDS.length;
      const sets = markets.flatMap((_, i) => scriptKeys.slice(13 + i * perMarket, 13 + i * perMarket + 3));
      return redis.evalsha(sha.baseline, fixed.length + sets.length, ...fixed, ...sets, ...args);
    }
    return redis.evalsha(sha.current, scriptKeys.length, ...scriptKeys, ...args);
  }

  const universe = syntheticMarkets(MARKETS, 42);
  for (let start = 0; start < universe.length; start += BATCH) {
    await call('current', universe.slice(start, start + BATCH));
    await call('baseline', universe.slice(start, start + BATCH));
  }

  let tick = 1;
  /** The next batch: BATCH markets in turn, each moved a little, with a later event time. */
  function nextBatch(): Market[] {
    const batch: Market[] = [];
    for (let i = 0; i < BATCH; i++) {
      const m = universe[(tick * 7919 + i * 104729) % universe.length]!;
      const moved = 1 + ((tick + i) % 13) / 10_000;
      batch.push({ ...m, price: m.price * moved, quoteVolume24h: m.quoteVolume24h === null ? null : m.quoteVolume24h * moved, updatedAt: m.updatedAt + tick });
    }
    tick++;
    return batch;
  }

  const micros = { current: 0, baseline: 0 };
  const calls = { current: 0, baseline: 0 };
  for (let block = 0; block < BLOCKS; block++) {
    const batches = Array.from({ length: CALLS_PER_BLOCK }, nextBatch);
    for (const script of block % 2 === 0 ? (['current', 'baseline'] as const) : (['baseline', 'current'] as const)) {
      await redis.config('RESETSTAT');
      for (const batch of batches) await call(script, batch);
      const line = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? '';
      micros[script] += Number(/usec=(\d+)/.exec(line)?.[1]);
      calls[script] += batches.length;
    }
  }
  const perMarket = (script: 'current' | 'baseline') => micros[script] / (calls[script] * BATCH);
  console.log(`| script | calls of ${BATCH} markets | Redis µs per market written |\n|---|---|---|`);
  console.log(`| at ${revision} (before the per-quote indexes) | ${calls.baseline} | ${perMarket('baseline').toFixed(2)} |`);
  console.log(`| HEAD | ${calls.current} | ${perMarket('current').toFixed(2)} |`);
  console.log(`\nHEAD / ${revision}: ${(perMarket('current') / perMarket('baseline')).toFixed(2)}x`);
} finally {
  redis.disconnect();
  await server.stop();
}
