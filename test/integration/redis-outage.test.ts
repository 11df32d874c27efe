/**
 * Redis goes away under a running service and comes back (empty, as an in-memory Redis
 * does): the process stays up, queries fail fast with SERVICE_UNAVAILABLE, /readyz says not
 * ready, and afterwards queries, feed health and subscriptions work again.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';

async function graphql(app: App, query: string): Promise<{ data?: any; errors?: Array<{ message: string; extensions: { code?: string } }> }> {
  const response = await fetch(app.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions: { code?: string } }> };
}

const readyz = async (app: App) => (await fetch(app.url().replace('/graphql', '/readyz'))).status;

describe('Redis outage', () => {
  let redis: LocalRedis;
  let app: App;

  beforeAll(async () => {
    redis = await startLocalRedis(); // this test's own server: it is stopped and restarted
    app = await buildApp(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: redis.url, LOG_LEVEL: 'silent', FEEDS: 'sim', SIM_MARKETS: '20', SIM_TICK_MS: '50', QUERY_CACHE_MS: '0' }),
      silentLogger(),
      { url: redis.url, privateServer: null },
    );
    await app.start();
  });

  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('answers SERVICE_UNAVAILABLE and not ready while Redis is away, and recovers when it returns', async () => {
    await expect.poll(async () => (await graphql(app, '{ markets { total } }')).data?.markets.total, { timeout: 10_000 }).toBe(20);
    expect(await readyz(app)).toBe(200);

    // A client subscribed before the outage.
    const client = createClient({ url: app.url().replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    const received: number[] = [];
    const unsubscribe = client.subscribe(
      { query: 'subscription { priceUpdated(exchanges: ["sim"]) { updatedAt } }' },
      { next: (r) => received.push((r.data as { priceUpdated: { updatedAt: number } }).priceUpdated.updatedAt), error: () => {}, complete: () => {} },
    );
    await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await fetch(app.url().replace('/graphql', '/healthz'))).status).toBe(200);

    await redis.stop();
    await expect.poll(() => readyz(app)).toBe(503);
    const down = await graphql(app, '{ markets { total } market(id: "sim:BTC/USDT") { price } feeds { exchange } }');
    expect(down.errors?.length).toBeGreaterThan(0);
    for (const error of down.errors!) {
      expect(error.extensions.code).toBe('SERVICE_UNAVAILABLE');
      expect(error.message).toMatch(/unavailable/);
    }

    redis = await startLocalRedis({ port: redis.port }); // back, and empty
    await expect.poll(() => readyz(app), { timeout: 10_000 }).toBe(200);
    // The simulated exchange keeps moving every market, so ingest refills the state, and the
    // Lua scripts are loaded again on first use.
    await expect.poll(async () => (await graphql(app, '{ markets { total } }')).data?.markets.total, { timeout: 10_000 }).toBe(20);
    await expect.poll(async () => (await graphql(app, '{ feeds { exchange status } }')).data?.feeds, { timeout: 10_000 }).toEqual([{ exchange: 'sim', status: 'LIVE' }]);

    // The same subscription carries on: its Redis subscription was restored on reconnect.
    const resumedAfter = Date.now();
    await expect.poll(() => received.filter((t) => t > resumedAfter).length, { timeout: 10_000 }).toBeGreaterThan(0);
    unsubscribe();
    await client.dispose();
  }, 60_000);
});
