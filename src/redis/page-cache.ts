/**
 * What stands between the `markets` resolver and its MarketSource (lua/queryMarkets-n.lua):
 * sharing of identical queries, and, only when asked for, reuse of computed pages.
 *
 * Leaderboards are few distinct queries asked by many clients at once, so identical queries
 * are worth computing once. How far a shared page may lag behind the live state is the
 * question, and there are two answers:
 *
 * - Fresh (`QUERY_CACHE_MS=0`, the default): every answer is computed by a script call sent
 *   to Redis after its request arrived, so it reflects every state that was visible (through
 *   `market(id)` or a subscription) before the request was sent, as API.md requires. Identical
 *   requests share a call that has not been sent yet (`freshPages`).
 * - Bounded staleness (`QUERY_CACHE_MS` > 0, opt-in): a page is served from memory for
 *   `freshMs` after the computation that produced it started, then, for up to `staleMs`, served
 *   at once while one refresh runs in the background; older than that, the client waits for a
 *   fresh page (`stalePages`, on lru-cache).
 *
 * Errors are never cached. Both modes count their work in the same `PageCacheStats`.
 */
import { LRUCache } from 'lru-cache';
import { usesRates, type MarketPageResult, type MarketQuery, type MarketSource } from './query-markets';

export interface PageCacheOptions {
  /** How long a computed page is served without recomputing; 0: never (fresh mode). */
  readonly freshMs: number;
  /** How old a page may be and still be served while a refresh runs (from `freshMs` on). */
  readonly staleMs: number;
  /** Distinct queries whose pages are kept (bounded staleness only). */
  readonly maxEntries: number;
  /** The clock pages are aged by; tests pass their own. */
  readonly now?: () => number;
}

/** Counts of both modes; `misses - computations` is how many requests shared a computation. */
export interface PageCacheStats {
  /** Served a page from memory that was within `freshMs` (bounded staleness only). */
  hits: number;
  /** Served a page from memory older than `freshMs` while it was refreshed (bounded staleness only). */
  staleHits: number;
  /** Waited for a computation: its own or one shared with identical requests. */
  misses: number;
  /** Computations run against the source. */
  computations: number;
}

export interface CachedMarketSource extends MarketSource {
  readonly stats: PageCacheStats;
}

/**
 * Same query, same key: lists are compared as sets, case as the filters ignore it. A query
 * sorted or bounded in USD also carries its rates' version: pages at other rates differ.
 */
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
    set(filter.ids, (s) => s) ?? null, // ids match exactly: no case folding
    usesRates(query) ? (query.rates?.version ?? 0) : null,
  ]);
}

/** The page source the service runs behind: fresh unless `freshMs` opts into staleness. */
export function cachedMarketSource(source: MarketSource, options: PageCacheOptions): CachedMarketSource {
  return options.freshMs > 0 ? stalePages(source, options) : freshPages(source);
}

function newStats(): PageCacheStats {
  return { hits: 0, staleHits: 0, misses: 0, computations: 0 };
}

