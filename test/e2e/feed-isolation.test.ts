/**
 * One failing feed never disturbs the others: the app runs a healthy simulated feed beside a
 * Binance feed whose "exchange" floods garbage, sends error frames and drops every connection.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { queryData } from '../support/post-query';

describe('feed isolation', () => {
  let t: TestRedis;
  let hostile: WebSocketServer;
  let app: App;

  beforeAll(async () => {
    t = await openTestRedis();
    hostile = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(hostile, 'listening');
    hostile.on('connection', (socket) => {
      for (let i = 0; i < 200; i++) socket.send(i % 2 ? '{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","s":"BTCUSDT","E":1,"c":"NaN"}}' : 'garbage \u0000');
      socket.send('{"code":2,"msg":"Invalid request","id":1}');
      setTimeout(() => socket.terminate(), 20);
    });
    const { port } = hostile.address() as { port: number };
    app = await buildApp(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: t.url,
        REDIS_PREFIX: t.prefix,
        LOG_LEVEL: 'silent',
        FEEDS: 'binance,sim',
        BINANCE_WS_URL: `ws://127.0.0.1:${port}/stream`,
        BINANCE_REST_URL: `http://127.0.0.1:${port}`,
        SIM_MARKETS: '20',
        SIM_TICK_MS: '50',
      }),
      silentLogger(),
      { url: t.url, privateServer: null },
    );
    await app.start();
  });

  afterAll(async () => {
    await app?.stop();
    hostile?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  it('keeps the healthy feed LIVE and its markets moving while the other one fails', async () => {
    // Each feed joins `app.feeds` when its lease is taken, which can come after start(), in
    // either order.
    await expect.poll(() => app.feeds.length, { timeout: 5000 }).toBe(2);
    const binance = app.feeds.find((f) => f.health().exchange === 'binance');
    const sim = app.feeds.find((f) => f.health().exchange === 'sim');
    // 200 bad frames per connection: more than 400 means at least three connections failed.
    await expect.poll(() => binance!.health().invalidFrames, { timeout: 10_000 }).toBeGreaterThan(400);
    expect(binance!.health().status).toBe('CONNECTING'); // never got a subscription through
    expect(binance!.health().lastError).toBeTruthy();

    expect(sim!.health().status).toBe('LIVE');
    expect(sim!.health().reconnects).toBe(0);
    const updatedAt = async () => (await queryData(app, '{ markets(sort: { field: UPDATED_AT }, page: { limit: 1 }) { total items { exchange updatedAt } } }')).markets;
    const first = await updatedAt();
    expect(first.total).toBe(20);
    expect(first.items[0].exchange).toBe('sim');
    await expect.poll(async () => (await updatedAt()).items[0].updatedAt, { timeout: 5000 }).toBeGreaterThan(first.items[0].updatedAt);

    const feeds = await queryData(app, '{ feeds { exchange status invalidFrames } }');
    expect(feeds.feeds.find((f: { exchange: string }) => f.exchange === 'sim')).toEqual({ exchange: 'sim', status: 'LIVE', invalidFrames: 0 });
  });
});
