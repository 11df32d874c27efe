/**
 * The markets query written the obvious way, in TypeScript over an array: what API.md says,
 * with nothing clever. The property test checks lua/queryMarkets-n.lua against it, and the
 * benchmark uses it as the fetch-and-sort baseline.
 */
import type { Market } from '../../src/market';
import { usdValue } from '../../src/quote-rates';
import { USD_FIELD_OF, type MarketPageResult, type MarketQuery, type QueryRates, type SortField } from '../../src/redis/query-markets';

/** A market's value of a sort or range field; USD fields at the query's rates (none: no rate). */
function valueOf(m: Market, field: SortField, rates: QueryRates | undefined): number | string | null {
  if (field in USD_FIELD_OF) return usdValue(m[USD_FIELD_OF[field as keyof typeof USD_FIELD_OF]], rates?.rateOf(m.quote));
  return m[field as Exclude<SortField, keyof typeof USD_FIELD_OF>];
}

/** Code-point (UTF-8 byte) order, as API.md requires for SYMBOL and id; not UTF-16 order. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function matches(m: Market, filter: MarketQuery['filter'], rates: QueryRates | undefined): boolean {
  const { exchanges, bases, quotes, search, ranges, ids } = filter;
  if (exchanges && !exchanges.some((e) => e.toLowerCase() === m.exchange)) return false;
  if (bases && !bases.some((b) => b.toUpperCase() === m.base)) return false;
  if (quotes && !quotes.some((q) => q.toUpperCase() === m.quote)) return false;
  if (ids && !ids.includes(m.id)) return false;
  if (search !== undefined && !m.symbol.toUpperCase().includes(search.toUpperCase())) return false;
  for (const r of ranges ?? []) {
    const value = valueOf(m, r.field, rates) as number | null;
    if (value === null) return false;
    if (r.min !== null && value < r.min) return false;
    if (r.max !== null && value > r.max) return false;
  }
  return true;
}

export function referenceQuery(markets: readonly Market[], query: MarketQuery): MarketPageResult {
  const { field, direction } = query.sort;
  const sign = direction === 'asc' ? 1 : -1;
  const selected = markets.filter((m) => matches(m, query.filter, query.rates));
  selected.sort((a, b) => {
    const va = valueOf(a, field, query.rates);
    const vb = valueOf(b, field, query.rates);
    if (va === null || vb === null) {
      if (va !== vb) return va === null ? 1 : -1; // nulls last, either direction
    } else if (va !== vb) {
      const order = typeof va === 'string' || typeof vb === 'string' ? compareCodePoints(String(va), String(vb)) : va < vb ? -1 : 1;
      return sign * order;
    }
    return compareCodePoints(a.id, b.id);
  });
  return { total: selected.length, items: selected.slice(query.offset, query.offset + query.limit) };
}
