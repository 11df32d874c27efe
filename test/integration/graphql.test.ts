import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFeedHealth, type FeedHealthReport } from '../../src/redis/feed-health';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { startTestServer, type TestServer } from '../support/services';
import { nextEvents, readSse } from '../support/sse';

const now = Date.now();
const MARKETS = [
  makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT', price: 96874.12, quoteVolume24h: 1752380578.16168097, changePercent24h: 1.629, receivedAt: now }),
  makeMarket({ exchange: 'binance', base: 'ETH', quote: 'USDT', price: 3352.1, quoteVolume24h: 1391157718.3, changePercent24h: -1.373, receivedAt: now }),
  makeMarket({ exchange: 'kraken', base: 'BTC', quote: 'USD', price: 96858.5, quoteVolume24h: null, changePercent24h: 1.61, bid: null, spreadPercent: null, receivedAt: now }),
  makeMarket({ exchange: 'okx', base: 'SOL', quote: 'USDT', price: 184.31, quoteVolume24h: 565880493.6, changePercent24h: 2.44, receivedAt: now - 3_600_000 }),
];

function live(exchange: string, status: FeedHealthReport['status'] = 'LIVE'): FeedHealthReport {
  return { exchange, status, lastMessageAt: now, reconnects: 2, connections: 3, messagesPerSecond: 12.5, invalidFrames: 3, errorFrames: 4, stalls: 5, throttledSeconds: 6, lastError: null, silentSymbols: exchange === 'binance' ? ['NOPEUSDT'] : [] };
}

