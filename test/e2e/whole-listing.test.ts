/**
 * Done means: with the default configuration (no <EXCHANGE>_SYMBOLS) and five local
 * exchanges listing 2,000 spot markets each, every listed market of all five is served within
 * a minute of start-up, over as many connections as each exchange's limits require, without
 * breaching any limit; a market listed while running shows up, a delisted one disappears
 * (from `market(id)`, search, filters and `total`); and a market left in Redis by an earlier
 * run that nobody ingests now is gone at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { createKeys } from '../../src/redis/keys';
import { defineScripts } from '../../src/redis/scripts';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { startLocalExchanges, type LocalExchanges } from '../support/exchanges/local-exchanges';
import { makeMarket } from '../support/market-factory';
import { queryData } from '../support/post-query';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';

const PER_EXCHANGE = 2000;
const UNIVERSE = 5 * PER_EXCHANGE;
const NO_BREACHES = { binance: [], coinbase: [], kraken: [], okx: [], bybit: [] };

describe('every listed market of every exchange, by default', () => {
  let t: TestRedis;
  let app: App;
  let exchanges: LocalExchanges;
  let startedAt: number;

  beforeAll(async () => {
    t = await openTestRedis();
    // In a process of their own, each sending every subscribed market's state at once, as each
    // real exchange does within a second.
    exchanges = await startLocalExchanges({ listing: PER_EXCHANGE });

    // An earlier run's leftover: an OKX market this listing does not have.
    defineScripts(t.redis);
    await upsertMarkets(t.redis, createKeys(t.prefix), [makeMarket({ exchange: 'okx', base: 'LEFT', quote: 'USDT', nativeSymbol: 'LEFT-USDT' })]);

    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      LOG_LEVEL: 'silent',
      QUERY_CACHE_MS: '0',
      LISTING_REFRESH_MS: '2000',
      // FEEDS and <EXCHANGE>_SYMBOLS unset: all five exchanges, each its whole listing.
      ...exchanges.env,
    });
    app = await buildApp(config, silentLogger(), { url: t.url, privateServer: null });
    startedAt = Date.now();
    await app.start();
  }, 40_000);

  afterAll(async () => {
    await app?.stop();
    await exchanges?.stop();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  const total = async (filter = '') => (await queryData(app, `{ markets(page: { limit: 1 }${filter}) { total } }`)).markets.total as number;

  it('serves all 10,000 listed markets within a minute, over as many connections as the limits require, breaching none', async () => {
    await expect
      .poll(() => total(), { timeout: 60_000, interval: 500 })
      .toBe(UNIVERSE)
      .catch(async (err: unknown) => {
        // What each feed had when time ran out, to tell a slow feed from a stuck one.
        const feeds = app.feeds.map((feed) => feed.health()).map(({ exchange, status, markets, symbols, connections, errors, lastError }) => ({ exchange, status, markets, symbols, connections, errors, lastError }));
        throw new Error(`${err instanceof Error ? err.message : String(err)}; feeds: ${JSON.stringify(feeds)}; breaches: ${JSON.stringify(await exchanges.breaches())}`);
      });
    expect(Date.now() - startedAt).toBeLessThan(60_000);

    const { feeds } = await queryData(app, '{ feeds { exchange status markets connections } }');
    // Binance: 1,024 streams per connection; Bybit: 21,000 characters of topics per connection;
    // Coinbase, Kraken, OKX: 250 symbols per connection (docs/exchanges/README.md).
    expect(feeds).toEqual([
      { exchange: 'binance', status: 'LIVE', markets: PER_EXCHANGE, connections: 2 },
      { exchange: 'bybit', status: 'LIVE', markets: PER_EXCHANGE, connections: expect.any(Number) },
      { exchange: 'coinbase', status: 'LIVE', markets: PER_EXCHANGE, connections: 8 },
      { exchange: 'kraken', status: 'LIVE', markets: PER_EXCHANGE, connections: 8 },
      { exchange: 'okx', status: 'LIVE', markets: PER_EXCHANGE, connections: 8 },
    ]);
    const bybitConnections = feeds.find((f: { exchange: string }) => f.exchange === 'bybit').connections as number;
    expect(bybitConnections).toBeGreaterThanOrEqual(4);
    expect(await exchanges.connections()).toEqual({ binance: 2, coinbase: 8, kraken: 8, okx: 8, bybit: bybitConnections });
    expect(await exchanges.breaches()).toEqual(NO_BREACHES);

    // The leftover from an earlier run is gone.
    expect((await queryData(app, '{ market(id: "okx:LEFT/USDT") { id } }')).market).toBeNull();
  }, 70_000);

  it('follows the listings while running: a new market shows up, a delisted one leaves every index and the total', async () => {
    await expect.poll(() => total(), { timeout: 60_000, interval: 500 }).toBe(UNIVERSE);
    const gone = (await exchanges.listing('kraken'))[7]!;
    const goneId = `kraken:${gone.base}/${gone.quote}`;
    expect((await queryData(app, `{ market(id: "${goneId}") { id } }`)).market).toEqual({ id: goneId });
    const krakenTotal = await total(', filter: { exchanges: ["kraken"] }');
    const searchGone = `, filter: { search: "${gone.base}/", exchanges: ["kraken"] }`;
    expect(await total(searchGone)).toBe(1);

    await exchanges.list('binance', { symbol: 'FRESHUSDT', base: 'FRESH', quote: 'USDT' });
    await exchanges.delist('kraken', gone.symbol);

    await expect.poll(async () => (await queryData(app, '{ market(id: "binance:FRESH/USDT") { id price } }')).market?.id, { timeout: 10_000 }).toBe('binance:FRESH/USDT');
    await expect.poll(async () => (await queryData(app, `{ market(id: "${goneId}") { id } }`)).market, { timeout: 10_000 }).toBeNull();
    expect(await total(', filter: { exchanges: ["kraken"] }')).toBe(krakenTotal - 1);
    expect(await total(searchGone)).toBe(0);
    expect(await total(`, filter: { bases: ["${gone.base}"], exchanges: ["kraken"] }`)).toBe(0);
    expect(await total()).toBe(UNIVERSE);
    expect(await exchanges.breaches()).toEqual(NO_BREACHES);
  }, 70_000);
});
