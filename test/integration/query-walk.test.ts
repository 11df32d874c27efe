/**
 * The walk plan (lua/queryMarkets-n.lua) estimates its length from the filter's density, as if
 * the matches were spread evenly over the sort index. When they cluster at the far end, the
 * walk gives up after twice its estimate and the materialized plan answers instead, with the
 * same page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { rateTable } from '../../src/quote-rates';
import { queryMarkets, type MarketQuery } from '../../src/redis/query-markets';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { referenceQuery } from '../support/reference-query';

// okx's 500 markets have the 500 lowest quote volumes: by volume, descending, they all come last.
const MARKETS: readonly Market[] = Array.from({ length: 1000 }, (_, i) =>
  makeMarket({ exchange: i < 500 ? 'okx' : 'binance', base: `M${i}`, quote: 'USDT', quoteVolume24h: 1 + i }),
);
const byVolume = (exchange: string): MarketQuery => ({ sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { exchanges: [exchange] }, offset: 0, limit: 50 });

describe('the walk plan against clustered matches', () => {
  let t: TestRedis;
  beforeAll(async () => {
    t = await openTestRedis();
    await upsertMarkets(t.redis, t.keys, MARKETS);
  });
  afterAll(async () => {
    await t.close();
  });

  async function ask(query: MarketQuery): Promise<string | undefined> {
    const page = await queryMarkets(t.redis, t.keys, query);
    const expected = referenceQuery(MARKETS, query);
    expect(page.total).toBe(expected.total);
    expect(page.items.map((m) => m.id)).toEqual(expected.items.map((m) => m.id));
    return page.plan;
  }

  it('walks when the matches come first', async () => {
    expect(await ask(byVolume('binance'))).toBe('walk');
  });

  it('gives up past twice its estimate (100 entries here) when the matches all come last, and materializes', async () => {
    expect(await ask(byVolume('okx'))).toBe('materialize');
  });
});

describe('the merge plan against values that round to one USD value', () => {
  // Quote volumes of 1 to 30 times the smallest double, at a rate of 0.029: the first 17
  // products round to 0, the rest to the smallest double. The larger the value, the smaller the
  // id, so quote-unit order and the API's order (USD value, then id) disagree within each run,
  // and the run of zeros spans the merge's first reads (8, then 16 entries).
  const TINY = 5e-324;
  const markets = Array.from({ length: 30 }, (_, k) => makeMarket({ exchange: 'x', base: `M${String(99 - k)}`, quote: 'TRY', quoteVolume24h: (k + 1) * TINY }));
  const rates = rateTable(1, [{ quote: 'TRY', rate: 0.029, basis: 'MARKET', source: null, via: null }]);

  let t: TestRedis;
  beforeAll(async () => {
    t = await openTestRedis();
    await upsertMarkets(t.redis, t.keys, markets);
  });
  afterAll(async () => {
    await t.close();
  });

  it('puts each run of equal USD values in id order, across reads', async () => {
    for (const direction of ['asc', 'desc'] as const) {
      const query: MarketQuery = { sort: { field: 'quoteVolume24hUsd', direction }, filter: {}, offset: 0, limit: 30, rates };
      const page = await queryMarkets(t.redis, t.keys, query);
      expect(page.plan).toBe('merge');
      expect(page.items.map((m) => m.id)).toEqual(referenceQuery(markets, query).items.map((m) => m.id));
    }
  });
});
