/**
 * A per-process cache of `markets` pages in front of a MarketSource.
 *
 * Leaderboards are few distinct queries asked by many clients, and the live state changes
 * once per ingest batch, not per request. So:
 * - identical queries asked at the same time share one computation (single flight);
 * - a page is served from memory for `freshMs` after it was computed;
 * - after that, for up to `staleMs`, the last page is served at once while one refresh runs
 *   in the background (stale-while-revalidate), so a client never waits on a busy Redis for
 *   a page that was current a moment ago;
 * - older than `staleMs`, the client waits for a fresh page.
 * A page is therefore at most `staleMs` (plus one computation) behind the live state, and
 * usually at most `freshMs`. Errors are never cached. Memory is bounded by `maxEntries`
 * (least recently used first out). `freshMs` 0 turns the cache off.
 */
import type { MarketPageResult, MarketQuery, MarketSource } from './query-markets';

export interface PageCacheOptions {
  /** How long a computed page is served without recomputing. */
  readonly freshMs: number;
  /** How old a page may be and still be served while a refresh runs. */
  readonly staleMs: number;
  /** Distinct queries kept. */
  readonly maxEntries: number;
  readonly now?: () => number;
}

export interface PageCacheStats {
  /** Served from a fresh page. */
  hits: number;
  /** Served a stale page while refreshing. */
  staleHits: number;
  /** Waited for a computation (first time, too old, or joined one under way). */
  misses: number;
  /** Computations run against the source. */
  computations: number;
}

interface Entry {
  page: MarketPageResult | null;
  computedAt: number;
  inFlight: Promise<MarketPageResult> | null;
}

export interface CachedMarketSource extends MarketSource {
  readonly stats: PageCacheStats;
}

/** Same query, same key: lists are compared as sets, case as the filters ignore it. */
export function cacheKey(query: MarketQuery): string {
  const set = (list: readonly string[] | undefined, f: (s: string) => string) => list && [...new Set(list.map(f))].sort();
  const { filter } = query;
  return JSON.stringify([
    query.sort.field,
    query.sort.direction,
    query.offset,
    query.limit,
    set(filter.exchanges, (s) => s.toLowerCase()) ?? null,
    set(filter.bases, (s) => s.toUpperCase()) ?? null,
    set(filter.quotes, (s) => s.toUpperCase()) ?? null,
    filter.search === undefined ? null : filter.search.toUpperCase(),
    filter.ranges ?? [],
  ]);
}

export function cachedMarketSource(source: MarketSource, options: PageCacheOptions): CachedMarketSource {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const stats: PageCacheStats = { hits: 0, staleHits: 0, misses: 0, computations: 0 };

  function compute(key: string, entry: Entry, query: MarketQuery): Promise<MarketPageResult> {
    stats.computations++;
    const started = now();
    entry.inFlight = source.page(query).then(
      (page) => {
        entry.page = page;
        entry.computedAt = started; // age counts from when the state was read
        entry.inFlight = null;
        return page;
      },
      (err: unknown) => {
        entry.inFlight = null;
        if (entry.page === null) entries.delete(key);
        throw err;
      },
    );
    return entry.inFlight;
  }

  function remember(key: string, entry: Entry): void {
    entries.delete(key); // re-insert: Map order is recency order
    entries.set(key, entry);
    while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value as string);
  }

  return {
    stats,
    page(query) {
      if (options.freshMs <= 0) {
        stats.computations++;
        return source.page(query);
      }
      const key = cacheKey(query);
      const entry = entries.get(key) ?? { page: null, computedAt: 0, inFlight: null };
      remember(key, entry);
      const age = now() - entry.computedAt;
      if (entry.page !== null && age <= options.freshMs) {
        stats.hits++;
        return Promise.resolve(entry.page);
      }
      if (entry.page !== null && age <= options.staleMs) {
        stats.staleHits++;
        if (entry.inFlight === null) compute(key, entry, query).catch(() => {}); // the next caller sees the error
        return Promise.resolve(entry.page);
      }
      stats.misses++;
      return entry.inFlight ?? compute(key, entry, query);
    },
  };
}
