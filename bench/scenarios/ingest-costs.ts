/**
 * Where one update's CPU goes, measured stage by stage in the bench process (one thread, no
 * other work of its own), on the same frames the simulators send: the floor under the ingest
 * process's own per-update cost, which adds WebSocket framing, the feed's bookkeeping, timers
 * and contention for the cores. Each figure is the least of a few rounds.
 */
import { Redis } from 'ioredis';
import { BatchWriter } from '../../src/ingest/batch-writer';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { MarketBook } from '../../src/ingest/market-book';
import { type Market, type TickerPatch } from '../../src/market';
import { silentLogger } from '../../src/logger';
import { createKeys } from '../../src/redis/keys';
import { defineScripts } from '../../src/redis/scripts';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { tickerFrames } from '../lib/ticker-frames';

export interface StageCosts {
  /** `JSON.parse` of the frame text, µs per frame. */
  readonly jsonParseUs: number;
  /** The Binance adapter's `parse`: JSON.parse, shape checks, strict decimals; µs per frame. */
  readonly adapterParseUs: number;
  /** Bytes -> text -> adapter.parse -> MarketBook.apply -> BatchWriter.push; µs per frame. */
  readonly framePathUs: number;
  /** `upsertMarkets` in Node (JSON of the state, script arguments, ioredis), µs per market written. */
  readonly writeNodeUs: number;
  /** Redis running lua/upsertMarkets-n.lua, µs per market written (INFO cpu). */
  readonly writeRedisUs: number;
  /** Markets per write batch used for the two write figures. */
  readonly writeBatch: number;
}

const MARKETS = 1024;
/** Timed rounds per stage; the least is reported. */
const ROUNDS = 5;

export async function measureStageCosts(redisUrl: string, smoke: boolean): Promise<StageCosts> {
  const rounds = smoke ? 5_000 : 100_000;
  const markets = tickerFrames(MARKETS, 1, 8);
  const adapter = createBinanceAdapter({
    exchange: 'binance',
    wsUrl: 'ws://127.0.0.1/stream?timeUnit=MICROSECOND',
    restUrl: null,
  });
  let eventUs = Date.now() * 1000;
  const frame = (i: number) => {
    const m = markets[i % MARKETS]!;
    const [head, tail] = m.frames[Math.floor(i / MARKETS) % m.frames.length]!;
    return `${head}${eventUs++}${tail}`;
  };
  const texts = Array.from({ length: MARKETS * 8 }, (_, i) => frame(i));

  const jsonParseUs = cpuPerItem(rounds, (i) => JSON.parse(texts[i % texts.length]!));
  const adapterParseUs = cpuPerItem(rounds, (i) => adapter.parse(texts[i % texts.length]!));

  const book = new MarketBook('binance', (s) => adapter.deriveSymbolInfo(s));
  const writer = new BatchWriter(async (batch) => ({ applied: batch.length, skipped: 0 }), { batchMs: 1e9, maxBatch: Infinity, logger: silentLogger() });
  const framePathUs = cpuPerItem(rounds, (i) => {
    // A fresh event time per frame, as on the wire, so the book applies every one.
    const [head, tail] = markets[i % MARKETS]!.frames[0]!;
    const event = adapter.parse(Buffer.from(`${head}${eventUs++}${tail}`).toString('utf8'));
    if (event.kind !== 'tickers') throw new Error(`expected tickers, got ${event.kind}`);
    for (const patch of event.patches) {
      const market = book.apply(patch, Date.now());
      if (market !== null) writer.push(market);
    }
  });

  // The write path on the bench's Redis, with the markets the frame path produced.
  const latest: Market[] = [];
  for (const text of texts.slice(0, MARKETS)) {
    const event = adapter.parse(text);
    if (event.kind !== 'tickers') continue;
    const market = book.apply({ ...(event.patches[0] as TickerPatch), eventTime: eventUs++ / 1000 }, Date.now());
    if (market !== null) latest.push(market);
  }
  const redis = new Redis(redisUrl);
  defineScripts(redis);
  const keys = createKeys('tickql-costs');
  try {
    const batches = smoke ? 2 : 20;
    const nextStates = () => latest.map((m) => ({ ...m, updatedAt: eventUs++ / 1000 }));
    for (let i = 0; i < 3; i++) await upsertMarkets(redis, keys, nextStates()); // warm-up, and every market exists
    let writeNodeUs = Infinity;
    let writeRedisUs = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      const prepared = Array.from({ length: batches }, nextStates);
      const redisBefore = redisCpuSeconds(await redis.info('cpu'));
      const before = process.cpuUsage();
      for (const batch of prepared) await upsertMarkets(redis, keys, batch);
      const used = process.cpuUsage(before);
      const redisAfter = redisCpuSeconds(await redis.info('cpu'));
      const written = batches * latest.length;
      writeNodeUs = Math.min(writeNodeUs, (used.user + used.system) / written);
      writeRedisUs = Math.min(writeRedisUs, ((redisAfter - redisBefore) * 1e6) / written);
    }
    return {
      jsonParseUs,
      adapterParseUs,
      framePathUs,
      writeNodeUs,
      writeRedisUs,
      writeBatch: latest.length,
    };
  } finally {
    await redis.flushall();
    redis.disconnect();
  }
}

/**
 * CPU microseconds per call of `fn`: the least of `ROUNDS` rounds after a warm-up, since
 * anything else on the machine (a garbage collection, a busy sibling core) only adds time.
 */
function cpuPerItem(count: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < count; i++) fn(i);
  let least = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) fn(i);
    const used = process.cpuUsage(before);
    least = Math.min(least, (used.user + used.system) / count);
  }
  return least;
}

/** used_cpu_user + used_cpu_sys of the Redis server (all its threads), seconds. */
export function redisCpuSeconds(info: string): number {
  const user = /used_cpu_user:([\d.]+)/.exec(info)?.[1];
  const sys = /used_cpu_sys:([\d.]+)/.exec(info)?.[1];
  if (user === undefined || sys === undefined) throw new Error('INFO cpu lacks used_cpu_user / used_cpu_sys');
  return Number(user) + Number(sys);
}
