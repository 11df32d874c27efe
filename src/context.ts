/**
 * What every resolver receives. `services` are shared by the whole process; `marketLoader`
 * is made per request (or per subscription operation), so batching and caching never leak
 * between clients.
 */
import DataLoader from 'dataloader';
import type { Redis } from 'ioredis';
import type { Market } from './market';
import type { QuoteRates, RateTable } from './quote-rates';
import { getMarkets } from './redis/get-markets';
import type { Keys } from './redis/keys';
import type { MarketSource } from './redis/query-markets';
import type { Staleness } from './staleness';
import type { PriceUpdates } from './subscriptions/price-updates';

export interface Services {
  readonly redis: Redis;
  readonly keys: Keys;
  /** Computes `markets` pages. */
  readonly marketSource: MarketSource;
  readonly staleness: Staleness;
  /** USD rates of the quote assets (`Market.priceUsd`, the USD sorts, `Query.quoteRates`). */
  readonly quoteRates: QuoteRates;
  readonly priceUpdates: PriceUpdates;
  /** Feeds this process was configured with (reported even before they have markets). */
  readonly configuredFeeds: readonly string[];
}

export interface Context {
  readonly services: Services;
  /** market(id) lookups of one request, batched into one HMGET. */
  readonly marketLoader: DataLoader<string, Market | null>;
  /**
   * The rates of this request, taken once when yoga builds its context (yoga copies the
   * context's fields, so this getter runs then): a query's sort, bounds and USD fields all
   * convert at the same rates. Subscriptions convert each delivery at the rates of its moment
   * instead (`ratesFor`).
   */
  readonly rates: RateTable;
}

/** The rates a resolver converts at: the request's for queries, the current ones for a subscription's deliveries. */
export function ratesFor(context: Context, operation: 'query' | 'mutation' | 'subscription'): RateTable {
  return operation === 'subscription' ? context.services.quoteRates.current() : context.rates;
}

/** The loader is made on first use: most requests (`markets`, `feeds`, `{ __typename }`) never need one. */
export function createContext(services: Services): Context {
  let loader: DataLoader<string, Market | null> | null = null;
  let rates: RateTable | null = null;
  return {
    services,
    get marketLoader() {
      loader ??= new DataLoader((ids) => getMarkets(services.redis, services.keys, ids), { maxBatchSize: 1000 });
      return loader;
    },
    get rates() {
      rates ??= services.quoteRates.current();
      return rates;
    },
  };
}
