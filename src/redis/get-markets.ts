import type { Redis } from 'ioredis';
import type { Market } from '../market';
import type { Keys } from './keys';
import { decodeMarket } from './market-codec';

/** Markets by id, in the order asked, null for unknown ids: one HMGET, one round trip. */
export async function getMarkets(redis: Redis, keys: Keys, ids: readonly string[]): Promise<(Market | null)[]> {
  if (ids.length === 0) return [];
  const values = await redis.hmget(keys.market, ...ids);
  return values.map((v) => (v === null ? null : decodeMarket(v)));
}
