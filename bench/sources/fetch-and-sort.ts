/**
 * Baseline 1, "fetch-and-sort": what most teams start with. The same market states as the
 * service (the same Redis hash), fetched whole into Node on every request, then filtered,
 * sorted and paged there by the plain reference implementation.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/redis/keys';
import { decodeMarket } from '../../src/redis/market-codec';
import type { MarketSource } from '../../src/redis/query-markets';
import { referenceQuery } from '../../test/support/reference-query';

export function fetchAndSortSource(redis: Redis, keys: Keys): MarketSource {
  return {
    page: async (query) => referenceQuery((await redis.hvals(keys.market)).map(decodeMarket), query),
  };
}
