import type { Redis } from 'ioredis';
import type { Market } from '../ingest/market';
import { marketSetKeys, marketStateKeys, NUMERIC_INDEX_FIELDS, symbolIndexMember, type Keys } from './keys';
import { encodeMarket } from './market-codec';
import { callScript } from './scripts';

/** Markets per script call: bounds one call's run time so other clients are not held up. */
export const UPSERT_CHUNK = 256;

export interface UpsertResult {
  /** Markets written. */
  readonly applied: number;
  /** Markets left alone because Redis already held a later state. */
  readonly skipped: number;
}

function indexValue(value: number | null): string {
  return value === null ? '' : String(value);
}

/**
 * KEYS and ARGV of one lua/upsertMarkets-n.lua call writing `markets` (at most UPSERT_CHUNK),
 * in the layout its header describes.
 */
export function upsertArguments(keys: Keys, markets: readonly Market[]): { readonly keys: string[]; readonly args: string[] } {
  const scriptKeys = marketStateKeys(keys);
  const args: string[] = [];
  for (const m of markets) {
    scriptKeys.push(...marketSetKeys(keys, m));
    args.push(m.id, m.exchange, symbolIndexMember(m), keys.tickChannel(m.id), encodeMarket(m));
    for (const field of NUMERIC_INDEX_FIELDS) args.push(indexValue(m[field]));
  }
  return { keys: scriptKeys, args };
}

/**
 * Writes full market states with lua/upsertMarkets-n.lua: all chunks go in one pipeline, so a
 * batch of any size costs one round trip.
 */
export async function upsertMarkets(redis: Redis, keys: Keys, markets: readonly Market[]): Promise<UpsertResult> {
  if (markets.length === 0) return { applied: 0, skipped: 0 };
  const pipeline = redis.pipeline();
  for (let start = 0; start < markets.length; start += UPSERT_CHUNK) {
    const call = upsertArguments(keys, markets.slice(start, start + UPSERT_CHUNK));
    callScript(pipeline, 'upsertMarkets', call.keys, call.args);
  }
  const replies = (await pipeline.exec()) ?? [];
  let applied = 0;
  let skipped = 0;
  for (const [err, reply] of replies) {
    if (err) throw err;
    const [a, s] = reply as [number, number];
    applied += a;
    skipped += s;
  }
  return { applied, skipped };
}
