import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { createKeys, NUMERIC_INDEX_FIELDS, type NumericIndexField } from '../../src/redis/keys';
import { rateTable, type QuoteRate } from '../../src/quote-rates';
import { queryMarkets, USD_FIELD_OF, type MarketQuery, type SortField, type UsdValueField } from '../../src/redis/query-markets';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { referenceQuery } from '../support/reference-query';
import { deletePrefix, openTestRedis, uniquePrefix, type TestRedis } from '../support/redis';

// Small pools make ties, shared assets and repeated values likely; odd asset names carry
// Lua-pattern and glob characters and non-ASCII text, which must all be plain data.
const EXCHANGES = ['binance', 'kraken', 'okx', 'sim'];
const ASSETS = ['BTC', 'ETH', 'USDT', 'USD', 'EUR', 'SOL', 'A.B', 'X%Y', 'Q*', '[Z]', 'ÉTH', '1000SATS'];
const POOL = [0, 1, 2.5, 100, 100.00000000000001, -3, 1e-9, 123456.789];

const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...POOL) },
  { weight: 3, arbitrary: fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }).map((n) => n + 0) },
  { weight: 1, arbitrary: fc.constant(null) },
);

const market = fc
  .record({
    exchange: fc.constantFrom(...EXCHANGES),
    base: fc.constantFrom(...ASSETS),
    quote: fc.constantFrom(...ASSETS),
    price: fc.oneof(fc.constantFrom(...POOL), fc.double({ min: 1e-8, max: 1e7, noNaN: true })),
    bid: value,
    ask: value,
    volume24h: value,
    quoteVolume24h: value,
    changePercent24h: value,
    spreadPercent: value,
    updatedAt: fc.constantFrom(1000, 2000, 3000.5),
  })
  .filter((m) => m.base !== m.quote)
  .map(
    (m): Market => ({
      id: `${m.exchange}:${m.base}/${m.quote}`,
      exchange: m.exchange,
      symbol: `${m.base}/${m.quote}`,
      nativeSymbol: `${m.base}${m.quote}`,
      base: m.base,
      quote: m.quote,
      price: m.price,
      bid: m.bid,
      ask: m.ask,
      open24h: null,
      high24h: null,
      low24h: null,
      volume24h: m.volume24h,
      quoteVolume24h: m.quoteVolume24h,
      change24h: null,
      changePercent24h: m.changePercent24h,
      spreadPercent: m.spreadPercent,
      updatedAt: m.updatedAt,
      receivedAt: m.updatedAt,
    }),
  );

const universe = fc.uniqueArray(market, { selector: (m) => m.id, minLength: 0, maxLength: 80, size: 'medium' });

const caseVariant = (s: string) => fc.constantFrom(s, s.toLowerCase(), s.toUpperCase());
// Lists are usually non-empty: an empty list matches nothing, which is worth testing but
// should not dominate. Each condition is present a quarter of the time, so most queries match.
const list = (items: string[]) =>
  fc.oneof({ weight: 9, arbitrary: fc.array(fc.constantFrom(...items).chain(caseVariant), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.constant([]) });
const sometimes = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const bound = fc.oneof(fc.constant(null), fc.constantFrom(...POOL), fc.double({ min: -1e3, max: 1e3, noNaN: true }));

/**
 * Watchlists: mostly ids of the universe, with unknown ids (a case variant of a real one among
 * them, since ids match exactly) and repeats; sometimes empty.
 */
function idsOf(markets: readonly Market[]): fc.Arbitrary<readonly string[]> {
  const known = markets.map((m) => m.id);
  const unknown = fc.oneof(
    fc.constantFrom('binance:NOPE/USDT', 'nope:BTC/USDT', 'BTC/USDT', '', 'binance:BTC/USDT '),
    ...(known.length > 0 ? [fc.constantFrom(...known).map((id) => id.toLowerCase())] : []),
  );
  const id = known.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: unknown }) : unknown;
  const withRepeats = fc.array(id, { minLength: 1, maxLength: 12 }).chain((ids) => fc.constantFrom(ids, [...ids, ...ids.slice(0, 2)]));
  return fc.oneof({ weight: 9, arbitrary: withRepeats }, { weight: 1, arbitrary: fc.constant([]) });
}

