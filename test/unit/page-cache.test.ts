import { describe, expect, it } from 'vitest';
import { cacheKey, cachedMarketSource } from '../../src/redis/page-cache';
import type { MarketPageResult, MarketQuery, MarketSource } from '../../src/redis/query-markets';

const query = (over: Partial<MarketQuery> = {}): MarketQuery => ({ sort: { field: 'price', direction: 'desc' }, filter: {}, offset: 0, limit: 50, ...over });

/** A source whose answers the test releases by hand, counting calls. */
function manualSource() {
  const pending: Array<{ resolve: (p: MarketPageResult) => void; reject: (e: Error) => void }> = [];
  const source: MarketSource = { page: () => new Promise((resolve, reject) => pending.push({ resolve, reject })) };
  return { source, pending, answer: (total: number) => pending.shift()!.resolve({ total, items: [] }), fail: () => pending.shift()!.reject(new Error('redis away')) };
}

describe('page cache', () => {
  it('shares one computation among identical queries asked at the same time', async () => {
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => 0 });
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
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => t });
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
    await Promise.resolve();
    await Promise.resolve();
    expect(await cache.page(query())).toEqual({ total: 2, items: [] });
    t = 60 + 1001;
    const late = cache.page(query()); // older than staleMs: waits
    expect(s.pending).toHaveLength(1);
    s.answer(3);
    expect(await late).toEqual({ total: 3, items: [] });
    expect(cache.stats).toMatchObject({ hits: 2, staleHits: 2, computations: 3 });
  });

  it('never caches an error', async () => {
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 50, staleMs: 1000, maxEntries: 10, now: () => 0 });
    const failed = cache.page(query());
    s.fail();
    await expect(failed).rejects.toThrow('redis away');
    const retried = cache.page(query());
    expect(s.pending).toHaveLength(1);
    s.answer(4);
    expect(await retried).toEqual({ total: 4, items: [] });
  });

  it('keeps at most maxEntries queries, dropping the least recently used', async () => {
    const answers: MarketSource = { page: async (q) => ({ total: q.offset, items: [] }) };
    const cache = cachedMarketSource(answers, { freshMs: 50, staleMs: 1000, maxEntries: 2, now: () => 0 });
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

  it('is off with freshMs 0', async () => {
    const s = manualSource();
    const cache = cachedMarketSource(s.source, { freshMs: 0, staleMs: 1000, maxEntries: 10 });
    void cache.page(query());
    void cache.page(query());
    expect(s.pending).toHaveLength(2);
  });

  it('treats filter lists as sets and ignores their case, as the filters do', () => {
    expect(cacheKey(query({ filter: { exchanges: ['OKX', 'binance'] } }))).toBe(cacheKey(query({ filter: { exchanges: ['binance', 'okx', 'okx'] } })));
    expect(cacheKey(query({ filter: { exchanges: [] } }))).not.toBe(cacheKey(query({ filter: {} })));
    expect(cacheKey(query({ filter: { search: 'btc' } }))).toBe(cacheKey(query({ filter: { search: 'BTC' } })));
  });
});
