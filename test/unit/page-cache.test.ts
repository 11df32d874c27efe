import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cacheKey, cachedMarketSource } from '../../src/redis/page-cache';
import type { MarketPageResult, MarketQuery, MarketSource } from '../../src/redis/query-markets';

const query = (over: Partial<MarketQuery> = {}): MarketQuery => ({ sort: { field: 'price', direction: 'desc' }, filter: {}, offset: 0, limit: 50, ...over });

/** A source whose answers the test releases by hand, in call order, counting calls. */
function manualSource() {
  const pending: Array<{ query: MarketQuery; resolve: (p: MarketPageResult) => void; reject: (e: Error) => void }> = [];
  const source: MarketSource = { page: (q) => new Promise((resolve, reject) => pending.push({ query: q, resolve, reject })) };
  return { source, pending, answer: (total: number) => pending.shift()!.resolve({ total, items: [] }), fail: () => pending.shift()!.reject(new Error('redis away')) };
}

/** Where the tests' clocks start (lru-cache takes an entry stored at time 0 as never expiring). */
const T0 = 1_000_000;

/** Lets every callback queued so far run (the fresh path sends on setImmediate). */
const settle = async () => {
  await turn();
  await turn();
};

describe('page cache, fresh (the default)', () => {
  const fresh = (source: MarketSource) => cachedMarketSource(source, { freshMs: 0, staleMs: 0, maxEntries: 10 });

  it('shares one computation among identical requests that arrive before it is sent', async () => {
    const s = manualSource();
    const cache = fresh(s.source);
    const asked = [cache.page(query()), cache.page(query({ filter: { exchanges: [] } })), cache.page(query())];
    expect(s.pending).toHaveLength(0); // not sent in the turn the requests arrive in
    await settle();
    expect(s.pending.map((p) => p.query.filter)).toEqual([{}, { exchanges: [] }]);
    s.answer(7);
    s.answer(0);
    expect(await Promise.all(asked)).toEqual([{ total: 7, items: [] }, { total: 0, items: [] }, { total: 7, items: [] }]);
    expect(cache.stats).toEqual({ hits: 0, staleHits: 0, misses: 3, computations: 2 });
  });

  it('never answers a request with a computation sent before it arrived: it waits for that one, then shares the next', async () => {
    const s = manualSource();
    const cache = fresh(s.source);
    const first = cache.page(query());
    await settle();
    expect(s.pending).toHaveLength(1); // under way
    const later = [cache.page(query()), cache.page(query())];
    await settle();
    expect(s.pending).toHaveLength(1); // queued behind the one under way, not sent beside it
    s.answer(1);
    expect(await first).toEqual({ total: 1, items: [] });
    await settle();
    expect(s.pending).toHaveLength(1); // the waiting batch, sent once the first settled
    s.answer(2);
    expect(await Promise.all(later)).toEqual([{ total: 2, items: [] }, { total: 2, items: [] }]);
    expect(cache.stats).toMatchObject({ misses: 3, computations: 2 });
  });

  it('keeps sending after a failed computation, which fails only its own requests', async () => {
    const s = manualSource();
    const cache = fresh(s.source);
    const failed = cache.page(query());
    await settle();
    const next = cache.page(query());
    s.fail();
    await expect(failed).rejects.toThrow('redis away');
    await settle();
    s.answer(4);
    expect(await next).toEqual({ total: 4, items: [] });
  });

  it('turns a source that throws into a failed request', async () => {
    const cache = fresh({
      page: () => {
        throw new Error('bad query');
      },
    });
    await expect(cache.page(query())).rejects.toThrow('bad query');
    expect(cache.stats.computations).toBe(1);
  });
});