const filterOf = (markets: readonly Market[]): fc.Arbitrary<MarketQuery['filter']> => fc
  .record({
    exchanges: sometimes(list([...EXCHANGES, 'nope'])),
    bases: sometimes(list(ASSETS)),
    quotes: sometimes(list([...ASSETS, 'NONE'])),
    // Texts of three bytes or more go through the search index (plan "search"); shorter ones,
    // and every text with the "materialize" plan, scan the candidates.
    search: sometimes(
      fc.oneof(
        fc.constantFrom('BTC', 'usd', '/', '%', '.', '*', '[', 'É', 'th', 'X%Y/', 'B/E', 'T/U', ''),
        fc.constantFrom('USDT', 'sdt/e', 'TH/', 'ÉT', 'C/U', '0SA', 'Q*/', '[Z]/', 'H/B', 'ZZZ', 'A.B/X%Y', '/US'),
        // Longer than a trigram, and whose rarest trigram also occurs in symbols without them.
        fc.constantFrom('T/EU', 'SDT/B', 'TS/ET', 'ETH/U', 'D/SOL'),
        fc.string({ maxLength: 4 }),
      ),
    ),
    ranges: sometimes(
      fc.array(fc.record({ field: fc.constantFrom('price' as const, 'quoteVolume24h' as const, 'changePercent24h' as const), min: bound, max: bound }), {
        minLength: 1,
        maxLength: 2,
      }),
    ),
    ids: sometimes(idsOf(markets)),
  })
  .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)));

const queryOf = (markets: readonly Market[]): fc.Arbitrary<MarketQuery> => fc.record({
  sort: fc.record({
    field: fc.constantFrom<SortField>(...NUMERIC_INDEX_FIELDS, 'symbol'),
    direction: fc.constantFrom('asc' as const, 'desc' as const),
  }),
  filter: filterOf(markets),
  offset: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(10) }, { weight: 1, arbitrary: fc.nat(60) }),
  limit: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant(500)),
});

/** A universe and queries about it (their watchlists name its markets). */
const universeWithQueries = universe.chain((markets) => fc.tuple(fc.constant(markets), fc.array(queryOf(markets), { minLength: 1, maxLength: 12 })));

/** Market number `i` of a large generated universe (`M0000`, `M0001`, ...): only the given fields set. */
function numberedMarket(i: number, exchange: string, quote: string, fields: Partial<Market>): Market {
  const base = `M${String(i).padStart(4, '0')}`;
  return {
    id: `${exchange}:${base}/${quote}`,
    exchange,
    symbol: `${base}/${quote}`,
    nativeSymbol: `${base}${quote}`,
    base,
    quote,
    price: 1,
    bid: null,
    ask: null,
    open24h: null,
    high24h: null,
    low24h: null,
    volume24h: null,
    quoteVolume24h: null,
    change24h: null,
    changePercent24h: null,
    spreadPercent: null,
    updatedAt: 1,
    receivedAt: 1,
    ...fields,
  };
}

/** Writes `markets` under a fresh prefix, answers each query with the plan the script picks, and checks it against the reference; counts the plans. */
async function checkAgainstReference(t: TestRedis, markets: readonly Market[], queries: readonly MarketQuery[], plans: Record<string, number>): Promise<void> {
  const prefix = uniquePrefix();
  const keys = createKeys(prefix);
  try {
    await upsertMarkets(t.redis, keys, markets);
    for (const q of queries) {
      const actual = await queryMarkets(t.redis, keys, q);
      plans[actual.plan!] = (plans[actual.plan!] ?? 0) + 1;
      const expected = referenceQuery(markets, q);
      expect(actual.total).toBe(expected.total);
      expect(actual.items.map((m) => m.id)).toEqual(expected.items.map((m) => m.id));
    }
  } finally {
    await deletePrefix(t.redis, prefix);
  }
}

