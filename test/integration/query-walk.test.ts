/**
 * The walk plan (lua/queryMarkets-n.lua) estimates its length from the filter's density, as if
 * the matches were spread evenly over the sort index. When they cluster at the far end, the
 * walk gives up after twice its estimate and the materialized plan answers instead, with the
 * same page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
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
