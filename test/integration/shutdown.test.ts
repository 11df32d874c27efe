/**
 * SIGTERM on the real process tree (a supervisor, its ingest process and serving workers): it closes WebSocket subscriptions with 1001 (going away),
 * flushes the market writes it still holds, and exits 0.
 */
import { once } from 'node:events';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { decodeMarket } from '../../src/redis/market-codec';
import { openTestRedis, type TestRedis } from '../support/redis';
import { startListeningTickql, startTickql } from '../support/tickql-process';

describe('SIGTERM', () => {
  let t: TestRedis;
  let sim: BinanceSim;

  beforeAll(async () => {
    t = await openTestRedis();
    sim = await BinanceSim.start({ markets: 20, tickMs: 0, pingIntervalMs: 0 });
  });
  afterAll(async () => {
    await sim.close();
    await t.close();
  });

  it('closes subscriptions with 1001, flushes pending writes and exits 0', async () => {
    const tickql = await startListeningTickql({
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      FEEDS: 'binance',
      BINANCE_WS_URL: sim.wsUrl,
      BINANCE_REST_URL: sim.restUrl,
      BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT',
      // Writes wait a long batch window, so only the flush at shutdown can write the last update.
      INGEST_BATCH_MS: '10000',
    });
    const url = tickql.url();
    await expect.poll(() => sim.connections, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => sim.push('BTCUSDT', { c: '1.25' }).delivered, { timeout: 10_000 }).toBe(1);

    const closed = new Promise<number>((resolve) => {
      const client = createClient({
        url: url.replace('http', 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.subscribe({ query: 'subscription { priceUpdated { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    await new Promise((r) => setTimeout(r, 300)); // let the subscription reach the server

    sim.push('BTCUSDT', { c: '4321.5' }); // held in the batch writer
    await new Promise((r) => setTimeout(r, 200));
    tickql.child.kill('SIGTERM'); // the supervisor alone, as a process manager does
    const [code] = (await once(tickql.child, 'exit')) as [number];
    expect(code).toBe(0);
    await tickql.stop(); // nothing left behind if it failed
    expect(await closed).toBe(1001);
    const stored = await t.redis.hget(t.keys.market, 'binance:BTC/USDT');
    expect(decodeMarket(stored!).price).toBe(4321.5);
  }, 40_000);

  it('stops gracefully on a SIGTERM that comes while the processes are still starting', async () => {
    const tickql = startTickql({ env: { REDIS_URL: t.url, REDIS_PREFIX: t.prefix, FEEDS: 'binance', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl, BINANCE_SYMBOLS: 'BTCUSDT' } });
    // As soon as the supervisor has forked its workers, before any of them is serving.
    await expect.poll(async () => (await tickql.tree()).length, { timeout: 30_000, interval: 5 }).toBeGreaterThanOrEqual(3);
    expect(tickql.logs.some((l) => l.msg.startsWith('tickql listening'))).toBe(false);
    const exit = await tickql.stop(15_000);
    expect(exit).toMatchObject({ code: 0, signal: null, killed: [] });
    // Each worker stopped by itself: the supervisor did not have to kill any.
    expect(tickql.logs.filter((l) => /did not stop in time/.test(l.msg))).toEqual([]);
  }, 60_000);
});