describe('queryMarkets (Lua) against the TypeScript reference', () => {
  let t: TestRedis;
  beforeAll(async () => {
    t = await openTestRedis();
  });
  afterAll(async () => {
    await t.close();
  });

  const coverage = { queries: 0, nonEmptyPages: 0, pagesWithNulls: 0, plans: {} as Record<string, number> };

  it('returns the same total and the same page for generated universes and queries', async () => {
    await fc.assert(
      fc.asyncProperty(universeWithQueries, async ([markets, queries]) => {
        const prefix = uniquePrefix();
        const keys = createKeys(prefix);
        try {
          await upsertMarkets(t.redis, keys, markets);
          for (const q of queries) {
            const actual = await queryMarkets(t.redis, keys, q);
            const materialized = await queryMarkets(t.redis, keys, q, 'materialize');
            const expected = referenceQuery(markets, q);
            expect({ ...materialized, plan: undefined }).toEqual({ ...actual, plan: undefined });
            coverage.plans[actual.plan!] = (coverage.plans[actual.plan!] ?? 0) + 1;
            coverage.queries++;
            if (expected.items.length > 0) coverage.nonEmptyPages++;
            if (q.sort.field !== 'symbol' && expected.items.some((m) => m[q.sort.field as NumericIndexField] === null)) coverage.pagesWithNulls++;
            expect(actual.total).toBe(expected.total);
            expect(actual.items.map((m) => m.id)).toEqual(expected.items.map((m) => m.id));
            expect(actual.items).toEqual(expected.items);
          }
          // Scratch keys never outlive a query.
          expect(await t.redis.keys(`{${prefix}}:tmp:*`)).toEqual([]);
        } finally {
          await deletePrefix(t.redis, prefix);
        }
      }),
      { numRuns: 300 },
    );
    // The generators must actually exercise the interesting paths, or the property proves little.
    expect(coverage.nonEmptyPages / coverage.queries).toBeGreaterThan(0.3);
    expect(coverage.pagesWithNulls).toBeGreaterThan(20);
    // Every plan of the script ran many times.
    for (const plan of ['walk', 'index', 'search', 'ids', 'materialize', 'none']) expect(coverage.plans[plan] ?? 0, plan).toBeGreaterThan(50);
  });

  // Universes larger than the walk's chunk (100 index entries), with values from a tiny pool,
  // so tie groups straddle chunk boundaries and the walk must read them whole.
  it('walks and ranks large candidate sets with tie groups across chunk boundaries like the reference', async () => {
    const big = fc.integer({ min: 150, max: 400 }).chain((n) =>
      fc.tuple(
        // Mostly a tiny pool (ties), some universes also with distinct values among them.
        fc.constantFrom(0, 1).chain((spread) =>
          fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1, 2, 3, null) }, { weight: spread, arbitrary: fc.integer({ min: -5000, max: 5000 }) }), { minLength: n, maxLength: n }),
        ),
        fc.array(fc.constantFrom('binance', 'kraken', 'okx'), { minLength: n, maxLength: n }),
      ),
    );
    const walkQuery = fc.record({
      sort: fc.record({ field: fc.constant('changePercent24h' as const), direction: fc.constantFrom('asc' as const, 'desc' as const) }),
      filter: fc.record({ exchanges: fc.subarray(['binance', 'kraken', 'okx'], { minLength: 1 }) }),
      offset: fc.integer({ min: 0, max: 150 }),
      limit: fc.integer({ min: 1, max: 60 }),
    });
    // Searches and watchlists matching many of those markets: plans "search" and "ids" rank
    // them in Lua, with the page's cut value taken from a heap or a sorted copy.
    const rankQuery = fc.record({
      sort: fc.record({ field: fc.constant('changePercent24h' as const), direction: fc.constantFrom('asc' as const, 'desc' as const) }),
      filter: fc.oneof(
        fc.record({ search: fc.constantFrom('M0', 'M00', 'M01', '/U', '1/', 'USDT') }),
        fc.record({ idIndexes: fc.array(fc.nat(399), { minLength: 1, maxLength: 400 }) }),
      ),
      offset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 150 })),
      limit: fc.integer({ min: 1, max: 60 }),
    });
    const plans: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(big, fc.array(fc.oneof(walkQuery, rankQuery), { minLength: 1, maxLength: 6 }), async ([values, exchanges], generated) => {
        const markets = values.map((v, i) => numberedMarket(i, exchanges[i]!, 'USDT', { changePercent24h: v }));
        const queries: MarketQuery[] = generated.map((g) =>
          'idIndexes' in g.filter ? { ...g, filter: { ids: g.filter.idIndexes.map((i) => markets[i % markets.length]!.id) } } : (g as MarketQuery),
        );
        await checkAgainstReference(t, markets, queries, plans);
      }),
      { numRuns: 60 },
    );
    expect(plans.walk ?? 0).toBeGreaterThan(30);
    expect(plans.search ?? 0).toBeGreaterThan(30);
    expect(plans.ids ?? 0).toBeGreaterThan(30);
  });
  // USD sorts and bounds at generated rates: some quote assets without a rate, rates that make
  // values of different quotes tie or cross, and sometimes a quote asset left out of the list
  // passed (as when it appeared after the rates were read) or a per-quote index emptied (as
  // after an upgrade), which the script must notice and answer from the quote sets instead.
  it('sorts and bounds by USD value exactly at the rates passed, whatever the plan', async () => {
    const RATES = [1, 0.5, 2, 3.3, 97000.125, 1e-7, 0.029, 1 / 3];
    const ratesFor = fc.array(fc.option(fc.constantFrom(...RATES), { nil: undefined, freq: 4 }), { minLength: ASSETS.length, maxLength: ASSETS.length });
    const usdField = fc.constantFrom<UsdValueField>('priceUsd', 'quoteVolume24hUsd');
    const usdBound = fc.oneof(fc.constant(null), fc.constantFrom(...POOL), fc.double({ min: -1e3, max: 1e8, noNaN: true }));
    const usdQuery = (markets: readonly Market[]) =>
      fc.record({
        sort: fc.oneof(
          { weight: 3, arbitrary: fc.record({ field: usdField as fc.Arbitrary<SortField>, direction: fc.constantFrom('asc' as const, 'desc' as const) }) },
          { weight: 1, arbitrary: fc.record({ field: fc.constantFrom<SortField>('changePercent24h', 'symbol'), direction: fc.constantFrom('asc' as const, 'desc' as const) }) },
        ),
        filter: fc.tuple(filterOf(markets), fc.oneof(fc.constant([]), fc.array(fc.record({ field: usdField, min: usdBound, max: usdBound }), { minLength: 1, maxLength: 2 }))).map(
          ([filter, usd]) => ({ ...filter, ranges: [...(filter.ranges ?? []), ...usd] }),
        ),
        offset: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(10) }, { weight: 1, arbitrary: fc.nat(60) }),
        limit: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant(500)),
      });
    const damage = fc.constantFrom('none', 'none', 'none', 'unlisted quote', 'emptied index');
    const plans: Record<string, number> = {};
    let usdPagesWithValues = 0;
    await fc.assert(
      fc.asyncProperty(
        universe.chain((markets) => fc.tuple(fc.constant(markets), fc.array(usdQuery(markets), { minLength: 1, maxLength: 10 }), ratesFor, damage)),
        async ([markets, generated, rateList, harm]) => {
          const prefix = uniquePrefix();
          const keys = createKeys(prefix);
          try {
            await upsertMarkets(t.redis, keys, markets);
            let quotes = [...new Set(markets.map((m) => m.quote))].sort();
            if (harm === 'unlisted quote') quotes = quotes.slice(1);
            if (harm === 'emptied index' && quotes.length > 0) await t.redis.del(keys.quoteIndex('quoteVolume24h', quotes[0]!), keys.quoteIndex('price', quotes[0]!));
            const entries = quotes.map((quote): QuoteRate => {
              const rate = rateList[ASSETS.indexOf(quote)] ?? null;
              return { quote, rate, basis: rate === null ? 'NONE' : 'MARKET', source: null, via: null };
            });
            const rates = rateTable(1, entries);
            for (const g of generated) {
              const q: MarketQuery = { ...g, rates };
              const actual = await queryMarkets(t.redis, keys, q);
              const materialized = await queryMarkets(t.redis, keys, q, 'materialize');
              const expected = referenceQuery(markets, q);
              plans[actual.plan!] = (plans[actual.plan!] ?? 0) + 1;
              if (q.sort.field in USD_FIELD_OF && expected.items.some((m) => rates.rateOf(m.quote) !== undefined)) usdPagesWithValues++;
              expect(actual.total).toBe(expected.total);
              expect(actual.items.map((m) => m.id)).toEqual(expected.items.map((m) => m.id));
              expect(materialized.total).toBe(expected.total);
              expect(materialized.items.map((m) => m.id)).toEqual(expected.items.map((m) => m.id));
            }
            expect(await t.redis.keys(`{${prefix}}:tmp:*`)).toEqual([]);
          } finally {
            await deletePrefix(t.redis, prefix);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(usdPagesWithValues).toBeGreaterThan(100);
    for (const plan of ['merge', 'materialize', 'ids', 'search']) expect(plans[plan] ?? 0, plan).toBeGreaterThan(30);
  });
  // Quote groups larger than the merge's first reads (8 entries, doubling), values from a tiny
  // pool, so tie groups straddle reads and equal USD values meet across quote assets.
  it('merges large quote groups with ties across reads and quote assets like the reference', async () => {
    const QUOTES = ['USDT', 'USD', 'EUR', 'BTC'];
    const big = fc.integer({ min: 150, max: 400 }).chain((n) =>
      fc.tuple(
        fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1, 2, 4, 0, null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 5000 }) }), { minLength: n, maxLength: n }),
        fc.array(fc.tuple(fc.constantFrom('binance', 'kraken', 'okx'), fc.constantFrom(...QUOTES)), { minLength: n, maxLength: n }),
        // Rates that map values of different quotes onto equal USD values (2 x 0.5 = 1 x 1).
        fc.tuple(fc.constantFrom(1, 0.5), fc.constantFrom(1, 2, 0.25), fc.option(fc.constantFrom(0.5, 4), { nil: undefined })),
      ),
    );
    const mergeQuery = fc.record({
      sort: fc.record({ field: fc.constantFrom<SortField>('quoteVolume24hUsd', 'priceUsd'), direction: fc.constantFrom('asc' as const, 'desc' as const) }),
      filter: fc.oneof(
        fc.constant({}),
        fc.record({ exchanges: fc.subarray(['binance', 'kraken', 'okx'], { minLength: 1 }) }),
        fc.record({ quotes: fc.subarray(QUOTES, { minLength: 1 }) }),
        fc.record({ ranges: fc.tuple(fc.constantFrom(0, 1, 2, 3, 1000), fc.constantFrom(null, 4, 2500)).map(([min, max]) => [{ field: 'quoteVolume24hUsd' as const, min, max }]) }),
      ),
      offset: fc.integer({ min: 0, max: 150 }),
      limit: fc.integer({ min: 1, max: 60 }),
    });
    // The movers among the markets with enough USD volume: the walk, testing each read's USD values.
    const boundedWalk = fc.record({
      sort: fc.record({ field: fc.constant<SortField>('changePercent24h'), direction: fc.constantFrom('asc' as const, 'desc' as const) }),
      filter: fc.record({
        ranges: fc.constantFrom(0, 1, 2, 1000).map((min) => [{ field: 'quoteVolume24hUsd' as const, min, max: null }]),
        quotes: fc.option(fc.subarray(QUOTES, { minLength: 1 }), { nil: undefined }),
      }).map((f) => (f.quotes === undefined ? { ranges: f.ranges } : f)),
      offset: fc.integer({ min: 0, max: 100 }),
      limit: fc.integer({ min: 1, max: 60 }),
    });
    const plans: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(big, fc.array(fc.oneof(mergeQuery, boundedWalk), { minLength: 1, maxLength: 6 }), async ([values, places, [usdt, eur, btc]], queries) => {
        const markets = values.map((v, i) =>
          numberedMarket(i, places[i]![0], places[i]![1], { price: (i % 3) + 1, quoteVolume24h: v, changePercent24h: (i * 7) % 11 === 0 ? null : ((i * 7) % 11) - 5 }),
        );
        const rate = { USDT: usdt, USD: 1, EUR: eur, BTC: btc ?? null } as Record<string, number | null>;
        const rates = rateTable(
          1,
          QUOTES.map((quote): QuoteRate => ({ quote, rate: rate[quote] ?? null, basis: 'MARKET', source: null, via: null })),
        );
        await checkAgainstReference(
          t,
          markets,
          queries.map((g): MarketQuery => ({ ...g, rates })),
          plans,
        );
      }),
      { numRuns: 60 },
    );
    expect(plans.merge ?? 0).toBeGreaterThan(50);
    expect(plans.walk ?? 0).toBeGreaterThan(30);
  });
});