/** Calls the source, turning a synchronous throw into a rejection. */
function compute(source: MarketSource, query: MarketQuery): Promise<MarketPageResult> {
  try {
    return source.page(query);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Requests waiting for one computation that has not been sent yet. */
interface Batch {
  readonly query: MarketQuery;
  readonly result: Promise<MarketPageResult>;
  resolve(page: MarketPageResult): void;
  reject(err: unknown): void;
}

/** One key's computations: at most one under way, and at most one batch waiting to be sent. */
interface Lane {
  running: boolean;
  waiting: Batch | null;
}

function newBatch(query: MarketQuery): Batch {
  let resolve!: Batch['resolve'];
  let reject!: Batch['reject'];
  const result = new Promise<MarketPageResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { query, result, resolve, reject };
}

/**
 * Fresh pages, with identical requests sharing computations that have not been sent yet.
 *
 * Why not share a computation already under way: Redis runs the script at some moment after
 * it was sent. A state can be written after that moment and then read through `market(id)`
 * before the script's answer comes back; a request sent after that read and answered with
 * that computation would miss a state its client had already seen. A computation sent after
 * the request arrived runs after every write that client could have seen, whatever happens
 * to its answer on the way back. So a request only ever joins a batch that is still waiting.
 *
 * When a batch is sent: on `setImmediate` after its first request, so the requests read in
 * the same turn of the event loop join it; and never while another computation of the same
 * key is under way: the batch waits for that one to settle (its requests arrived after it
 * was sent, so they cannot use it) and is sent at once then. Under load each key thus has one
 * computation in Redis and one batch collecting every identical request meanwhile; a request
 * waits for at most the end of the one under way plus its own.
 */
function freshPages(source: MarketSource): CachedMarketSource {
  const stats = newStats();
  const lanes = new Map<string, Lane>();

  function send(key: string, lane: Lane): void {
    const batch = lane.waiting!;
    lane.waiting = null; // from here on the batch is under way: nobody may join it
    lane.running = true;
    stats.computations++;
    compute(source, batch.query)
      .then(batch.resolve, batch.reject)
      .finally(() => {
        lane.running = false;
        if (lane.waiting !== null) send(key, lane);
        else lanes.delete(key);
      });
  }

  return {
    stats,
    page(query) {
      stats.misses++;
      const key = cacheKey(query);
      let lane = lanes.get(key);
      if (lane === undefined) {
        lane = { running: false, waiting: null };
        lanes.set(key, lane);
      }
      if (lane.waiting !== null) return lane.waiting.result;
      lane.waiting = newBatch(query);
      // While one is under way, its settling sends the waiting batch.
      if (!lane.running) setImmediate(send, key, lane);
      return lane.waiting.result;
    },
  };
}

/** A computed page and when the computation that produced it started (its state's age). */
interface Stored {
  readonly page: MarketPageResult;
  readonly computedAt: number;
}

/**
 * Bounded staleness on lru-cache: `max` bounds memory (least recently used out), `ttl` is
 * `freshMs`, and `fetch` gives single flight and stale-while-revalidate. Whether a stale page
 * may be served is decided per request from its age (`allowStale`), so none older than
 * `staleMs` is ever served. A failed refresh keeps the last page (`noDeleteOnFetchRejection`)
 * for the requests still within its staleness bound, but a request waiting for a fresh page
 * gets the error, never that page (no `allowStaleOnFetchRejection`). A computation whose
 * entry is evicted while under way still answers its requests (`ignoreFetchAbort`).
 */
function stalePages(source: MarketSource, options: PageCacheOptions): CachedMarketSource {
  const stats = newStats();
  const now = options.now ?? (() => performance.now());
  const staleMs = Math.max(options.freshMs, options.staleMs);
  const cache = new LRUCache<string, Stored, MarketQuery>({
    max: options.maxEntries,
    ttl: options.freshMs,
    ttlResolution: 0, // the staleness bound reads the clock anyway; no cached time
    perf: { now },
    noDeleteOnFetchRejection: true,
    ignoreFetchAbort: true,
    fetchMethod: async (_key, _stale, { context: query, options: set }) => {
      stats.computations++;
      const started = now();
      const page = await compute(source, query);
      set.ttl = Math.max(1, options.freshMs - (now() - started)); // fresh for freshMs from when the state was read
      return { page, computedAt: started };
    },
  });

  return {
    stats,
    async page(query) {
      const key = cacheKey(query);
      const last = cache.peek(key, { allowStale: true });
      const allowStale = last !== undefined && now() - last.computedAt <= staleMs;
      const status: LRUCache.Status<string, Stored, MarketQuery> = {};
      const pending = cache.fetch(key, { context: query, allowStale, status });
      if (status.fetch === 'hit') stats.hits++;
      else if (status.returnedStale) stats.staleHits++;
      else stats.misses++;
      const stored = await pending;
      if (stored === undefined) throw new Error('page cache: the computation gave no page'); // not expected: nothing aborts fetches
      return stored.page;
    },
  };
}
