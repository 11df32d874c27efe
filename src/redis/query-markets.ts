import type { Redis } from 'ioredis';
import type { Market } from '../market';
import type { Keys, NumericIndexField } from './keys';
import { DecodedMarkets } from './market-codec';
import { callScript } from './scripts';

export type SortField = NumericIndexField | 'symbol';
export type SortDirection = 'asc' | 'desc';

export interface RangeCondition {
  readonly field: NumericIndexField;
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
}

export interface MarketPageResult {
  readonly total: number;
  readonly items: Market[];
  /** The plan lua/queryMarkets-n.lua used (walk, index, search, ids, materialize, none); for metrics and tests. */
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
  const ranges = filter.ranges ?? [];
  const ids = filter.ids && [...new Set(filter.ids)];

  const scriptKeys = [
    keys.market,
    keys.ids,
    sort.field === 'symbol' ? keys.symbolIndex : keys.index(sort.field),
    ...keys.scratch(4),
    keys.searchIndex,
    keys.filterCounts,
    ...(exchanges ?? []).map((e) => keys.exchange(e)),
    ...(bases ?? []).map((b) => keys.base(b)),
    ...(quotes ?? []).map((q) => keys.quote(q)),
    ...ranges.map((r) => keys.index(r.field)),
  ];
  const args = [
    sort.field === 'symbol' ? 'lex' : 'score',
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
    ...ranges.flatMap((r) => [bound(r.min, '-inf'), bound(r.max, '+inf')]),
    ...(ids ?? []),
  ];
  const reply = (await callScript(redis, 'queryMarkets', scriptKeys, args)) as [number, string, ...string[]];
  const [total, used, ...items] = reply;
  return { total, plan: used, items: items.map((text) => decodedMarkets.decode(text)) };
}
