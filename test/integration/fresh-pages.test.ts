/**
 * The default `markets` path never serves a page computed before a state its client had
 * already seen (API.md: "A markets answer reflects at least every state that was visible
 * ... before the request was sent"), while identical requests still share computations.
 *
 * One market is written again and again, each state with a higher price, on its own
 * connection. Checkers read its latest state (as `market(id)` would, on another connection),
 * then ask for the top page by price through the page source, and require at least that
 * price; meanwhile other clients ask the same query non-stop, so a computation of it is
 * nearly always under way. Each computation's answer is held 1 ms on its way back, as a
 * network would: a source that let a request join a computation already sent, or serve a
 * page from memory, is caught many times a run, and the test shows it does with both.
 */
import { setImmediate as turn, setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { cachedMarketSource, cacheKey } from '../../src/redis/page-cache';
import { redisMarketSource, type MarketPageResult, type MarketQuery, type MarketSource } from '../../src/redis/query-markets';
import { defineScripts } from '../../src/redis/scripts';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';

const QUERY: MarketQuery = { sort: { field: 'price', direction: 'desc' }, filter: { quotes: ['USDT'] }, offset: 0, limit: 5 };
const TRACKED = makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT' });
const OTHERS = ['ETH', 'SOL', 'XRP', 'ADA', 'DOGE', 'DOT'].map((base, i) => makeMarket({ exchange: 'okx', base, quote: 'USDT', price: 10 + i }));
const RUN_MS = 1500;
const BUSY_CLIENTS = 6;
const CHECKERS = 3;
/** How long each computation's answer takes to come back, on top of Redis's own time. */
const REPLY_DELAY_MS = 1;

/** The tracked market at version v: later versions have later times and higher prices. */
function version(v: number): Market {
  return { ...TRACKED, price: 1_000_000 + v, updatedAt: TRACKED.updatedAt + v, receivedAt: TRACKED.receivedAt + v };
}

/**
 * The wrong design this test must catch: identical requests join whatever computation of
 * theirs is under way, even one sent before they arrived.
 */
function joinUnderWay(source: MarketSource): MarketSource {
  const underWay = new Map<string, Promise<MarketPageResult>>();
  return {
    page(query) {
      const key = cacheKey(query);
      const running = underWay.get(key);
      if (running) return running;
      const started = source.page(query).finally(() => underWay.delete(key));
      underWay.set(key, started);
      return started;
    },
  };
}

describe('markets pages are fresh by default', () => {
  let t: TestRedis;
  let writer: Redis;
  let reader: Redis;
  let querier: Redis;
  /** The tracked market's latest version; runs continue it, as Redis keeps the later state. */
  let v = 0;

  beforeAll(async () => {
    t = await openTestRedis();
    [writer, reader, querier] = [new Redis(t.url), new Redis(t.url), new Redis(t.url)];
    for (const connection of [writer, querier]) defineScripts(connection);
    await upsertMarkets(writer, t.keys, [version(0), ...OTHERS]);
  });
  afterAll(async () => {
    for (const connection of [writer, reader, querier]) connection.disconnect();
    await t.close();
  });

  /** The Lua source on the service's own connection, each answer delayed on its way back. */
  function slowReplies(): MarketSource {
    const lua = redisMarketSource(querier, t.keys);
    return {
      async page(query) {
        const page = await lua.page(query);
        await delay(REPLY_DELAY_MS);
        return page;
      },
    };
  }

  /** Runs writers, busy clients and checkers against `source`; returns the checks and how many failed. */
  async function race(source: MarketSource): Promise<{ checks: number; older: number }> {
    const until = performance.now() + RUN_MS;
    const running = () => performance.now() < until;
    let checks = 0;
    let older = 0;
    const write = async () => {
      while (running()) await upsertMarkets(writer, t.keys, [version(++v)]);
    };
    // Each client yields to the event loop between requests (a page from memory comes back at
    // once, and a loop of those would starve the writer) and checks at a random moment, not
    // in step with the computations.
    const busy = async () => {
      while (running()) {
        await source.page(QUERY);
        await turn();
      }
    };
    const check = async () => {
      while (running()) {
        await delay(Math.random() * 2);
        const seen = JSON.parse((await reader.hget(t.keys.market, TRACKED.id))!) as Market;
        const page = await source.page(QUERY);
        checks++;
        if (page.items[0]!.price < seen.price) older++;
      }
    };
    await Promise.all([write(), ...Array.from({ length: BUSY_CLIENTS }, busy), ...Array.from({ length: CHECKERS }, check)]);
    return { checks, older };
  }

  it('never answers with a state older than one read before asking, and shares computations', async () => {
    const source = cachedMarketSource(slowReplies(), { freshMs: 0, staleMs: 0, maxEntries: 10 });
    const { checks, older } = await race(source);
    expect(checks).toBeGreaterThan(50);
    expect(older).toBe(0);
    // Identical requests did share: far fewer computations than requests.
    expect(source.stats.computations).toBeLessThan(source.stats.misses / 2);
  });

  it('catches a source that joins computations already sent', async () => {
    const { older } = await race(joinUnderWay(slowReplies()));
    expect(older).toBeGreaterThan(0);
  });

  it('catches pages served from memory (QUERY_CACHE_MS opted in)', async () => {
    const { older } = await race(cachedMarketSource(slowReplies(), { freshMs: 50, staleMs: 1000, maxEntries: 10 }));
    expect(older).toBeGreaterThan(0);
  });
});
