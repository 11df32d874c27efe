/**
 * lua/removeMarkets-n.lua through its wrapper, against a real Redis: after a removal the state
 * is exactly what writing only the remaining markets would have produced, key for key.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { marketStateKeys } from '../../src/redis/keys';
import { queryMarkets, type MarketQuery } from '../../src/redis/query-markets';
import { REMOVE_CHUNK, removeMarkets } from '../../src/redis/remove-markets';
import { callScript } from '../../src/redis/scripts';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, prefixContents, type TestRedis } from '../support/redis';

/** Several exchanges, shared and unique bases and quotes, null index fields, symbols of 2 to 13 bytes. */
const MARKETS: readonly Market[] = [
  makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT', price: 97000, quoteVolume24h: 9e9 }),
  makeMarket({ exchange: 'binance', base: 'ETH', quote: 'USDT', price: 3400, quoteVolume24h: 5e9 }),
  makeMarket({ exchange: 'binance', base: 'SOL', quote: 'USDT', spreadPercent: null, changePercent24h: null }),
  makeMarket({ exchange: 'binance', base: '1000SHIB', quote: 'USDT', price: 0.02 }),
  makeMarket({ exchange: 'kraken', base: 'BTC', quote: 'USD', bid: null, spreadPercent: null, quoteVolume24h: null }),
  makeMarket({ exchange: 'kraken', base: 'ETH', quote: 'EUR', price: 3100 }),
  makeMarket({ exchange: 'okx', base: 'XRP', quote: 'USDT', price: 2.1 }),
  makeMarket({ exchange: 'coinbase', base: 'X', quote: 'Y', symbol: 'XY', price: 1 }),
  makeMarket({ exchange: 'coinbase', base: 'A', quote: 'B', price: 2 }),
];

/** Every market of okx, the only 1000SHIB and XY markets, and markets whose other filter sets stay. */
const REMOVED = ['binance:ETH/USDT', 'binance:1000SHIB/USDT', 'kraken:BTC/USD', 'okx:XRP/USDT', 'coinbase:XY'];

const BY_VOLUME: MarketQuery = { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: {}, offset: 0, limit: 50 };

