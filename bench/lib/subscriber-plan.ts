/**
 * Who watches what in the subscription scenarios. A subscriber is one WebSocket with one
 * `priceUpdated` subscription; its `kind` groups it in the report.
 *
 * Watchlists pick markets with Zipf-like popularity (the market of rank r is chosen with weight
 * 1/r, like BTC/USDT being on every screen and a small listing on few), so popular markets have
 * many subscribers and the tail has few or none. Every market moves at the same average rate in
 * the bench, so a subscriber watching k markets of a feed sending R updates/s over M markets
 * receives k * R / M messages per second whichever markets it picked.
 */
import { createPrng } from '../../src/ingest/sim/prng';

/** The subscription every graphql-ws subscriber sends: one document, markets in variables. */
export const PRICE_SUBSCRIPTION =
  'subscription Prices($ids: [ID!], $exchanges: [String!]) { priceUpdated(ids: $ids, exchanges: $exchanges) { id price bid ask changePercent24h updatedAt } }';

/** The id of the one subscription each graphql-ws subscriber's socket carries. */
export const SUBSCRIPTION_ID = '1';

export interface PlannedSubscriber {
  /** Report group, e.g. "watchlist of 3". */
  readonly kind: string;
  readonly ids?: readonly string[];
  readonly exchanges?: readonly string[];
}

/** `count` subscribers, each watching `perSubscriber` distinct markets chosen by popularity. */
export function watchlists(count: number, marketIds: readonly string[], perSubscriber: number, seed: number): PlannedSubscriber[] {
  const random = createPrng(seed);
  const cumulative: number[] = [];
  let total = 0;
  for (let rank = 1; rank <= marketIds.length; rank++) cumulative.push((total += 1 / rank));
  const pick = () => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return marketIds[lo]!;
  };
  const k = Math.min(perSubscriber, marketIds.length);
  return Array.from({ length: count }, () => {
    const ids = new Set<string>();
    while (ids.size < k) ids.add(pick());
    return { kind: `watchlist of ${k}`, ids: [...ids] };
  });
}

/** How many subscribers watch each market id (a whole-exchange subscriber watches all of `allIds`). */
export function watchersPerMarket(plan: readonly PlannedSubscriber[], allIds: readonly string[]): Map<string, number> {
  const watchers = new Map<string, number>();
  const add = (id: string) => watchers.set(id, (watchers.get(id) ?? 0) + 1);
  for (const s of plan) {
    if (s.ids) s.ids.forEach(add);
    else if (s.exchanges) allIds.forEach(add);
  }
  return watchers;
}

/** Splits subscribers round-robin over `parts` client processes. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => out[i % parts]!.push(item));
  return out;
}