describe('page cache, bounded staleness (QUERY_CACHE_MS > 0)', () => {
  it('shares one computation among identical queries asked at the same time', async () => {
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => T0 });
    const a = cache.page(query());
    const b = cache.page(query());
    expect(s.pending).toHaveLength(1);
    s.answer(7);
    expect(await a).toEqual({ total: 7, items: [] });
    expect(await b).toEqual({ total: 7, items: [] });
    expect(cache.stats).toMatchObject({ computations: 1, misses: 2 });
  });

  it('serves a fresh page from memory, then a stale one while one refresh runs, then waits when too old', async () => {
    let t = 0;
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => T0 + t });
    const first = cache.page(query());
    s.answer(1);
    await first;
    t = 40;
    expect(await cache.page(query())).toEqual({ total: 1, items: [] }); // fresh
    expect(s.pending).toHaveLength(0);
    t = 60;
    expect(await cache.page(query())).toEqual({ total: 1, items: [] }); // stale, refresh starts
    expect(await cache.page(query())).toEqual({ total: 1, items: [] }); // stale, no second refresh
    expect(s.pending).toHaveLength(1);
    s.answer(2);
    await settle();
    expect(await cache.page(query())).toEqual({ total: 2, items: [] });
    t = 60 + 1001;
    const late = cache.page(query()); // older than staleMs: waits
    expect(s.pending).toHaveLength(1);
    s.answer(3);
    expect(await late).toEqual({ total: 3, items: [] });
    expect(cache.stats).toMatchObject({ hits: 2, staleHits: 2, misses: 2, computations: 3 });
  });

  it('counts a page fresh from when its computation started', async () => {
    let t = 0;
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 50, maxEntries: 10, now: () => T0 + t });
    const first = cache.page(query());
    t = 40; // the computation took 40 ms
    s.answer(1);
    await first;
    t = 51;
    void cache.page(query());
    expect(s.pending).toHaveLength(1); // 51 ms after its state was read: no longer served
  });

  it('never caches an error', async () => {
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => T0 });
    const failed = cache.page(query());
    s.fail();
    await expect(failed).rejects.toThrow('redis away');
    const retried = cache.page(query());
    expect(s.pending).toHaveLength(1);
    s.answer(4);
    expect(await retried).toEqual({ total: 4, items: [] });
  });

  it('keeps the last page through a failed refresh, within its staleness bound only', async () => {
    let t = 0;
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => T0 + t });
    const first = cache.page(query());
    s.answer(1);
    await first;
    t = 60;
    expect(await cache.page(query())).toEqual({ total: 1, items: [] }); // stale; its refresh fails
    s.fail();
    await settle();
    t = 70;
    expect(await cache.page(query())).toEqual({ total: 1, items: [] }); // still within the bound; another refresh
    expect(s.pending).toHaveLength(1);
    t = 1100;
    const waiting = cache.page(query()); // past the bound: waits for the refresh, which fails
    s.fail();
    await expect(waiting).rejects.toThrow('redis away');
  });

  it('keeps at most maxEntries queries, dropping the least recently used', async () => {
    const answers: MarketSource = { page: async (q) => ({ total: q.offset, items: [] }) };
    const cache = cachedMarketSource(answers, { freshMs: 50, staleMs: 1000, maxEntries: 2, now: () => T0 });
    await cache.page(query({ offset: 1 }));
    await cache.page(query({ offset: 2 }));
    await cache.page(query({ offset: 1 })); // 1 is now the most recent
    await cache.page(query({ offset: 3 })); // evicts 2
    const before = cache.stats.computations;
    await cache.page(query({ offset: 1 }));
    expect(cache.stats.computations).toBe(before);
    await cache.page(query({ offset: 2 }));
    expect(cache.stats.computations).toBe(before + 1);
  });

  it('answers the requests of a computation whose entry was evicted while it ran', async () => {
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 1, now: () => T0 });
    const a = cache.page(query({ offset: 1 }));
    const b = cache.page(query({ offset: 2 })); // evicts a's entry
    s.answer(1);
    s.answer(2);
    expect(await a).toEqual({ total: 1, items: [] });
    expect(await b).toEqual({ total: 2, items: [] });
  });
});

describe('cacheKey', () => {
  it('treats filter lists as sets and ignores their case, as the filters do', () => {
    expect(cacheKey(query({ filter: { exchanges: ['OKX', 'binance'] } }))).toBe(cacheKey(query({ filter: { exchanges: ['binance', 'okx', 'okx'] } })));
    expect(cacheKey(query({ filter: { exchanges: [] } }))).not.toBe(cacheKey(query({ filter: {} })));
    expect(cacheKey(query({ filter: { search: 'btc' } }))).toBe(cacheKey(query({ filter: { search: 'BTC' } })));
  });

  it('keys a query sorted or bounded in USD by its rates version too, and no other query', () => {
    const at = (version: number) => ({ version, quotes: [], rateOf: () => undefined });
    const usdSort = { sort: { field: 'quoteVolume24hUsd', direction: 'desc' } } as const;
    expect(cacheKey(query({ ...usdSort, rates: at(1) }))).not.toBe(cacheKey(query({ ...usdSort, rates: at(2) })));
    const usdBound = { filter: { ranges: [{ field: 'priceUsd', min: 1, max: null }] } } as const;
    expect(cacheKey(query({ ...usdBound, rates: at(1) }))).not.toBe(cacheKey(query({ ...usdBound, rates: at(2) })));
    expect(cacheKey(query({ rates: at(1) }))).toBe(cacheKey(query({ rates: at(2) })));
  });

  it('treats ids as a set, matched exactly', () => {
    expect(cacheKey(query({ filter: { ids: ['okx:SOL/USDT', 'binance:BTC/USDT'] } }))).toBe(cacheKey(query({ filter: { ids: ['binance:BTC/USDT', 'okx:SOL/USDT', 'okx:SOL/USDT'] } })));
    expect(cacheKey(query({ filter: { ids: ['binance:BTC/USDT'] } }))).not.toBe(cacheKey(query({ filter: { ids: ['binance:btc/usdt'] } })));
    expect(cacheKey(query({ filter: { ids: [] } }))).not.toBe(cacheKey(query({ filter: {} })));
  });
});
