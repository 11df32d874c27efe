/** /metrics on a running app with a simulated feed: per-feed, ingest, query and subscription figures. */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';

describe('GET /metrics', () => {
  let t: TestRedis;
  let app: App;
  const metrics = async () => (await fetch(app.url().replace('/graphql', '/metrics'))).text();
  const value = (text: string, line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  beforeAll(async () => {
    t = await openTestRedis();
    app = await buildApp(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix, LOG_LEVEL: 'silent', FEEDS: 'sim', SIM_MARKETS: '10', SIM_TICK_MS: '20' }),
      silentLogger(),
      { url: t.url, privateServer: null },
    );
    await app.start();
  });
  afterAll(async () => {
    await app?.stop();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  it('reports feeds, ingest, query latency, Redis round trips and subscriptions', async () => {
    await expect.poll(async () => value(await metrics(), 'tickql_feed_up{exchange="sim"}'), { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => value(await metrics(), 'tickql_ingest_written_total'), { timeout: 10_000 }).toBeGreaterThan(0);
    await fetch(app.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ markets { total } }' }) });

    const client = createClient({ url: app.url().replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    let received = 0;
    const stop = client.subscribe({ query: 'subscription { priceUpdated { id } }' }, { next: () => received++, error: () => {}, complete: () => {} });
    await expect.poll(() => received).toBeGreaterThan(0);

    const text = await metrics();
    expect(value(text, 'tickql_feed_messages_total{exchange="sim"}')).toBeGreaterThan(0);
    expect(value(text, 'tickql_feed_invalid_frames_total{exchange="sim"}')).toBe(0);
    expect(value(text, 'tickql_feed_messages_per_second{exchange="sim"}')).toBeGreaterThan(0);
    expect(value(text, 'tickql_feed_connections{exchange="sim"}')).toBe(1);
    expect(value(text, 'tickql_ingest_updates_total')).toBeGreaterThanOrEqual(value(text, 'tickql_ingest_written_total'));
    expect(value(text, 'tickql_graphql_duration_seconds_count{operation="query",field="markets"}')).toBe(1);
    expect(value(text, 'tickql_redis_roundtrip_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'tickql_websocket_clients')).toBe(1);
    expect(value(text, 'tickql_subscriptions')).toBe(1);
    expect(value(text, 'tickql_sse_slow_clients_closed_total')).toBe(0);
    for (const counter of ['slow_clients_closed', 'outbound_waits', 'rate_limited', 'subscriptions_refused']) {
      expect(value(text, `tickql_websocket_${counter}_total`)).toBe(0);
    }
    expect(text).toContain('tickql_process_resident_memory_bytes');
    expect(text).toContain('tickql_nodejs_eventloop_lag_p99_seconds');
    stop();
    await client.dispose();
  });

  it('counts graphql-ws connections closed for flooding', async () => {
    const flood = new WebSocket(app.url().replace('http', 'ws'), 'graphql-transport-ws');
    await new Promise((resolve) => flood.once('open', resolve));
    const closed = new Promise<number>((resolve) => flood.once('close', resolve));
    for (let i = 0; i < 2000; i++) flood.send(JSON.stringify({ type: 'ping' }));
    expect(await closed).toBe(4429);
    expect(value(await metrics(), 'tickql_websocket_rate_limited_total')).toBe(1);
  });
});