describe('removeMarkets', () => {
  let t: TestRedis;

  beforeEach(async () => {
    t = await openTestRedis();
  });
  afterEach(async () => {
    await t.close();
  });

  /** The markets written, with a later state of one of them, as ingest would leave them. */
  async function writeAll(r: TestRedis, markets: readonly Market[]): Promise<void> {
    await upsertMarkets(r.redis, r.keys, markets);
    const [first] = markets;
    if (first) await upsertMarkets(r.redis, r.keys, [{ ...first, price: first.price + 1, spreadPercent: null, updatedAt: first.updatedAt + 1 }]);
  }

  it('leaves exactly the state that writing only the remaining markets produces', async () => {
    await writeAll(t, MARKETS);
    expect(await removeMarkets(t.redis, t.keys, [...REMOVED, 'kraken:BTC/USD'])).toBe(REMOVED.length);

    const fresh = await openTestRedis();
    try {
      await writeAll(fresh, MARKETS.filter((m) => !REMOVED.includes(m.id)));
      expect(await prefixContents(t.redis, t.prefix)).toEqual(await prefixContents(fresh.redis, fresh.prefix));
    } finally {
      await fresh.close();
    }
    expect(await t.redis.smembers(t.keys.exchanges).then((e) => e.sort())).toEqual(['binance', 'coinbase', 'kraken']);
  });

  it('takes the markets out of query totals, filters and search', async () => {
    await writeAll(t, MARKETS);
    const before = await queryMarkets(t.redis, t.keys, BY_VOLUME);
    await removeMarkets(t.redis, t.keys, REMOVED);

    const after = await queryMarkets(t.redis, t.keys, BY_VOLUME);
    expect(after.total).toBe(before.total - REMOVED.length);
    expect(after.items.map((m) => m.id).sort()).toEqual(MARKETS.map((m) => m.id).filter((id) => !REMOVED.includes(id)).sort());
    const total = async (filter: MarketQuery['filter']) => (await queryMarkets(t.redis, t.keys, { ...BY_VOLUME, filter })).total;
    expect(await total({ exchanges: ['okx'] })).toBe(0);
    expect(await total({ exchanges: ['binance'] })).toBe(2);
    expect(await total({ bases: ['ETH'] })).toBe(1);
    for (const search of ['XRP', 'SHIB', '1000SHIB/USDT', 'XY', 'X']) expect(await total({ search })).toBe(0);
    expect(await total({ search: 'ETH' })).toBe(1);
    expect(await total({ search: 'BTC/USD' })).toBe(1);
  });

  it("keeps the walk plan's cached filter totals exact as markets join and leave the filter sets", async () => {
    await writeAll(t, MARKETS);
    const query: MarketQuery = { ...BY_VOLUME, filter: { exchanges: ['binance', 'okx'], quotes: ['USDT'] } };
    const first = await queryMarkets(t.redis, t.keys, query);
    expect(first.plan).toBe('walk');
    expect(first.total).toBe(5);
    expect(await t.redis.hlen(t.keys.filterCounts)).toBeGreaterThan(0); // the totals are cached

    await upsertMarkets(t.redis, t.keys, [makeMarket({ exchange: 'okx', base: 'NEW', quote: 'USDT' })]);
    expect((await queryMarkets(t.redis, t.keys, query)).total).toBe(6);
    await removeMarkets(t.redis, t.keys, ['binance:ETH/USDT', 'okx:XRP/USDT']);
    const last = await queryMarkets(t.redis, t.keys, query);
    expect(last.plan).toBe('walk');
    expect(last.total).toBe(4);
    expect(last.items.map((m) => m.id).sort()).toEqual(['binance:1000SHIB/USDT', 'binance:BTC/USDT', 'binance:SOL/USDT', 'okx:NEW/USDT']);
  });

  it('keeps at most 4,096 cached filter totals, starting over when full', async () => {
    await writeAll(t, MARKETS);
    // 70 queries of 64 bases each (one cached total per base, 4,480 in all), every answer exact.
    for (let q = 0; q < 70; q++) {
      const bases = [...Array.from({ length: 63 }, (_, i) => `B${q}X${i}`), 'BTC'];
      const page = await queryMarkets(t.redis, t.keys, { ...BY_VOLUME, filter: { bases } });
      expect(page.total).toBe(2); // binance:BTC/USDT and kraken:BTC/USD
      expect(await t.redis.hlen(t.keys.filterCounts)).toBeLessThanOrEqual(4096);
    }
    expect(await t.redis.hlen(t.keys.filterCounts)).toBeGreaterThan(0);
  });

  it('does nothing for an id it does not know', async () => {
    await writeAll(t, MARKETS);
    const before = await prefixContents(t.redis, t.prefix);
    expect(await removeMarkets(t.redis, t.keys, ['nope:BTC/USDT', 'binance:BTC/USDC'])).toBe(0);
    expect(await removeMarkets(t.redis, t.keys, [])).toBe(0);
    expect(await prefixContents(t.redis, t.prefix)).toEqual(before);
  });

  it(`removes more markets than one script call takes (${REMOVE_CHUNK}), leaving no key behind`, async () => {
    const markets = Array.from({ length: REMOVE_CHUNK * 2 + 3 }, (_, i) => makeMarket({ base: `T${i}`, price: i + 1 }));
    await upsertMarkets(t.redis, t.keys, markets);
    expect(await removeMarkets(t.redis, t.keys, markets.map((m) => m.id))).toBe(markets.length);
    expect(await prefixContents(t.redis, t.prefix)).toEqual({});
  });

  it('rejects keys and arguments that do not describe a guard and whole markets', async () => {
    const call = (keys: string[], args: string[]) => callScript(t.redis, 'removeMarkets', keys, args) as Promise<unknown>;
    const fixed = marketStateKeys(t.keys);
    await expect(call(fixed, ['-1', 'only-an-id'])).rejects.toThrow(/ERR removeMarkets: .* do not describe a guard and whole markets/);
    await expect(call(fixed, ['2', 'one-instance'])).rejects.toThrow(/ERR removeMarkets: .* do not describe a guard and whole markets/);
    await expect(call(fixed, ['x'])).rejects.toThrow(/ERR removeMarkets: ARGV\[1\] must be the number of guard processes or -1/);
    expect(await call(fixed, ['-1'])).toEqual([1]);
  });
});
