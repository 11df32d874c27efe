/**
 * lua/upsertMarkets-n.lua through its wrapper, against a real Redis: every index and filter
 * set in step with the stored JSON, event time only moving forward, and one publish per
 * applied state.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { marketSetKeys, marketStateKeys, NUMERIC_INDEX_FIELDS, symbolIndexMember, USD_FIELDS } from '../../src/redis/keys';
import { decodeMarket, encodeMarket } from '../../src/redis/market-codec';
import { callScript } from '../../src/redis/scripts';
import { UPSERT_CHUNK, upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';

describe('upsertMarkets', () => {
  // Each test opens its own key prefix: several of them need a Redis with nothing written yet.
  let t: TestRedis;

  beforeAll(async () => {
    t = await openTestRedis();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Everything Redis holds about one market, read back key by key. */
  async function stored(r: TestRedis, market: Market) {
    const { redis, keys } = r;
    const json = await redis.hget(keys.market, market.id);
    const scores = await Promise.all(NUMERIC_INDEX_FIELDS.map((f) => redis.zscore(keys.index(f), market.id)));
    return {
      market: json === null ? null : decodeMarket(json),
      scores: Object.fromEntries(NUMERIC_INDEX_FIELDS.map((f, i) => [f, scores[i] === null ? null : Number(scores[i])])),
      inIds: (await redis.zscore(keys.ids, market.id)) !== null,
      inSymbolIndex: (await redis.zscore(keys.symbolIndex, symbolIndexMember(market))) !== null,
      inExchange: (await redis.zscore(keys.exchange(market.exchange), market.id)) !== null,
      inBase: (await redis.zscore(keys.base(market.base), market.id)) !== null,
      inQuote: (await redis.zscore(keys.quote(market.quote), market.id)) !== null,
      exchangeListed: (await redis.sismember(keys.exchanges, market.exchange)) === 1,
      quoteListed: (await redis.zscore(keys.quotes, market.quote)) !== null,
      quoteScores: Object.fromEntries(
        await Promise.all(USD_FIELDS.map(async (f) => [f, nullableNumber(await redis.zscore(keys.quoteIndex(f, market.quote), market.id))])),
      ),
    };
  }

  const nullableNumber = (score: string | null) => (score === null ? null : Number(score));
  const indexed = (m: Market) => Object.fromEntries(NUMERIC_INDEX_FIELDS.map((f) => [f, m[f]]));
  const quoteIndexed = (m: Market) => Object.fromEntries(USD_FIELDS.map((f) => [f, m[f]]));

  it('stores each market with every index and filter set in step', async () => {
    const r = await openTestRedis();
    try {
      const btc = makeMarket({ base: 'BTC', price: 97000.5, changePercent24h: -1.25, spreadPercent: 0.001 });
      const eth = makeMarket({ exchange: 'kraken', base: 'ETH', quote: 'EUR', price: 3400, spreadPercent: null });
      expect(await upsertMarkets(r.redis, r.keys, [btc, eth])).toEqual({ applied: 2, skipped: 0 });
      for (const m of [btc, eth]) {
        expect(await stored(r, m)).toEqual({
          market: m,
          scores: indexed(m),
          inIds: true,
          inSymbolIndex: true,
          inExchange: true,
          inBase: true,
          inQuote: true,
          exchangeListed: true,
          quoteListed: true,
          quoteScores: quoteIndexed(m),
        });
      }
    } finally {
      await r.close();
    }
  });

  it('takes a later state, moves its index entries, and drops it from an index whose field became null', async () => {
    const r = await openTestRedis();
    try {
      const first = makeMarket({ price: 100, spreadPercent: 1, updatedAt: 1000 });
      const later = { ...first, price: 101, spreadPercent: null, updatedAt: 2000 };
      await upsertMarkets(r.redis, r.keys, [first]);
      expect(await upsertMarkets(r.redis, r.keys, [later])).toEqual({ applied: 1, skipped: 0 });
      const now = await stored(r, later);
      expect(now.market).toEqual(later);
      expect(now.scores).toEqual({ ...indexed(later), spreadPercent: null });
      expect(now.quoteScores).toEqual({ price: 101, quoteVolume24h: later.quoteVolume24h });
      const noVolume = { ...later, quoteVolume24h: null, updatedAt: 3000 };
      await upsertMarkets(r.redis, r.keys, [noVolume]);
      expect((await stored(r, noVolume)).quoteScores).toEqual({ price: 101, quoteVolume24h: null });
    } finally {
      await r.close();
    }
  });

  it('skips a state older than the stored one, and applies one with the same event time', async () => {
    const r = await openTestRedis();
    try {
      const current = makeMarket({ price: 100, updatedAt: 2000 });
      await upsertMarkets(r.redis, r.keys, [current]);
      expect(await upsertMarkets(r.redis, r.keys, [{ ...current, price: 1, updatedAt: 1999 }])).toEqual({ applied: 0, skipped: 1 });
      expect((await stored(r, current)).market).toEqual(current);
      const sameTime = { ...current, bid: 99.9 };
      expect(await upsertMarkets(r.redis, r.keys, [sameTime])).toEqual({ applied: 1, skipped: 0 });
      expect((await stored(r, current)).market).toEqual(sameTime);
    } finally {
      await r.close();
    }
  });

  it('compares a market named twice in one call with its earlier state in that call', async () => {
    const r = await openTestRedis();
    try {
      const newer = makeMarket({ price: 2, updatedAt: 2000 });
      const older = { ...newer, price: 1, updatedAt: 1000 };
      expect(await upsertMarkets(r.redis, r.keys, [newer, older])).toEqual({ applied: 1, skipped: 1 });
      expect((await stored(r, newer)).market).toEqual(newer);
      const newest = { ...newer, price: 3, updatedAt: 3000 };
      expect(await upsertMarkets(r.redis, r.keys, [older, newest])).toEqual({ applied: 1, skipped: 1 });
      expect((await stored(r, newest)).market).toEqual(newest);
    } finally {
      await r.close();
    }
  });

  it('publishes each applied state on its market channel, and nothing for a skipped one', async () => {
    const r = await openTestRedis();
    // Connected (ready check done) before it enters subscriber mode, where INFO is refused.
    const subscriber = new Redis(r.url, { lazyConnect: true });
    try {
      await subscriber.connect();
      const btc = makeMarket({ base: 'BTC', updatedAt: 2000 });
      const eth = makeMarket({ base: 'ETH', updatedAt: 2000 });
      await upsertMarkets(r.redis, r.keys, [btc, eth]);
      const messages: Array<[string, string]> = [];
      subscriber.on('message', (channel: string, message: string) => messages.push([channel, message]));
      await subscriber.subscribe(r.keys.tickChannel(btc.id), r.keys.tickChannel(eth.id));
      const btcLater = { ...btc, price: 5, updatedAt: 3000 };
      await upsertMarkets(r.redis, r.keys, [btcLater, { ...eth, updatedAt: 1000 }]);
      await r.redis.ping(); // the publishes went out before this reply; give the subscriber a moment too
      await expect.poll(() => messages.length).toBe(1);
      expect(messages).toEqual([[r.keys.tickChannel(btc.id), encodeMarket(btcLater)]]);
    } finally {
      subscriber.disconnect();
      await r.close();
    }
  });

  it(`writes more markets than one script call takes (${UPSERT_CHUNK}) in one pipeline`, async () => {
    const r = await openTestRedis();
    try {
      const markets = Array.from({ length: UPSERT_CHUNK * 2 + 7 }, (_, i) => makeMarket({ base: `T${i}`, price: i + 1, updatedAt: 1000 + i }));
      expect(await upsertMarkets(r.redis, r.keys, markets)).toEqual({ applied: markets.length, skipped: 0 });
      expect(await r.redis.zcard(r.keys.ids)).toBe(markets.length);
      expect(await r.redis.hlen(r.keys.market)).toBe(markets.length);
      const last = markets[markets.length - 1]!;
      expect((await stored(r, last)).scores).toEqual(indexed(last));
    } finally {
      await r.close();
    }
  });

  describe('fenced by feed leases', () => {
    it('writes a feed’s markets under the lease Redis holds, and none under a stale one', async () => {
      const r = await openTestRedis();
      try {
        const { redis, keys } = r;
        // Process a held binance under token 1; process b took it over (token 2).
        await redis.set(keys.lease('binance'), '2:b');
        const stale = makeMarket({ base: 'BTC', price: 1, updatedAt: 5000 });
        const okx = makeMarket({ exchange: 'okx', base: 'BTC', price: 2, updatedAt: 5000 });
        await redis.set(keys.lease('okx'), '1:a');
        const fromA = await upsertMarkets(redis, keys, [stale, okx], new Map([['binance', '1:a'], ['okx', '1:a']]));
        expect(fromA).toEqual({ applied: 1, skipped: 0, fenced: [stale] });
        expect(await redis.hget(keys.market, stale.id)).toBeNull(); // nothing of it: no JSON, no index, no publish
        expect(await redis.zscore(keys.ids, stale.id)).toBeNull();
        expect(await redis.zscore(keys.exchange('binance'), stale.id)).toBeNull();
        expect(decodeMarket((await redis.hget(keys.market, okx.id))!).price).toBe(2);

        const current = { ...stale, price: 3, updatedAt: 4000 };
        expect(await upsertMarkets(redis, keys, [current], new Map([['binance', '2:b']]))).toEqual({ applied: 1, skipped: 0, fenced: [] });
        expect(decodeMarket((await redis.hget(keys.market, stale.id))!).price).toBe(3);

        // A later state from the process that lost the lease is still not written, however new.
        const newer = { ...stale, price: 4, updatedAt: 9000 };
        expect((await upsertMarkets(redis, keys, [newer], new Map([['binance', '1:a']]))).fenced).toEqual([newer]);
        // Nor once the lease has expired and nobody holds it.
        await redis.del(keys.lease('binance'));
        expect((await upsertMarkets(redis, keys, [newer], new Map([['binance', '2:b']]))).fenced).toEqual([newer]);
        // A feed the caller holds no lease for is fenced without a round trip to the script.
        expect((await upsertMarkets(redis, keys, [newer], new Map()))).toEqual({ applied: 0, skipped: 0, fenced: [newer] });
        expect(decodeMarket((await redis.hget(keys.market, stale.id))!).price).toBe(3);
        // Without a fence (tools, tests) nothing is checked.
        expect(await upsertMarkets(redis, keys, [newer])).toEqual({ applied: 1, skipped: 0 });
      } finally {
        await r.close();
      }
    });

    it('publishes nothing for a fenced market', async () => {
      const r = await openTestRedis();
      const subscriber = new Redis(r.url);
      try {
        const { redis, keys } = r;
        const market = makeMarket({ base: 'SOL', price: 1, updatedAt: 1 });
        const messages: string[] = [];
        await subscriber.subscribe(keys.tickChannel(market.id));
        subscriber.on('message', (_channel, message) => messages.push(message));
        await redis.set(keys.lease('binance'), '5:b');
        await upsertMarkets(redis, keys, [market], new Map([['binance', '4:a']]));
        await upsertMarkets(redis, keys, [{ ...market, price: 2, updatedAt: 2 }], new Map([['binance', '5:b']]));
        await expect.poll(() => messages.length).toBe(1);
        expect(decodeMarket(messages[0]!).price).toBe(2);
      } finally {
        subscriber.disconnect();
        await r.close();
      }
    });
  });

  /** The script itself, below the wrapper, with `markets` markets' worth of placeholder keys and arguments. */
  function callRaw(markets: number, extraArgs: string[] = []): Promise<unknown> {
    const { keys, redis } = t;
    const fixed = marketStateKeys(keys);
    const keysPerMarket = marketSetKeys(keys, { exchange: 'x', base: 'A', quote: 'B' }).length;
    const perMarketKeys = Array.from({ length: markets * keysPerMarket }, (_, i) => keys.base(`A${i}`));
    const args = ['0', ...Array.from({ length: markets * 11 }, () => '1'), ...extraArgs];
    return callScript(redis, 'upsertMarkets', [...fixed, ...perMarketKeys], args) as Promise<unknown>;
  }

  it('rejects keys and arguments that do not describe whole markets', async () => {
    await expect(callRaw(0, ['only-an-id'])).rejects.toThrow(/ERR upsertMarkets: .* do not describe fenced feeds and whole markets/);
  });

  it('refuses more than 1,000 markets in one call, and answers an empty one with nothing done', async () => {
    await expect(callRaw(1001)).rejects.toThrow(/ERR upsertMarkets: 1001 markets in one call; at most 1000/);
    expect(await callRaw(0)).toEqual([0, 0, 0]);
  });
});
