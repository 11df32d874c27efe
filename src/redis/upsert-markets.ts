import type { Redis } from 'ioredis';
import type { Market } from '../market';
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
  /**
   * With a fence: the markets not written because the caller does not hold their feed's
   * lease (`fence` named no lease for it, or Redis holds another). Absent without a fence.
   */
  readonly fenced?: readonly Market[];
}

/**
 * The lease value the caller holds for each feed (exchange id), as lua/acquireLease-3.lua
 * returned it; '' or absent: none. A fenced write writes a market only while Redis holds
 * exactly that lease for its feed.
 */
export type Fence = ReadonlyMap<string, string>;

function indexValue(value: number | null): string {
  return value === null ? '' : String(value);
}

/**
 * KEYS and ARGV of one lua/upsertMarkets-n.lua call writing `markets` (at most UPSERT_CHUNK),
 * in the layout its header describes. With a fence, every market's feed is fenced with the
 * lease value it gives.
 */
export function upsertArguments(keys: Keys, markets: readonly Market[], fence?: Fence): { readonly keys: string[]; readonly args: string[] } {
  const scriptKeys = marketStateKeys(keys);
  const args: string[] = [];
  const feeds = fence === undefined ? [] : [...new Set(markets.map((m) => m.exchange))];
  args.push(String(feeds.length));
  for (const feed of feeds) {
    scriptKeys.push(keys.lease(feed));
    args.push(feed, fence?.get(feed) ?? '');
  }
  for (const m of markets) {
    scriptKeys.push(...marketSetKeys(keys, m));
    args.push(m.id, m.exchange, symbolIndexMember(m), keys.tickChannel(m.id), encodeMarket(m));
    for (const field of NUMERIC_INDEX_FIELDS) args.push(indexValue(m[field]));
  }
  return { keys: scriptKeys, args };
}

/**
 * Writes full market states with lua/upsertMarkets-n.lua: all chunks go in one pipeline, so a
 * batch of any size costs one round trip. With `fence`, only markets of feeds whose lease the
 * caller holds are written (markets of a feed it names no lease for are not even sent), and
 * `fenced` lists the others.
 */
export async function upsertMarkets(redis: Redis, keys: Keys, markets: readonly Market[], fence?: Fence): Promise<UpsertResult> {
  const fenced: Market[] = [];
  let sent = markets;
  if (fence !== undefined) {
    sent = [];
    for (const m of markets) (fence.get(m.exchange) ? (sent as Market[]) : fenced).push(m);
  }
  let applied = 0;
  let skipped = 0;
  if (sent.length > 0) {
    const pipeline = redis.pipeline();
    const chunks: Array<readonly Market[]> = [];
    for (let start = 0; start < sent.length; start += UPSERT_CHUNK) {
      const chunk = sent.slice(start, start + UPSERT_CHUNK);
      chunks.push(chunk);
      const call = upsertArguments(keys, chunk, fence);
      callScript(pipeline, 'upsertMarkets', call.keys, call.args);
    }
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([err, reply], i) => {
      if (err) throw err;
      const [a, s, , ...fencedFeeds] = reply as [number, number, number, ...string[]];
      applied += a;
      skipped += s;
      if (fencedFeeds.length > 0) {
        const lost = new Set(fencedFeeds);
        for (const m of chunks[i] ?? []) if (lost.has(m.exchange)) fenced.push(m);
      }
    });
  }
  return fence === undefined ? { applied, skipped } : { applied, skipped, fenced };
}
