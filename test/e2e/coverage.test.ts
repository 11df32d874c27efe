/**
 * No leftovers: markets in Redis that no running process ingests leave the live state when an
 * ingesting process starts, and two processes sharing a Redis never remove each other's.
 * Two apps, each ingesting its own local Binance-protocol exchange (feed ids `binance` and
 * `sim`), on one Redis prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { silentLogger } from '../../src/logger';
import { defineScripts } from '../../src/redis/scripts';
import { createKeys } from '../../src/redis/keys';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { queryData } from '../support/post-query';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';

describe('markets nobody ingests', () => {
  let t: TestRedis;
  let binanceSim: BinanceSim;
  const apps: App[] = [];

  const env = (t: TestRedis) => ({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix, LOG_LEVEL: 'silent', QUERY_CACHE_MS: '0' });

  beforeAll(async () => {
    t = await openTestRedis();
    binanceSim = await BinanceSim.start({ markets: 20, tickMs: 100, pingIntervalMs: 0 });
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await binanceSim?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  async function ids(app: App): Promise<string[]> {
    const { markets } = await queryData(app, '{ markets(page: { limit: 500 }, sort: { field: SYMBOL, direction: ASC }) { items { id } } }');
    return (markets.items as Array<{ id: string }>).map((m) => m.id).sort();
  }

  it('are removed when an ingesting process starts; markets another live process covers stay', async () => {
    // Process 1 ingests two Binance symbols.
    const first = await buildApp(
      loadConfig({ ...env(t), FEEDS: 'binance', BINANCE_WS_URL: binanceSim.wsUrl, BINANCE_REST_URL: binanceSim.restUrl, BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT' }),
      silentLogger(),
      { url: t.url, privateServer: null },
    );
    apps.push(first);
    await first.start();
    await expect.poll(() => ids(first), { timeout: 10_000 }).toEqual(['binance:BTC/USDT', 'binance:ETH/USDT']);

    // Leftovers of earlier runs: an exchange no process ingests, a Binance symbol process 1 does not cover.
    const keys = createKeys(t.prefix);
    defineScripts(t.redis);
    await upsertMarkets(t.redis, keys, [
      makeMarket({ exchange: 'okx', base: 'BTC', quote: 'USDT', nativeSymbol: 'BTC-USDT' }),
      makeMarket({ exchange: 'binance', base: 'OLD', quote: 'USDT' }),
      makeMarket({ exchange: 'sim', base: 'GONE', quote: 'USDT' }),
    ]);
    expect(await ids(first)).toHaveLength(5);
    expect((await queryData(first, '{ feeds { exchange } }')).feeds.map((f: { exchange: string }) => f.exchange)).toContain('okx');

    // Process 2 starts: its sweep removes what no live process covers, and nothing process 1 covers.
    // FEEDS=sim starts its own simulated exchange and subscribes its whole listing.
    const second = await buildApp(loadConfig({ ...env(t), FEEDS: 'sim', SIM_MARKETS: '5', SIM_TICK_MS: '100' }), silentLogger(), { url: t.url, privateServer: null });
    apps.push(second);
    await second.start();
    await expect
      .poll(async () => ({ ids: await ids(second), expected: ['binance:BTC/USDT', 'binance:ETH/USDT', ...second.feeds[0]!.coveredIds()].sort() }), { timeout: 15_000 })
      .toSatisfy(({ ids, expected }) => expected.length === 7 && JSON.stringify(ids) === JSON.stringify(expected));
    const feeds = (await queryData(second, '{ feeds { exchange connections } }')).feeds as Array<{ exchange: string; connections: number }>;
    expect(feeds.map((f) => f.exchange)).toEqual(['binance', 'sim']);
    expect(feeds.every((f) => f.connections === 1)).toBe(true);
  }, 40_000);
});
