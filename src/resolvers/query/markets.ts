import type { MarketFilter, MarketSortField, QueryMarketsArgs, Resolvers } from '../../generated/graphql';
import type { Market } from '../../market';
import { badUserInput } from '../../errors';
import type { MarketQuery, RangeCondition, SortField } from '../../redis/query-markets';

/** What `markets` returns to the MarketPage field resolvers. */
export interface MarketPageParent {
  readonly items: readonly Market[];
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
}

export const MAX_LIMIT = 500;
/** Longest accepted `search` text. */
export const MAX_SEARCH_LENGTH = 64;
/** Most values accepted in one filter list; each one is a key the query reads. */
export const MAX_FILTER_VALUES = 100;
/** Most ids in `filter.ids`; each one is looked up once per filter key (lua/README.md, plan `ids`). */
export const MAX_FILTER_IDS = 500;

const SORT_FIELDS: Record<MarketSortField, SortField> = {
  PRICE: 'price',
  CHANGE_PERCENT_24H: 'changePercent24h',
  VOLUME_24H: 'volume24h',
  QUOTE_VOLUME_24H: 'quoteVolume24h',
  SPREAD_PERCENT: 'spreadPercent',
  SYMBOL: 'symbol',
  UPDATED_AT: 'updatedAt',
  PRICE_USD: 'priceUsd',
  QUOTE_VOLUME_24H_USD: 'quoteVolume24hUsd',
};

function list(name: string, values: readonly string[] | null | undefined, max = MAX_FILTER_VALUES): readonly string[] | undefined {
  if (values === null || values === undefined) return undefined;
  if (values.length > max) throw badUserInput(`filter.${name} has ${values.length} values; at most ${max} are allowed`, `filter.${name}`);
  return values;
}

function ranges(filter: MarketFilter): RangeCondition[] {
  const out: RangeCondition[] = [];
  const add = (field: RangeCondition['field'], min: number | null | undefined, max: number | null | undefined) => {
    if ((min ?? null) !== null || (max ?? null) !== null) out.push({ field, min: min ?? null, max: max ?? null });
  };
  add('price', filter.minPrice, filter.maxPrice);
  add('quoteVolume24h', filter.minQuoteVolume24h, null);
  add('changePercent24h', filter.minChangePercent24h, filter.maxChangePercent24h);
  add('priceUsd', filter.minPriceUsd, filter.maxPriceUsd);
  add('quoteVolume24hUsd', filter.minQuoteVolume24hUsd, null);
  return out;
}

/** Checks the arguments against API.md and maps them to a storage query. */
export function toMarketQuery(args: QueryMarketsArgs): MarketQuery {
  const offset = args.page?.offset ?? 0;
  const limit = args.page?.limit ?? 50;
  if (!Number.isInteger(offset) || offset < 0) throw badUserInput(`page.offset must be 0 or more, got ${offset}`, 'page.offset');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badUserInput(`page.limit must be between 1 and ${MAX_LIMIT}, got ${limit}`, 'page.limit');

  const filter = args.filter ?? {};
  const search = filter.search ?? undefined;
  if (search !== undefined && search.length > MAX_SEARCH_LENGTH) {
    throw badUserInput(`filter.search is ${search.length} characters long; at most ${MAX_SEARCH_LENGTH} are allowed`, 'filter.search');
  }
  const exchanges = list('exchanges', filter.exchanges);
  const bases = list('bases', filter.bases);
  const quotes = list('quotes', filter.quotes);
  const ids = list('ids', filter.ids, MAX_FILTER_IDS);
  return {
    sort: {
      field: SORT_FIELDS[args.sort?.field ?? 'QUOTE_VOLUME_24H'],
      direction: (args.sort?.direction ?? 'DESC') === 'ASC' ? 'asc' : 'desc',
    },
    filter: {
      ...(exchanges ? { exchanges } : {}),
      ...(bases ? { bases } : {}),
      ...(quotes ? { quotes } : {}),
      ...(search !== undefined ? { search } : {}),
      ranges: ranges(filter),
      ...(ids ? { ids } : {}),
    },
    offset,
    limit,
  };
}

export const markets: NonNullable<Resolvers['Query']>['markets'] = async (_parent, args, context) => {
  // The page is sorted and bounded at the request's rates, the rates its USD fields show.
  const query = { ...toMarketQuery(args), rates: context.rates };
  const page = await context.services.marketSource.page(query);
  return { items: page.items, total: page.total, offset: query.offset, limit: query.limit };
};
