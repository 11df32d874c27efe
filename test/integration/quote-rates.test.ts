import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger';
import { QuoteRates } from '../../src/quote-rates';
import { removeMarkets } from '../../src/redis/remove-markets';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';

describe('QuoteRates against Redis', () => {
  let t: TestRedis;
  beforeAll(async () => {
    t = await openTestRedis();
  });
  afterAll(async () => {
    await t.close();
  });

  const summary = (rates: QuoteRates) => Object.fromEntries(rates.current().entries.map((e) => [e.quote, e.rate]));

  it('finds a quote asset listed after it started, and forgets one whose last market left', async () => {
    const rates = new QuoteRates(t.redis, t.keys, () => false, silentLogger(), { discoverMs: 0 });
    await upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'BTC', quote: 'USDT', price: 97000 })]);
    await rates.refresh();
    expect(summary(rates)).toEqual({ USDT: 1 });
    const version = rates.current().version;

    await upsertMarkets(t.redis, t.keys, [makeMarket({ exchange: 'kraken', base: 'GBP', quote: 'USD', price: 1.27 }), makeMarket({ exchange: 'kraken', base: 'ETH', quote: 'GBP', price: 2700 })]);
    await rates.refresh();
    expect(summary(rates)).toEqual({ GBP: 1.27, USD: 1, USDT: 1 });
    expect(rates.current().version).toBeGreaterThan(version);

    await removeMarkets(t.redis, t.keys, ['kraken:ETH/GBP']);
    await rates.refresh();
    expect(summary(rates)).toEqual({ USD: 1, USDT: 1 });
  });

  it('skips and counts a stored source that does not decode, and prices from the others', async () => {
    const rates = new QuoteRates(t.redis, t.keys, () => false, silentLogger(), { discoverMs: 0 });
    await upsertMarkets(t.redis, t.keys, [
      makeMarket({ exchange: 'okx', base: 'CHF', quote: 'USD', price: 1.13, quoteVolume24h: 1 }),
      makeMarket({ exchange: 'kraken', base: 'CHF', quote: 'USD', price: 1.12, quoteVolume24h: 2 }),
      makeMarket({ exchange: 'kraken', base: 'SOL', quote: 'CHF', price: 160 }),
    ]);
    await t.redis.hset(t.keys.market, 'kraken:CHF/USD', '{"not":"a market"');
    await rates.refresh();
    expect(summary(rates).CHF).toBe(1.13);
    expect(rates.corrupt).toBe(1);
  });

  it('keeps the last rates while Redis is away, without throwing', async () => {
    const own = new Redis(t.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    own.on('error', () => {});
    const rates = new QuoteRates(own, t.keys, () => false, silentLogger(), { refreshMs: 20 });
    await rates.start();
    const table = rates.current();
    expect(table.entries.length).toBeGreaterThan(0);
    own.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 200)); // several refreshes fail meanwhile
    expect(rates.current()).toBe(table);
    rates.stop();
  });
});
