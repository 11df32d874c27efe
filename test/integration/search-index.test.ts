/**
 * The search index's 2-byte runs (lua/README.md, "Search index"): a two-byte search is read off
 * the index once every market has its 2-byte runs, and is scanned, with the same answer, while
 * some market written by an older version (3-byte runs only) lacks them; such a market gets
 * them at its next write.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { queryMarkets, type MarketQuery } from '../../src/redis/query-markets';
import { removeMarkets } from '../../src/redis/remove-markets';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { referenceQuery } from '../support/reference-query';

const MARKETS: readonly Market[] = [
  makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT', quoteVolume24h: 9e9 }),
  makeMarket({ exchange: 'kraken', base: 'BTC', quote: 'USD', quoteVolume24h: 2e9 }),
  makeMarket({ exchange: 'okx', base: 'ETH', quote: 'BTC', quoteVolume24h: 30 }),
  makeMarket({ exchange: 'okx', base: 'SOL', quote: 'USDT', quoteVolume24h: 4e8 }),
  makeMarket({ exchange: 'coinbase', base: 'XBT', quote: 'EUR', quoteVolume24h: null }),
];

const search = (text: string): MarketQuery => ({ sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { search: text }, offset: 0, limit: 50 });

describe('the search index, two-byte runs', () => {
  let t: TestRedis;
  beforeEach(async () => {
    t = await openTestRedis();
    await upsertMarkets(t.redis, t.keys, MARKETS);
  });
  afterEach(async () => {
    await t.close();
  });

  /** The page and the plan, with the answer checked against the reference. */
  async function ask(text: string): Promise<string | undefined> {
    const page = await queryMarkets(t.redis, t.keys, search(text));
    const expected = referenceQuery(MARKETS, search(text));
    expect(page.total, text).toBe(expected.total);
    expect(page.items.map((m) => m.id), text).toEqual(expected.items.map((m) => m.id));
    return page.plan;
  }

  it('answers two-byte texts from the index: each is its own run', async () => {
    for (const text of ['BT', 'bt', 'T/', 'EU', 'ZZ']) expect(['search', 'none']).toContain(await ask(text));
    expect(await ask('BT')).toBe('search');
    expect(await ask('ZZ')).toBe('none');
    expect(await ask('B')).toBe('materialize'); // one byte: scanned
  });

  it('scans while a market lacks its two-byte runs, and indexes them at its next write', async () => {
    // What an older version wrote for binance:BTC/USDT: its 3-byte runs only, no mark.
    const old = MARKETS[0]!;
    const short = [...new Set(Array.from({ length: old.symbol.length - 1 }, (_, i) => old.symbol.slice(i, i + 2)))];
    await t.redis.zrem(t.keys.searchIndex, ...short.map((run) => `${run}\0${old.id}`), `\x01\0${old.id}`);

    expect(await ask('BT')).toBe('materialize');
    expect(await ask('/U')).toBe('materialize');
    expect(await ask('BTC')).toBe('search'); // 3-byte runs were always there

    await upsertMarkets(t.redis, t.keys, [{ ...old, price: old.price + 1, updatedAt: old.updatedAt + 1 }]);
    expect(await ask('BT')).toBe('search');
    expect(await ask('/U')).toBe('search');
  });

  it('takes a removed market out of the two-byte runs too', async () => {
    await removeMarkets(t.redis, t.keys, ['okx:ETH/BTC']);
    const page = await queryMarkets(t.redis, t.keys, search('TH'));
    expect(page).toMatchObject({ total: 0, plan: 'none' });
    expect(await t.redis.zrangebylex(t.keys.searchIndex, '-', '+')).not.toContainEqual(expect.stringContaining('okx:ETH/BTC'));
  });
});
