import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { BatchWriter } from '../../src/ingest/batch-writer';
import type { Market } from '../../src/market';
import { silentLogger } from '../../src/logger';
import { makeMarket } from '../support/market-factory';
import { sleep } from '../support/wait-for';

function recorder() {
  const batches: Market[][] = [];
  const store = { available: true };
  const write = async (markets: Market[]) => {
    if (!store.available) throw new Error('redis is away');
    batches.push(markets);
    return { applied: markets.length, skipped: 0 };
  };
  return { batches, write, store };
}

describe('BatchWriter', () => {
  it('coalesces several updates of one market inside a window into one write of the latest', async () => {
    const r = recorder();
    const w = new BatchWriter(r.write, { batchMs: 10_000, logger: silentLogger() });
    for (let i = 1; i <= 5; i++) w.push(makeMarket({ base: 'BTC', price: i }));
    w.push(makeMarket({ base: 'ETH', price: 7 }));
    await w.flush();
    expect(r.batches).toHaveLength(1);
    expect(r.batches[0]!.map((m) => [m.id, m.price])).toEqual([
      ['binance:BTC/USDT', 5],
      ['binance:ETH/USDT', 7],
    ]);
    expect(w.stats).toMatchObject({ received: 6, coalesced: 4, written: 2, batches: 1 });
  });

  it('writes on its own after the batch window', async () => {
    const r = recorder();
    const w = new BatchWriter(r.write, { batchMs: 5, logger: silentLogger() });
    w.push(makeMarket());
    await expect.poll(() => r.batches.length).toBe(1);
    await w.stop();
  });

  it('keeps the latest state through failed writes and writes it when the store is back', async () => {
    const r = recorder();
    r.store.available = false;
    const w = new BatchWriter(r.write, { batchMs: 1, retryMs: 5, logger: silentLogger() });
    w.push(makeMarket({ base: 'BTC', price: 1 }));
    w.push(makeMarket({ base: 'ETH', price: 10 }));
    await expect.poll(() => w.stats.failedBatches).toBeGreaterThanOrEqual(1);
    w.push(makeMarket({ base: 'BTC', price: 2 })); // a newer state arrives while the store is away
    await expect.poll(() => w.stats.failedBatches).toBeGreaterThanOrEqual(2);
    expect(w.pendingCount).toBeLessThanOrEqual(2); // bounded: one state per market, never a backlog
    r.store.available = true;
    await expect.poll(() => w.pendingCount).toBe(0);
    await w.stop();
    expect(r.batches.flat().map((m) => [m.base, m.price])).toEqual([
      ['BTC', 2],
      ['ETH', 10],
    ]);
  });

  it('retries a failing store every retryMs however many updates arrive, logging the failure once and the recovery once', async () => {
    const r = recorder();
    r.store.available = false;
    const lines: Array<{ level: number; msg: string; err?: unknown }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const w = new BatchWriter(r.write, { batchMs: 1, retryMs: 100, logger });
    const pushing = setInterval(() => w.push(makeMarket({ base: 'BTC', price: Math.random() })), 2);
    try {
      await sleep(450);
      // One write at once, then one per retryMs: the updates, every 2 ms, do not hasten them.
      expect(w.stats.failedBatches).toBeGreaterThanOrEqual(2);
      expect(w.stats.failedBatches).toBeLessThanOrEqual(6);
      r.store.available = true;
      await expect.poll(() => r.batches.length).toBeGreaterThan(0);
    } finally {
      clearInterval(pushing);
      await w.stop();
    }
    expect(lines.map((l) => [l.level, l.msg, l.err])).toEqual([
      [40, 'market writes failing (redis is away): keeping the latest state of each market to retry; further failures are counted, not logged', undefined],
      [30, `market writes resumed after ${w.stats.failedBatches} failures`, undefined],
    ]);
  });

  it('queues restored states without replacing a pending newer one, and writes them', async () => {
    const r = recorder();
    const w = new BatchWriter(r.write, { batchMs: 10_000, logger: silentLogger() });
    w.push(makeMarket({ base: 'BTC', price: 2 }));
    const queued = w.restore([makeMarket({ base: 'BTC', price: 1 }), makeMarket({ base: 'ETH', price: 10 })]);
    expect(queued).toBe(1);
    await expect.poll(() => r.batches.length).toBe(1); // a restore writes at once, not after the window
    expect(r.batches[0]!.map((m) => [m.base, m.price])).toEqual([
      ['BTC', 2],
      ['ETH', 10],
    ]);
    expect(w.stats).toMatchObject({ received: 1, restored: 1, written: 2 });
  });

  it('writes a backlog larger than maxWrite in several writes one after another, all of it on flush', async () => {
    const r = recorder();
    const w = new BatchWriter(r.write, { batchMs: 10_000, maxWrite: 4, logger: silentLogger() });
    w.restore(Array.from({ length: 10 }, (_, i) => makeMarket({ base: `C${i}`, price: i })));
    await w.stop();
    expect(r.batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(w.pendingCount).toBe(0);
  });
});

describe('BatchWriter with a 0 ms window', () => {
  it('writes a burst of updates as one batch once the burst is handled, without waiting for a timer', async () => {
    // Timers never fire here: the write must not depend on one.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const r = recorder();
      const w = new BatchWriter(r.write, { batchMs: 0, logger: silentLogger() });
      for (let i = 0; i < 100; i++) w.push(makeMarket({ base: `C${i % 40}`, price: i }));
      await new Promise((resolve) => setImmediate(resolve));
      expect(r.batches).toHaveLength(1);
      expect(r.batches[0]).toHaveLength(40);
      expect(w.stats).toMatchObject({ received: 100, coalesced: 60, written: 40, batches: 1 });
      await w.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('BatchWriter fenced by feed leases', () => {
  it('drops markets of feeds it no longer holds, pending or back from a write, and keeps fenced ones of feeds it holds', async () => {
    const held = new Set(['binance', 'okx']);
    /** Redis holds another lease for these feeds. */
    const takenOver = new Set<string>();
    const written: Market[] = [];
    const write = async (markets: Market[]) => {
      const fenced = markets.filter((m) => takenOver.has(m.exchange));
      written.push(...markets.filter((m) => !takenOver.has(m.exchange)));
      return { applied: markets.length - fenced.length, skipped: 0, fenced };
    };
    const w = new BatchWriter(write, { batchMs: 10_000, retryMs: 10_000, logger: silentLogger(), keep: (m) => held.has(m.exchange) });
    const btc = makeMarket({ base: 'BTC' });
    const okx = makeMarket({ exchange: 'okx', base: 'BTC' });
    w.push(btc);
    w.push(okx);
    takenOver.add('okx'); // the write finds okx's lease renewed under a new token, or taken
    await w.flush();
    expect(written).toEqual([btc]);
    expect(w.stats).toMatchObject({ written: 1, fenced: 1, dropped: 0 });
    expect(w.pendingCount).toBe(1); // okx waits: the renewal may bring the new token
    takenOver.delete('okx');
    await w.flush();
    expect(written).toEqual([btc, okx]);

    // okx is lost: what is pending of it is dropped, and so is what a write reports fenced.
    w.push({ ...okx, price: 2 });
    takenOver.add('okx');
    await w.flush();
    expect(w.pendingCount).toBe(1);
    held.delete('okx');
    await w.flush();
    expect(w.pendingCount).toBe(0);
    expect(w.stats.dropped).toBe(1);
    w.push({ ...okx, price: 3 });
    w.push({ ...btc, price: 3 });
    await w.flush();
    expect(written.map((m) => [m.exchange, m.price])).toEqual([
      ['binance', btc.price],
      ['okx', okx.price],
      ['binance', 3],
    ]);
    expect(w.stats.dropped).toBe(2);
  });

  it('discards the pending markets a lost feed had', async () => {
    const written: Market[] = [];
    const w = new BatchWriter(async (markets) => (written.push(...markets), { applied: markets.length, skipped: 0 }), { batchMs: 10_000, logger: silentLogger() });
    w.push(makeMarket({ base: 'BTC' }));
    w.push(makeMarket({ exchange: 'okx', base: 'BTC' }));
    expect(w.discard((m) => m.exchange === 'okx')).toBe(1);
    await w.stop();
    expect(written.map((m) => m.exchange)).toEqual(['binance']);
    expect(w.stats.dropped).toBe(1);
  });
});