describe('GraphQL API over real Redis', () => {
  let t: TestRedis;
  let s: TestServer;

  beforeAll(async () => {
    t = await openTestRedis();
    s = await startTestServer(t, { staleAfterMs: 60_000, configuredFeeds: ['bybit'] });
    await upsertMarkets(t.redis, t.keys, MARKETS);
  });
  beforeEach(async () => {
    await writeFeedHealth(t.redis, t.keys, [live('binance'), live('okx'), live('kraken', 'RECONNECTING')]);
    await s.services.staleness.refresh();
  });
  afterAll(async () => {
    await s.close();
    await t.close();
  });

  it('sorts by 24h quote volume, largest first, when no sort is given; nulls last', async () => {
    const { data, errors } = await s.graphql('{ markets { total offset limit items { id quoteVolume24h } } }');
    expect(errors).toBeUndefined();
    expect(data.markets).toEqual({
      total: 4,
      offset: 0,
      limit: 50,
      items: [
        { id: 'binance:BTC/USDT', quoteVolume24h: 1752380578.16168097 },
        { id: 'binance:ETH/USDT', quoteVolume24h: 1391157718.3 },
        { id: 'okx:SOL/USDT', quoteVolume24h: 565880493.6 },
        { id: 'kraken:BTC/USD', quoteVolume24h: null },
      ],
    });
  });

  it('filters by quote and exchange, sorts by change, and pages', async () => {
    const { data } = await s.graphql(`{
      markets(sort: { field: CHANGE_PERCENT_24H, direction: ASC }, filter: { quotes: ["usdt"], exchanges: ["BINANCE", "okx"] }, page: { offset: 1, limit: 1 }) {
        total items { id changePercent24h }
      }
    }`);
    expect(data.markets).toEqual({ total: 3, items: [{ id: 'binance:BTC/USDT', changePercent24h: 1.629 }] });
  });

  it('applies inclusive bounds, search as plain text, and an empty list as "nothing"', async () => {
    const bounds = await s.graphql('{ markets(filter: { minPrice: 3352.1, maxPrice: 96858.5 }) { items { id } } }');
    expect(bounds.data.markets.items.map((m: { id: string }) => m.id).sort()).toEqual(['binance:ETH/USDT', 'kraken:BTC/USD']);
    const search = await s.graphql('{ markets(filter: { search: "btc/" }) { total } }');
    expect(search.data.markets.total).toBe(2);
    const pattern = await s.graphql('{ markets(filter: { search: "B.C" }) { total } }');
    expect(pattern.data.markets.total).toBe(0);
    const empty = await s.graphql('{ markets(filter: { exchanges: [] }) { total items { id } } }');
    expect(empty.data.markets).toEqual({ total: 0, items: [] });
  });

  it('filters by a watchlist of ids: exact, unknown ids and an empty list match nothing, repeats count once, combined with the other conditions', async () => {
    const { data, errors } = await s.graphql(`{
      markets(sort: { field: PRICE, direction: ASC }, filter: { ids: ["okx:SOL/USDT", "binance:BTC/USDT", "binance:btc/usdt", "nope:X/Y", "okx:SOL/USDT", "kraken:BTC/USD"], quotes: ["usdt"] }) {
        total items { id }
      }
    }`);
    expect(errors).toBeUndefined();
    expect(data.markets).toEqual({ total: 2, items: [{ id: 'okx:SOL/USDT' }, { id: 'binance:BTC/USDT' }] });
    const empty = await s.graphql('{ markets(filter: { ids: [] }) { total items { id } } }');
    expect(empty.data.markets).toEqual({ total: 0, items: [] });
  });

  it('accepts a watchlist of 500 ids and refuses 501 with BAD_USER_INPUT', async () => {
    const query = 'query ($ids: [ID!]) { markets(filter: { ids: $ids }) { total } }';
    const ids = (n: number) => ['binance:ETH/USDT', ...Array.from({ length: n - 1 }, (_, i) => `nope:M${i}/USDT`)];
    const allowed = await s.graphql(query, { ids: ids(500) });
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data.markets.total).toBe(1);
    const refused = await s.graphql(query, { ids: ids(501) });
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors![0].message).toMatch(/filter.ids has 501 values; at most 500 are allowed/);
    expect(refused.errors![0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('returns every field of a market with its exact value', async () => {
    const { data } = await s.graphql(`{ market(id: "kraken:BTC/USD") {
      id exchange symbol nativeSymbol base quote price bid ask open24h high24h low24h volume24h
      quoteVolume24h change24h changePercent24h spreadPercent updatedAt stale } }`);
    const { receivedAt: _, ...expected } = MARKETS[2]!;
    expect(data.market).toEqual({ ...expected, stale: true });
  });

  it('marks a market stale when its feed is not LIVE or it has not updated within STALE_AFTER_MS', async () => {
    const { data } = await s.graphql('{ markets(sort: { field: SYMBOL, direction: ASC }) { items { id stale } } }');
    expect(data.markets.items).toEqual([
      { id: 'kraken:BTC/USD', stale: true }, // feed reconnecting
      { id: 'binance:BTC/USDT', stale: false },
      { id: 'binance:ETH/USDT', stale: false },
      { id: 'okx:SOL/USDT', stale: true }, // an hour old
    ]);
  });

  it('loads every market(id) of one request with a single HMGET', async () => {
    const hmget = vi.spyOn(t.redis, 'hmget');
    const { data } = await s.graphql('{ a: market(id: "binance:BTC/USDT") { price } b: market(id: "okx:SOL/USDT") { price } c: market(id: "nope:X/Y") { price } }');
    expect(data).toEqual({ a: { price: 96874.12 }, b: { price: 184.31 }, c: null });
    expect(hmget).toHaveBeenCalledTimes(1);
    hmget.mockRestore();
  });

  it('lists configured feeds and feeds with markets, with their health and market counts', async () => {
    const { data } = await s.graphql('{ feeds { exchange status markets lastMessageAt reconnects connections messagesPerSecond invalidFrames errorFrames stalls throttledSeconds lastError silentSymbols } }');
    expect(data.feeds).toEqual([
      { exchange: 'binance', status: 'LIVE', markets: 2, lastMessageAt: now, reconnects: 2, connections: 3, messagesPerSecond: 12.5, invalidFrames: 3, errorFrames: 4, stalls: 5, throttledSeconds: 6, lastError: null, silentSymbols: ['NOPEUSDT'] },
      { exchange: 'bybit', status: 'DOWN', markets: 0, lastMessageAt: null, reconnects: 0, connections: 0, messagesPerSecond: 0, invalidFrames: 0, errorFrames: 0, stalls: 0, throttledSeconds: 0, lastError: null, silentSymbols: [] },
      { exchange: 'kraken', status: 'RECONNECTING', markets: 1, lastMessageAt: now, reconnects: 2, connections: 3, messagesPerSecond: 12.5, invalidFrames: 3, errorFrames: 4, stalls: 5, throttledSeconds: 6, lastError: null, silentSymbols: [] },
      { exchange: 'okx', status: 'LIVE', markets: 1, lastMessageAt: now, reconnects: 2, connections: 3, messagesPerSecond: 12.5, invalidFrames: 3, errorFrames: 4, stalls: 5, throttledSeconds: 6, lastError: null, silentSymbols: [] },
    ]);
  });

  describe('rejects bad arguments with BAD_USER_INPUT', () => {
    it.each([
      ['limit 0', '{ markets(page: { limit: 0 }) { total } }', /page.limit must be between 1 and 500, got 0/],
      ['limit 501', '{ markets(page: { limit: 501 }) { total } }', /page.limit must be between 1 and 500, got 501/],
      ['negative offset', '{ markets(page: { offset: -1 }) { total } }', /page.offset must be 0 or more, got -1/],
      ['unknown sort field', '{ markets(sort: { field: VOLUME }) { total } }', /Value "VOLUME" does not exist in "MarketSortField" enum/],
      ['a string as limit', '{ markets(page: { limit: "ten" }) { total } }', /Int cannot represent non-integer value/],
      ['a long search', `{ markets(filter: { search: "${'x'.repeat(65)}" }) { total } }`, /filter.search is 65 characters long/],
    ])('%s', async (_name, query, message) => {
      const { data, errors } = await s.graphql(query);
      expect(data?.markets ?? null).toBeNull();
      expect(errors).toHaveLength(1);
      expect(errors![0].message).toMatch(message);
      expect(errors![0].extensions.code).toBe('BAD_USER_INPUT');
    });

    it('an unknown enum value passed in a variable', async () => {
      const { errors } = await s.graphql('query ($d: SortDirection) { markets(sort: { field: PRICE, direction: $d }) { total } }', { d: 'SIDEWAYS' });
      expect(errors![0].message).toMatch(/Variable "\$d" got invalid value "SIDEWAYS"/);
      expect(errors![0].extensions.code).toBe('BAD_USER_INPUT');
    });
  });

  it('streams priceUpdated over Server-Sent Events', async () => {
    const publish = () => void upsertMarkets(t.redis, t.keys, [{ ...MARKETS[3]!, price: 190.5, updatedAt: Date.now() }]);
    const { text, contentType } = await readSse(s.yoga, 'subscription { priceUpdated(ids: ["okx:SOL/USDT"]) { id price } }', (read) => read.includes('"price":190.5'), publish);
    expect(contentType).toContain('text/event-stream');
    expect(text).toContain('event: next');
    expect(text).toContain('{"data":{"priceUpdated":{"id":"okx:SOL/USDT","price":190.5}}}');
  });

  it('sends the current state of every matching market first when asked for a snapshot', async () => {
    const { text } = await readSse(s.yoga, 'subscription { priceUpdated(exchanges: ["binance"], snapshot: true) { id } }', (read) => nextEvents(read) >= 2);
    // Nothing was written meanwhile: both are the snapshot, no change was needed to send them.
    expect(text).toContain('{"data":{"priceUpdated":{"id":"binance:BTC/USDT"}}}');
    expect(text).toContain('{"data":{"priceUpdated":{"id":"binance:ETH/USDT"}}}');
  });

  it('refuses priceUpdated arguments whose form can never match, with a hint', async () => {
    for (const [args, hint] of [
      ['symbols: ["BTCUSDT"]', 'a symbol is the normalized BASE/QUOTE'],
      ['ids: ["BTC/USDT"]', 'a market id is <exchange>:<BASE>/<QUOTE>'],
    ] as const) {
      const { text } = await readSse(s.yoga, `subscription { priceUpdated(${args}) { id } }`, (read) => read.includes('event: complete'));
      expect(text).toContain('BAD_USER_INPUT');
      expect(text).toContain(hint);
    }
  });

  it('follows only the markets named in the document itself (arguments written inline, not as variables)', async () => {
    // Another market changes first, every time: a subscription that ignored its arguments would get it.
    const publish = () => {
      const now = Date.now();
      void upsertMarkets(t.redis, t.keys, [{ ...MARKETS[0]!, price: 1, updatedAt: now }, { ...MARKETS[3]!, price: 191.5, updatedAt: now }]);
    };
    const { text } = await readSse(s.yoga, 'subscription { priceUpdated(ids: ["okx:SOL/USDT"]) { id price } }', (read) => nextEvents(read) >= 1, publish);
    expect(text).toContain('{"data":{"priceUpdated":{"id":"okx:SOL/USDT","price":191.5}}}');
    expect(text).not.toContain('binance:BTC/USDT');
  });
});
