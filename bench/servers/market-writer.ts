/**
 * Steady background writes during the query benchmark, in its own process: RATE market
 * updates per second (random markets of the SIZE-market synthetic universe, prices on a
 * random walk), in a batch every 20 ms as ingest writes them.
 *   TARGET=redis     lua/upsertMarkets-n.lua, the service's own write path (indexes + publish)
 *   TARGET=postgres  one UPDATE ... FROM unnest(...) per batch
 * Env: REDIS_URL, REDIS_PREFIX, POSTGRES_URL, SIZE, RATE, and UNIVERSE_FILE: a JSON array of
 * markets to move instead of SIZE synthetic ones (the markets another system was measured
 * with, so both stores hold the same universe). Reports what it achieved on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Market } from '../../src/market';
import { createPrng } from '../../src/ingest/sim/prng';
import { createKeys } from '../../src/redis/keys';
import { defineScripts } from '../../src/redis/scripts';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { announceReady, onStop } from '../lib/processes';
import { syntheticMarkets } from '../lib/synthetic-markets';
import { updateMarkets } from '../sources/postgres';

const env = process.env;
const size = Number(env.SIZE);
const rate = Number(env.RATE);
const TICK_MS = 20;
const markets: Market[] = env.UNIVERSE_FILE ? (JSON.parse(readFileSync(env.UNIVERSE_FILE, 'utf8')) as Market[]) : syntheticMarkets(size, 42);
const random = createPrng(7);

let write: (batch: Market[]) => Promise<unknown>;
let close: () => Promise<unknown>;
if (env.TARGET === 'postgres') {
  const pool = new pg.Pool({ connectionString: env.POSTGRES_URL, max: 2 });
  write = (batch) => updateMarkets(pool, batch);
  close = () => pool.end();
} else {
  const redis = new Redis(env.REDIS_URL!);
  defineScripts(redis);
  const keys = createKeys(env.REDIS_PREFIX ?? 'bench');
  write = (batch) => upsertMarkets(redis, keys, batch);
  close = async () => redis.disconnect();
}

function moved(m: Market, now: number): Market {
  const price = m.price * (1 + (random() - 0.5) * 0.002);
  const open = m.open24h ?? price;
  const bid = price * (1 - random() * 0.0005);
  const ask = price * (1 + random() * 0.0005);
  return {
    ...m,
    price,
    bid,
    ask,
    volume24h: (m.volume24h ?? 0) + random(),
    quoteVolume24h: (m.quoteVolume24h ?? 0) + random() * price,
    change24h: price - open,
    changePercent24h: ((price - open) / open) * 100,
    spreadPercent: ((ask - bid) / ((ask + bid) / 2)) * 100,
    updatedAt: now,
    receivedAt: now,
  };
}

const started = Date.now();
let written = 0;
let lateTicks = 0;
let busy = false;
const timer = setInterval(() => {
  if (busy) {
    lateTicks++; // the store is slower than the offered rate; the report says so
    return;
  }
  const now = Date.now();
  const due = Math.floor(((now - started) / 1000) * rate) - written;
  if (due <= 0) return;
  const batch: Market[] = [];
  for (let i = 0; i < due; i++) {
    const index = Math.floor(random() * markets.length);
    markets[index] = moved(markets[index]!, now);
    batch.push(markets[index]!);
  }
  busy = true;
  write(batch).then(
    () => {
      written += batch.length;
      busy = false;
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}, TICK_MS);

onStop(async () => {
  clearInterval(timer);
  await close();
  const seconds = (Date.now() - started) / 1000;
  return { written, seconds, perSecond: written / seconds, lateTicks };
});
announceReady({ size: markets.length, rate });
