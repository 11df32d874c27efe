/**
 * Redis crashes (SIGKILL) under a running service and comes back EMPTY on the same port, as an
 * in-memory Redis does after a restart. The exchange keeps sending during the outage, and after
 * it moves only some markets: the quiet ones must come back too, because ingest notices the
 * loss and writes the latest state of every market it knows again.
 */
import { createHash } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import { createKeys } from '../../src/redis/keys';
import { decodeMarket } from '../../src/redis/market-codec';
import { loadScripts } from '../../src/redis/scripts';
import { uniquePrefix } from '../support/redis';

const MARKETS = 30;

async function graphql(app: App, query: string): Promise<{ data?: any; errors?: Array<{ message: string; extensions: { code?: string } }> }> {
  const response = await fetch(app.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions: { code?: string } }> };
}

describe('Redis restarts empty', () => {
  const prefix = uniquePrefix();
  const keys = createKeys(prefix);
  let redis: LocalRedis;
  let sim: BinanceSim;
  let app: App;
  let client: Client | undefined;
  /** The last frame sent per symbol: what Redis must end up holding. */
  const last = new Map<string, { price: number; updatedAt: number }>();
  const base = Date.now();
  let sequence = 0;

  /** Sends a new state of `symbol`: a new price and a strictly later event time. */
  function move(symbol: string): number {
    sequence++;
    const price = 1000 + sequence / 8; // exact in binary floating point and in decimal text
    const updatedAt = base + sequence;
    sim.push(symbol, { c: String(price), E: updatedAt });
    last.set(symbol, { price, updatedAt });
    return updatedAt;
  }

  /** Every market in Redis by id, read directly (not through the service). */
  async function stored(): Promise<Map<string, { price: number; updatedAt: number }>> {
    const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await direct.connect();
      const hash = await direct.hgetall(keys.market);
      return new Map(Object.entries(hash).map(([id, text]) => [id, (({ price, updatedAt }) => ({ price, updatedAt }))(decodeMarket(text))]));
    } finally {
      direct.disconnect();
    }
  }

  function expected(): Map<string, { price: number; updatedAt: number }> {
    return new Map(sim.symbols.map((s) => [`binance:${s.base}/${s.quote}`, last.get(s.symbol)!]));
  }

  beforeAll(async () => {
    redis = await startLocalRedis(); // this test's own server: it is killed and restarted
    sim = await BinanceSim.start({ markets: MARKETS, tickMs: 0, pingIntervalMs: 0 });
    app = await buildApp(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        REDIS_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        FEEDS: 'binance',
        BINANCE_WS_URL: sim.wsUrl,
        BINANCE_REST_URL: sim.restUrl,
        BINANCE_SYMBOLS: sim.symbols.map((s) => s.symbol).join(','),
        QUERY_CACHE_MS: '0',
      }),
      silentLogger(),
      { url: redis.url, privateServer: null },
    );
    await app.start();
  });

  afterAll(async () => {
    await client?.dispose();
    await app?.stop();
    await sim?.close();
    await redis?.stop();
  });

  it('writes every market again, at the state the exchange last sent, and serves and pushes as before', async () => {
    // The feed joins `app.feeds` once the process holds its lease, which may be after start().
    await expect.poll(() => app.feeds[0]?.health().status, { timeout: 10_000 }).toBe('LIVE');
    for (const s of sim.symbols) move(s.symbol);
    await expect.poll(stored, { timeout: 10_000 }).toEqual(expected());

    // A subscriber from before the outage.
    client = createClient({ url: app.url().replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    const pushed: number[] = [];
    client.subscribe(
      { query: 'subscription { priceUpdated(exchanges: ["binance"]) { updatedAt } }' },
      { next: (r) => pushed.push((r.data as { priceUpdated: { updatedAt: number } }).priceUpdated.updatedAt), error: () => {}, complete: () => {} },
    );
    await expect.poll(() => (move(sim.symbols[0]!.symbol), pushed.length), { timeout: 10_000, interval: 100 }).toBeGreaterThan(0);

    // Crash. The exchange keeps moving the first half of the markets; memory stays one
    // pending state per market, however many frames arrive.
    await redis.kill();
    await expect.poll(async () => (await graphql(app, '{ markets { total } }')).errors?.[0]?.extensions.code, { timeout: 10_000 }).toBe('SERVICE_UNAVAILABLE');
    const receivedBefore = app.writer.stats.received;
    let maxPending = 0;
    for (let round = 0; round < 40; round++) {
      for (const s of sim.symbols.slice(0, MARKETS / 2)) move(s.symbol);
      await new Promise((resolve) => setTimeout(resolve, 10));
      maxPending = Math.max(maxPending, app.writer.pendingCount);
    }
    await expect.poll(() => app.writer.stats.received - receivedBefore, { timeout: 10_000 }).toBe(40 * (MARKETS / 2));
    maxPending = Math.max(maxPending, app.writer.pendingCount);
    expect(maxPending).toBeGreaterThan(0);
    expect(maxPending).toBeLessThanOrEqual(MARKETS);

    // Back, empty, on the same port. Afterwards only a few markets move: the other half never
    // moved since before the crash, and exists only in the process's memory.
    redis = await startLocalRedis({ port: redis.port });
    expect((await stored()).size).toBe(0);
    await expect.poll(async () => (await graphql(app, '{ markets { total } }')).data?.markets.total, { timeout: 15_000 }).toBe(MARKETS);
    for (const s of sim.symbols.slice(0, 5)) move(s.symbol);
    await expect.poll(stored, { timeout: 10_000 }).toEqual(expected());

    // The service found the loss itself (the new server's run_id or the missing marker).
    const metrics = await (await fetch(app.url().replace('/graphql', '/metrics'))).text();
    expect(Number(/^tickql_ingest_restores_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^tickql_ingest_restored_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(MARKETS / 2);

    // The scripts this test ran were loaded again into the new server (ioredis sends EVAL on a
    // new socket) and queries computed by them answer.
    const page = await graphql(app, '{ markets(sort: { field: UPDATED_AT }, page: { limit: 1 }) { total items { id price updatedAt } } }');
    const newest = [...last.entries()].sort((a, b) => b[1].updatedAt - a[1].updatedAt)[0]!;
    expect(page.data?.markets.total).toBe(MARKETS);
    expect(page.data?.markets.items[0]).toMatchObject({ price: newest[1].price, updatedAt: newest[1].updatedAt });
    const direct = new Redis(redis.url);
    const shas = loadScripts()
      .filter((s) => s.name === 'upsertMarkets' || s.name === 'queryMarkets')
      .map((s) => createHash('sha1').update(s.source).digest('hex'));
    expect(shas).toHaveLength(2);
    expect(await direct.script('EXISTS', ...shas)).toEqual(shas.map(() => 1));
    direct.disconnect();

    // Feed health is back, and the subscriber from before the crash gets new updates.
    await expect.poll(async () => (await graphql(app, '{ feeds { exchange status markets } }')).data?.feeds, { timeout: 10_000 }).toEqual([
      { exchange: 'binance', status: 'LIVE', markets: MARKETS },
    ]);
    const after = move(sim.symbols[MARKETS - 1]!.symbol);
    await expect.poll(() => pushed.includes(after), { timeout: 10_000 }).toBe(true);
  }, 90_000);

  it('writes every market again after FLUSHALL on the same server, with no reconnect at all', async () => {
    await expect.poll(stored, { timeout: 10_000 }).toEqual(expected());
    const restoresBefore = app.writer.stats.restored;
    const direct = new Redis(redis.url);
    await direct.flushall();
    direct.disconnect();
    // Nothing moves on the exchange: only the missing marker can bring the markets back.
    await expect.poll(stored, { timeout: 10_000 }).toEqual(expected());
    expect(app.writer.stats.restored - restoresBefore).toBe(MARKETS);
  }, 30_000);
});
