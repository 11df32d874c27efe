import type { Redis } from 'ioredis';
import type { Market } from '../market';
import { USD_FIELDS, type Keys, type NumericIndexField, type UsdField } from './keys';
import { DecodedMarkets } from './market-codec';
import { callScript } from './scripts';

/** The USD rates a query converts at (src/quote-rates.ts's RateTable is one). */
export interface QueryRates {
  /** Counts up whenever a rate or the set of quote assets changes. */
  readonly version: number;
  /** Every quote asset with markets, with or without a rate. */
  readonly quotes: readonly string[];
  /** The rate of a quote asset; undefined when it has none. */
  rateOf(quote: string): number | undefined;
}

const NO_RATES: QueryRates = { version: 0, quotes: [], rateOf: () => undefined };

/** The Market fields in USD, and the field in quote units each converts. */
export const USD_FIELD_OF = { priceUsd: 'price', quoteVolume24hUsd: 'quoteVolume24h' } as const satisfies Record<string, UsdField>;
export type UsdValueField = keyof typeof USD_FIELD_OF;

export type SortField = NumericIndexField | UsdValueField | 'symbol';
export type SortDirection = 'asc' | 'desc';

export interface RangeCondition {
  readonly field: NumericIndexField | UsdValueField;
  /** Inclusive bounds; null leaves that side open. */
  readonly min: number | null;
  readonly max: number | null;
}

/** A validated markets query in storage terms (the GraphQL layer maps its arguments to this). */
export interface MarketQuery {
  readonly sort: { readonly field: SortField; readonly direction: SortDirection };
  readonly filter: {
    /** Any of these exchange ids; an empty list matches nothing; undefined: no condition. */
    readonly exchanges?: readonly string[];
    readonly bases?: readonly string[];
    readonly quotes?: readonly string[];
    /** Case-insensitive plain substring of the symbol. */
    readonly search?: string;
    readonly ranges?: readonly RangeCondition[];
    /** Any of these market ids, matched exactly; an empty list matches nothing; undefined: no condition. */
    readonly ids?: readonly string[];
  };
  readonly offset: number;
  readonly limit: number;
  /**
   * The rates a USD sort or USD bound converts at (src/quote-rates.ts); the answer's USD fields
   * must be computed with the same table. Unused by queries without USD; none: no rates.
   */
  readonly rates?: QueryRates;
}

/** Whether a query sorts or filters by a USD value (and so depends on the rates). */
export function usesRates(query: MarketQuery): boolean {
  return isUsdField(query.sort.field) || (query.filter.ranges ?? []).some((r) => isUsdField(r.field));
}

function isUsdField(field: SortField): field is UsdValueField {
  return field in USD_FIELD_OF;
}

/** Position of a USD field's unit among USD_FIELDS, 1-based, as the script numbers it. */
function unitPosition(field: UsdValueField): number {
  return USD_FIELDS.indexOf(USD_FIELD_OF[field]) + 1;
}

export interface MarketPageResult {
  readonly total: number;
  readonly items: Market[];
  /** The plan lua/queryMarkets-n.lua used (walk, merge, index, search, ids, materialize, none); for metrics and tests. */
  readonly plan?: string;
}

function groupSize(list: readonly string[] | undefined): number {
  return list === undefined ? -1 : list.length;
}

function bound(value: number | null, open: '-inf' | '+inf'): string {
  return value === null ? open : String(value);
}

/**
 * Where `markets` pages come from. The service uses Redis with Lua (`redisMarketSource`); the
 * benchmark plugs other implementations in behind the same GraphQL server to compare them.
 */
export interface MarketSource {
  page(query: MarketQuery): Promise<MarketPageResult>;
}

export function redisMarketSource(redis: Redis, keys: Keys): MarketSource {
  return { page: (query) => queryMarkets(redis, keys, query) };
}

/**
 * `auto` lets the script choose (lua/README.md); `materialize` never walks the index nor reads
 * the search index. Both give the same answer; the tests check that.
 */
export type QueryPlan = 'auto' | 'materialize';

/** One per process: pages of different queries share most of their markets. */
const decodedMarkets = new DecodedMarkets();

/** Runs lua/queryMarkets-n.lua: one round trip for the page and its total. */
export async function queryMarkets(redis: Redis, keys: Keys, query: MarketQuery, plan: QueryPlan = 'auto'): Promise<MarketPageResult> {
  const { sort, filter } = query;
  // Distinct values only: a repeated exchange in the list must not count a market twice.
  const exchanges = filter.exchanges && [...new Set(filter.exchanges.map((e) => e.toLowerCase()))];
  const bases = filter.bases && [...new Set(filter.bases.map((b) => b.toUpperCase()))];
  const quotes = filter.quotes && [...new Set(filter.quotes.map((q) => q.toUpperCase()))];
  const ranges: Array<RangeCondition & { field: NumericIndexField }> = [];
  const usdRanges: Array<RangeCondition & { field: UsdValueField }> = [];
  for (const r of filter.ranges ?? []) (isUsdField(r.field) ? usdRanges : ranges).push(r as never);
  const ids = filter.ids && [...new Set(filter.ids)];
  // Every quote asset with markets goes with its rate when the answer depends on the rates:
  // the script checks its per-quote indexes against them (lua/README.md, plan "merge").
  const rates = usesRates(query) ? (query.rates ?? NO_RATES) : NO_RATES;
  const usdSort = isUsdField(sort.field) ? sort.field : null;

  const scriptKeys = [
    keys.market,
    keys.ids,
    sort.field === 'symbol' ? keys.symbolIndex : keys.index(usdSort ? USD_FIELD_OF[usdSort] : (sort.field as NumericIndexField)),
    ...keys.scratch(4),
    keys.searchIndex,
    keys.filterCounts,
    ...USD_FIELDS.map((f) => keys.index(f)),
    ...(exchanges ?? []).map((e) => keys.exchange(e)),
    ...(bases ?? []).map((b) => keys.base(b)),
    ...(quotes ?? []).map((q) => keys.quote(q)),
    ...ranges.map((r) => keys.index(r.field)),
    ...rates.quotes.flatMap((q) => [keys.quote(q), ...USD_FIELDS.map((f) => keys.quoteIndex(f, q))]),
    ...keys.scratch(rates.quotes.length),
  ];
  const args = [
    sort.field === 'symbol' ? 'lex' : usdSort ? 'usd' : 'score',
    sort.direction,
    query.offset,
    query.limit,
    filter.search === undefined ? '' : filter.search.toUpperCase(),
    groupSize(exchanges),
    groupSize(bases),
    groupSize(quotes),
    ranges.length,
    plan,
    groupSize(ids),
    rates.quotes.length,
    usdRanges.length,
    usdSort ? unitPosition(usdSort) : 0,
    ...ranges.flatMap((r) => [bound(r.min, '-inf'), bound(r.max, '+inf')]),
    ...usdRanges.flatMap((r) => [unitPosition(r.field), bound(r.min, '-inf'), bound(r.max, '+inf')]),
    ...rates.quotes.flatMap((q) => [q, String(rates.rateOf(q) ?? '')]),
    ...(ids ?? []),
  ];
  const reply = (await callScript(redis, 'queryMarkets', scriptKeys, args)) as [number, string, ...string[]];
  const [total, used, ...items] = reply;
  return { total, plan: used, items: items.map((text) => decodedMarkets.decode(text)) };
}
