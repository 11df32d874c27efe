import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFeedHealth, type FeedHealthReport } from '../../src/redis/feed-health';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { startTestServer, type TestServer } from '../support/services';
import { readSse } from '../support/sse';

const now = Date.now();
const at = { receivedAt: now, updatedAt: now };
// The trap: 6.46 billion lira reads larger than a billion dollars of BTC/USDT.
const MARKETS = [
  makeMarket({ ...at, exchange: 'kraken', base: 'USDT', quote: 'USD', price: 0.999, volume24h: 60e6, quoteVolume24h: 50e6 }),
  makeMarket({ ...at, exchange: 'binance', base: 'USDT', quote: 'TRY', price: 34.5, volume24h: 80e6, quoteVolume24h: 2.76e9 }),
  makeMarket({ ...at, exchange: 'binance', base: 'BTC', quote: 'USDT', price: 97000, quoteVolume24h: 1e9 }),
  makeMarket({ ...at, exchange: 'sim', base: 'VET', quote: 'TRY', price: 1.5, quoteVolume24h: 6.46e9 }),
  makeMarket({ ...at, exchange: 'kraken', base: 'EUR', quote: 'USD', price: 1.08, quoteVolume24h: 10e6 }),
  makeMarket({ ...at, exchange: 'kraken', base: 'ETH', quote: 'EUR', price: 3100, quoteVolume24h: 5e6 }),
  makeMarket({ ...at, exchange: 'coinbase', base: 'BTC', quote: 'JPY', price: 15e6, quoteVolume24h: 9e12 }),
];
const RATE = { USD: 1, USDT: 0.999, TRY: 0.999 / 34.5, EUR: 1.08 } as Record<string, number>;
const usd = (id: string) => {
  const m = MARKETS.find((x) => x.id === id)!;
  return { id, priceUsd: m.price * RATE[m.quote]!, quoteVolume24hUsd: m.quoteVolume24h! * RATE[m.quote]! };
};

function feed(exchange: string, status: FeedHealthReport['status'] = 'LIVE'): FeedHealthReport {
  return { exchange, status, lastMessageAt: now, reconnects: 0, connections: 1, messagesPerSecond: 1, invalidFrames: 0, errorFrames: 0, stalls: 0, throttledSeconds: 0, lastError: null, silentSymbols: [] };
}

