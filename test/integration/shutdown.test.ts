/**
 * SIGTERM on the real process: it closes WebSocket subscriptions with 1001 (going away),
 * flushes the market writes it still holds, and exits 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { decodeMarket } from '../../src/redis/market-codec';
import { openTestRedis, type TestRedis } from '../support/redis';

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
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: t.url,
        REDIS_PREFIX: t.prefix,
        FEEDS: 'binance',
        BINANCE_WS_URL: sim.wsUrl,
        BINANCE_REST_URL: sim.restUrl,
        BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT',
        // Writes wait a long batch window, so only the flush at shutdown can write the last update.
        INGEST_BATCH_MS: '10000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let log = '';
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await expect.poll(() => /"url":"(http:[^"]+)"/.exec(log)?.[1], { timeout: 15_000 }).toBeTruthy();
    const url = /"url":"(http:[^"]+)"/.exec(log)![1]!;
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
    await expect.poll(() => /subscriber connection|tickql listening/.test(log)).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // let the subscription reach the server

    sim.push('BTCUSDT', { c: '4321.5' }); // held in the batch writer
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(await closed).toBe(1001);
    const stored = await t.redis.hget(t.keys.market, 'binance:BTC/USDT');
    expect(decodeMarket(stored!).price).toBe(4321.5);
  }, 40_000);
});
