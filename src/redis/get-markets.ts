import type { Redis } from 'ioredis';
import { marketId, type Market } from '../market';
import type { Keys } from './keys';
import { decodeMarket } from './market-codec';

/** Markets by id, in the order asked, null for unknown ids: one HMGET, one round trip. */
export async function getMarkets(redis: Redis, keys: Keys, ids: readonly string[]): Promise<(Market | null)[]> {
  if (ids.length === 0) return [];
  const values = await redis.hmget(keys.market, ...ids);
  return values.map((v) => (v === null ? null : decodeMarket(v)));
}

/** Which markets a `priceUpdated` snapshot reads: every list optional, each matching any of its values. */
export interface MarketSelection {
  readonly ids?: readonly string[] | null;
  /** Lower-case exchange ids. */
  readonly exchanges?: readonly string[] | null;
  /** Normalized upper-case symbols. */
  readonly symbols?: readonly string[] | null;
}

/** Fields read per HSCAN step when the selection is every market. */
const SCAN_COUNT = 1000;

/**
 * The current state of the markets a selection may match, read by the narrowest means: the ids
 * themselves; the exchanges' id sets (with the symbols, the ids they make); for symbols alone,
 * the ids they make on every exchange with markets; and, for no selection, the whole market
 * hash in HSCAN steps. The caller still filters: a list narrows only its own kind.
 */
export async function getSelectedMarkets(redis: Redis, keys: Keys, selection: MarketSelection): Promise<Market[]> {
  const present = (list: readonly (Market | null)[]) => list.filter((m): m is Market => m !== null);
  const { ids, exchanges, symbols } = selection;
  if (ids) return present(await getMarkets(redis, keys, [...new Set(ids)]));
  if (exchanges && symbols) return present(await getMarkets(redis, keys, exchanges.flatMap((e) => symbols.map((s) => marketId(e, s)))));
  if (exchanges) {
    const perExchange = await Promise.all(exchanges.map((e) => redis.zrange(keys.exchange(e), 0, -1)));
    return present(await getMarkets(redis, keys, perExchange.flat()));
  }
  if (symbols) {
    const known = await redis.smembers(keys.exchanges);
    return present(await getMarkets(redis, keys, known.flatMap((e) => symbols.map((s) => marketId(e, s)))));
  }
  const markets: Market[] = [];
  let cursor = '0';
  do {
    const [next, entries] = await redis.hscan(keys.market, cursor, 'COUNT', SCAN_COUNT);
    for (let i = 1; i < entries.length; i += 2) markets.push(decodeMarket(entries[i]!));
    cursor = next;
  } while (cursor !== '0');
  return markets;
}