describe('USD values over GraphQL', () => {
  let t: TestRedis;
  let s: TestServer;

  beforeAll(async () => {
    t = await openTestRedis();
    s = await startTestServer(t, { staleAfterMs: 600_000 });
    await upsertMarkets(t.redis, t.keys, MARKETS);
  });
  beforeEach(async () => {
    await writeFeedHealth(t.redis, t.keys, ['kraken', 'binance', 'sim', 'coinbase'].map((e) => feed(e)));
    await s.services.staleness.refresh();
    await s.services.quoteRates.refresh();
  });
  afterAll(async () => {
    await s.close();
    await t.close();
  });

  it('shows each quote asset rate with its source, the asset it goes through, and its age', async () => {
    const { data, errors } = await s.graphql('{ quoteRates { quote rate basis via ageMs source { id } } }');
    expect(errors).toBeUndefined();
    const rates = data.quoteRates as Array<{ quote: string; rate: number | null; basis: string; via: string | null; ageMs: number | null; source: { id: string } | null }>;
    expect(rates.map(({ ageMs: _, ...r }) => r)).toEqual([
      { quote: 'EUR', rate: 1.08, basis: 'MARKET', via: 'USD', source: { id: 'kraken:EUR/USD' } },
      { quote: 'JPY', rate: null, basis: 'NONE', via: null, source: null },
      { quote: 'TRY', rate: RATE.TRY, basis: 'MARKET', via: 'USDT', source: { id: 'binance:USDT/TRY' } },
      { quote: 'USD', rate: 1, basis: 'DEFINITION', via: null, source: null },
      { quote: 'USDT', rate: 0.999, basis: 'MARKET', via: 'USD', source: { id: 'kraken:USDT/USD' } },
    ]);
    const ages = rates.filter((r) => r.source !== null).map((r) => r.ageMs!);
    for (const age of ages) expect(age).toBeGreaterThanOrEqual(0);
    expect(rates.find((r) => r.quote === 'USD')!.ageMs).toBeNull();
  });

  it('ranks the biggest markets first whatever their quote, with every USD field at the same rates', async () => {
    const { data, errors } = await s.graphql(
      '{ markets(sort: { field: QUOTE_VOLUME_24H_USD }, page: { limit: 10 }) { total items { id priceUsd quoteVolume24hUsd } } }',
    );
    expect(errors).toBeUndefined();
    expect(data.markets.total).toBe(MARKETS.length);
    expect(data.markets.items).toEqual([
      usd('binance:BTC/USDT'), // 999M USD
      usd('sim:VET/TRY'), // 6.46bn TRY = 187M USD
      usd('binance:USDT/TRY'),
      usd('kraken:USDT/USD'),
      usd('kraken:EUR/USD'),
      usd('kraken:ETH/EUR'),
      { id: 'coinbase:BTC/JPY', priceUsd: null, quoteVolume24hUsd: null }, // no rate: last
    ]);
  });

  it('filters on USD bounds, and a market without a rate matches none', async () => {
    const { data } = await s.graphql(
      '{ markets(sort: { field: PRICE_USD, direction: ASC }, filter: { minPriceUsd: 1, maxPriceUsd: 5000, minQuoteVolume24hUsd: 5000000 }) { total items { id } } }',
    );
    expect(data.markets).toEqual({ total: 2, items: [{ id: 'kraken:EUR/USD' }, { id: 'kraken:ETH/EUR' }] });
    const { data: none } = await s.graphql('{ markets(filter: { minPriceUsd: 0, quotes: ["JPY"] }) { total } }');
    expect(none.markets.total).toBe(0);
  });

  it('gives market(id) its USD fields', async () => {
    const { data } = await s.graphql('{ market(id: "kraken:ETH/EUR") { priceUsd quoteVolume24hUsd } }');
    expect(data.market).toEqual({ priceUsd: 3100 * 1.08, quoteVolume24hUsd: 5e6 * 1.08 });
  });

  it('stops using a rate whose source went stale: the next candidate, the USDT peg, or no rate', async () => {
    await writeFeedHealth(t.redis, t.keys, [feed('kraken', 'RECONNECTING')]);
    await s.services.staleness.refresh();
    await s.services.quoteRates.refresh();
    const { data } = await s.graphql('{ quoteRates { quote rate basis } markets(filter: { quotes: ["EUR"] }) { items { id priceUsd } } }');
    expect(data.quoteRates).toEqual([
      { quote: 'EUR', rate: null, basis: 'NONE' },
      { quote: 'JPY', rate: null, basis: 'NONE' },
      { quote: 'TRY', rate: 1 / 34.5, basis: 'MARKET' },
      { quote: 'USD', rate: 1, basis: 'DEFINITION' },
      { quote: 'USDT', rate: 1, basis: 'PEG' },
    ]);
    expect(data.markets.items).toEqual([{ id: 'kraken:ETH/EUR', priceUsd: null }]);
  });

  it('follows a rate move without rewriting the markets quoted in it', async () => {
    const before = await t.redis.hget(t.keys.market, 'kraken:ETH/EUR');
    await upsertMarkets(t.redis, t.keys, [{ ...MARKETS[4]!, price: 1.1, updatedAt: Date.now() }]);
    await s.services.quoteRates.refresh();
    const { data } = await s.graphql('{ market(id: "kraken:ETH/EUR") { priceUsd } }');
    expect(data.market.priceUsd).toBe(3100 * 1.1);
    expect(await t.redis.hget(t.keys.market, 'kraken:ETH/EUR')).toBe(before);
    await upsertMarkets(t.redis, t.keys, [{ ...MARKETS[4]!, updatedAt: Date.now() }]);
  });

  it('delivers priceUpdated with USD fields at the rates of the moment', async () => {
    const publish = () => void upsertMarkets(t.redis, t.keys, [{ ...MARKETS[5]!, price: 3200, updatedAt: Date.now() }]);
    const { text } = await readSse(s.yoga, 'subscription { priceUpdated(ids: ["kraken:ETH/EUR"]) { id price priceUsd } }', (read) => read.includes('"price":3200'), publish);
    expect(text).toContain(`{"data":{"priceUpdated":{"id":"kraken:ETH/EUR","price":3200,"priceUsd":${3200 * 1.08}}}}`);
  });
  it('converts each delivery at the rates of its moment, not of the moment it subscribed', async () => {
    let moved = false;
    const publish = () => {
      if (!moved) {
        // After the subscription began: EUR moves from 1.08 to 1.2.
        moved = true;
        void upsertMarkets(t.redis, t.keys, [{ ...MARKETS[4]!, price: 1.2, updatedAt: Date.now() }]).then(() => s.services.quoteRates.refresh());
        return;
      }
      void upsertMarkets(t.redis, t.keys, [{ ...MARKETS[5]!, price: 3300, updatedAt: Date.now() }]);
    };
    const converted = `"priceUsd":${3300 * 1.2}`;
    const { text } = await readSse(s.yoga, 'subscription { priceUpdated(ids: ["kraken:ETH/EUR"]) { price priceUsd } }', (read) => read.includes(converted), publish);
    expect(text).toContain(converted);
    await upsertMarkets(t.redis, t.keys, [{ ...MARKETS[4]!, updatedAt: Date.now() }]);
    await s.services.quoteRates.refresh();
  });
});
