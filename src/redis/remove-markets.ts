import type { Redis } from 'ioredis';
import type { Market } from '../market';
import { marketSetKeys, marketStateKeys, symbolIndexMember, type Keys } from './keys';
import { decodeMarket } from './market-codec';
import { callScript } from './scripts';
import { UPSERT_CHUNK } from './upsert-markets';

/** Markets per script call: the same bound as for writes. */
export const REMOVE_CHUNK = UPSERT_CHUNK;

/** What a guarded removal checks coverage against (the leftover sweep, redis/coverage.ts). */
export interface CoverageGuard {
  /** Every instance the registry (`keys.ingesters`) held when the caller read it. */
  readonly instances: readonly string[];
}

export interface RemovalResult {
  /** Ids removed. */
  readonly removed: string[];
  /** True when the guard refused at least one call: the registry gained a process meanwhile. */
  readonly refused: boolean;
}

/**
 * KEYS and ARGV of one lua/removeMarkets-n.lua call removing `markets` (at most REMOVE_CHUNK),
 * in the layout its header describes.
 */
function removeArguments(keys: Keys, markets: readonly Market[], guard: CoverageGuard | null): { readonly keys: string[]; readonly args: string[] } {
  const scriptKeys = marketStateKeys(keys);
  const args: string[] = [];
  if (guard === null) {
    args.push('-1');
  } else {
    scriptKeys.push(keys.ingesters);
    args.push(String(guard.instances.length));
    for (const instance of guard.instances) {
      scriptKeys.push(keys.ingestMarker(instance), keys.covers(instance));
      args.push(instance);
    }
    // Every exchange of the markets, with its lease and holder trace: a feed in the middle of
    // a takeover keeps its markets.
    const exchanges = [...new Set(markets.map((m) => m.exchange))];
    args.push(String(exchanges.length));
    for (const exchange of exchanges) {
      scriptKeys.push(keys.lease(exchange), keys.leaseTrace(exchange));
      args.push(exchange);
    }
  }
  for (const m of markets) {
    scriptKeys.push(...marketSetKeys(keys, m));
    args.push(m.id, m.exchange, symbolIndexMember(m));
  }
  return { keys: scriptKeys, args };
}

/**
 * Reads the stored state of `ids` (for the filter sets and index members each was written
 * with; unknown ids drop out) and removes them with lua/removeMarkets-n.lua, all chunks in one
 * pipeline. With a guard, a call is made even for no markets: it drops dead processes.
 */
async function remove(redis: Redis, keys: Keys, ids: readonly string[], guard: CoverageGuard | null): Promise<RemovalResult> {
  const unique = [...new Set(ids)];
  const stored = unique.length === 0 ? [] : await redis.hmget(keys.market, ...unique);
  const markets = stored.flatMap((json) => (json === null ? [] : [decodeMarket(json)]));
  if (markets.length === 0 && guard === null) return { removed: [], refused: false };
  const pipeline = redis.pipeline();
  let start = 0;
  do {
    const call = removeArguments(keys, markets.slice(start, start + REMOVE_CHUNK), guard);
    callScript(pipeline, 'removeMarkets', call.keys, call.args);
    start += REMOVE_CHUNK;
  } while (start < markets.length);
  const replies = (await pipeline.exec()) ?? [];
  const removed: string[] = [];
  let refused = false;
  for (const [err, reply] of replies) {
    if (err) throw err;
    const [done, ...gone] = reply as [number, ...string[]];
    if (done === 0) refused = true;
    removed.push(...gone);
  }
  return { removed, refused };
}

/**
 * Removes markets from the live state: their JSON and every index and filter-set entry.
 * Unknown ids are ignored. Returns how many markets were removed.
 */
export async function removeMarkets(redis: Redis, keys: Keys, ids: readonly string[]): Promise<number> {
  return (await remove(redis, keys, ids, null)).removed.length;
}

/**
 * Removes those of `ids` that no live process of the registry covers and whose feed is not
 * between two holders (its lease's holder has published coverage of its tenure, or it has
 * neither lease nor holder trace), unless the registry
 * holds a process outside `guard.instances` (then `refused`, and that call changed nothing).
 * Drops dead processes from the registry on the way. For redis/coverage.ts's sweep.
 */
export function removeUncoveredMarkets(redis: Redis, keys: Keys, ids: readonly string[], guard: CoverageGuard): Promise<RemovalResult> {
  return remove(redis, keys, ids, guard);
}
