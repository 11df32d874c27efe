/**
 * The whole path, for real: a local server speaking Binance's protocol -> the Binance adapter
 * over a WebSocket -> the batch writer -> Redis (Lua upsert) -> a GraphQL query over HTTP,
 * and -> Redis pub/sub -> a graphql-ws client subscription, on the instance that ingests and
 * on a second, serve-only instance sharing the Redis. Both are the real process tree with
 * several serving processes (test/support/tickql-process.ts), so clients land on different
 * workers.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { startListeningTickql, waitForLiveFeeds, type TickqlProcess } from '../support/tickql-process';

async function post(app: TickqlProcess, query: string): Promise<{ data?: any; errors?: unknown[] }> {
  const response = await fetch(app.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

function subscribe(client: Client, query: string): { received: any[]; done: Promise<void>; dispose: () => void } {
  const received: any[] = [];
  let dispose = () => {};
  const done = new Promise<void>((resolve, reject) => {
    dispose = client.subscribe({ query }, { next: (r) => received.push(r), error: reject, complete: resolve });
  });
  return { received, done, dispose };
}

describe('end to end: exchange socket -> Redis -> GraphQL query and subscription', () => {
  let t: TestRedis;
  let sim: BinanceSim;
  let ingesting: TickqlProcess;
  let serving: TickqlProcess;
  let clients: Client[] = [];

  beforeAll(async () => {
    t = await openTestRedis();
    sim = await BinanceSim.start({ markets: 20, tickMs: 0, pingIntervalMs: 0 });
    const env = { REDIS_URL: t.url, REDIS_PREFIX: t.prefix, INGEST_BATCH_MS: '5' };
    [ingesting, serving] = await Promise.all([
      startListeningTickql({ ...env, FEEDS: 'binance', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl, BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT,SOLUSDT' }),
      startListeningTickql({ ...env, ROLE: 'serve' }), // a second instance: serves only
    ]);
    await waitForLiveFeeds(ingesting, ['binance']);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await Promise.all([ingesting?.stop(), serving?.stop()]);
    await sim?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  it('serves a pushed ticker through a sorted, filtered GraphQL page with every field mapped', async () => {
    sim.push('BTCUSDT', { c: '96874.12', b: '96874.11', a: '96874.13', o: '95321.45', h: '97250.00', l: '94980.01', v: '18234.51722', q: '1752380578.16168097', p: '1552.67', P: '1.629' });
    sim.push('ETHUSDT', { c: '3352.10', b: '3352.09', a: '3352.10', o: '3398.77', h: '3421.56', l: '3318.02', v: '412877.6541', q: '1391157718.30515053', p: '-46.67', P: '-1.373' });
    sim.push('SOLUSDT', { c: '184.31', b: '184.30', a: '184.32', o: '179.92', h: '186.40', l: '177.15', v: '3120455.118', q: '565880493.601269', p: '4.39', P: '2.440' });

    const query = `{ markets(sort: { field: CHANGE_PERCENT_24H, direction: DESC }, filter: { quotes: ["usdt"], exchanges: ["binance"] }, page: { limit: 2 }) {
      total items { id exchange symbol nativeSymbol base quote price bid ask open24h high24h low24h volume24h quoteVolume24h change24h changePercent24h spreadPercent stale } } }`;
    // The serving process learns the feed is LIVE within a second (staleness refresh).
    await expect.poll(async () => (await post(serving, query)).data?.markets.items[0], { timeout: 5000 }).toMatchObject({ price: 184.31, stale: false });
    const { data, errors } = await post(serving, query);
    expect(errors).toBeUndefined();
    expect(data.markets.total).toBe(3);
    expect(data.markets.items.map((m: { id: string }) => m.id)).toEqual(['binance:SOL/USDT', 'binance:BTC/USDT']);
    const btc = data.markets.items[1];
    expect(btc).toEqual({
      id: 'binance:BTC/USDT',
      exchange: 'binance',
      symbol: 'BTC/USDT',
      nativeSymbol: 'BTCUSDT',
      base: 'BTC',
      quote: 'USDT',
      price: 96874.12,
      bid: 96874.11,
      ask: 96874.13,
      open24h: 95321.45,
      high24h: 97250,
      low24h: 94980.01,
      volume24h: 18234.51722,
      quoteVolume24h: 1752380578.16168097,
      change24h: 96874.12 - 95321.45,
      changePercent24h: ((96874.12 - 95321.45) / 95321.45) * 100,
      spreadPercent: ((96874.13 - 96874.11) / ((96874.13 + 96874.11) / 2)) * 100,
      stale: false,
    });
  });

  it('delivers every update to graphql-ws subscribers of both processes, and nothing they did not ask for', async () => {
    const connect = (app: TickqlProcess) => {
      const client = createClient({ url: app.url().replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
      clients.push(client);
      return client;
    };
    const onIngesting = subscribe(connect(ingesting), 'subscription { priceUpdated(ids: ["binance:ETH/USDT"]) { id price stale } }');
    const onServing = subscribe(connect(serving), 'subscription { priceUpdated(exchanges: ["binance"], symbols: ["eth/usdt"]) { id price } }');
    const everything = subscribe(connect(serving), 'subscription { priceUpdated { id } }');

    // Subscriptions are registered asynchronously: push until the first arrives on both.
    let price = 3000;
    await expect
      .poll(
        () => {
          sim.push('ETHUSDT', { c: String(++price) });
          return onIngesting.received.length > 0 && onServing.received.length > 0;
        },
        { timeout: 5000, interval: 50 },
      )
      .toBe(true);

    // Now a known sequence, each update sent once the one before it reached both subscribers,
    // so that none can be coalesced with the next (the batch writer keeps the latest state of a
    // market while a write is under way, however busy the machine).
    const sent: number[] = [];
    const lastPrice = (sub: typeof onServing) => sub.received.at(-1)?.data.priceUpdated.price;
    for (let i = 0; i < 10; i++) {
      sent.push(++price);
      sim.push('ETHUSDT', { c: String(price) });
      sim.push('BTCUSDT', { c: String(90_000 + i) }); // nobody but `everything` asked for BTC
      await expect.poll(() => [lastPrice(onServing), lastPrice(onIngesting)], { timeout: 5000, interval: 5 }).toEqual([price, price]);
    }
    await expect.poll(() => onServing.received.at(-1)?.data.priceUpdated.price, { timeout: 5000 }).toBe(price);
    await expect.poll(() => onIngesting.received.at(-1)?.data.priceUpdated.price, { timeout: 5000 }).toBe(price);

    for (const sub of [onIngesting, onServing]) {
      const prices = sub.received.map((r) => r.data.priceUpdated.price);
      expect(sub.received.every((r) => r.data.priceUpdated.id === 'binance:ETH/USDT')).toBe(true);
      expect(prices.slice(-sent.length)).toEqual(sent); // no update dropped, none out of order
    }
    expect(onIngesting.received.at(-1).data.priceUpdated.stale).toBe(false);
    await expect.poll(() => new Set(everything.received.map((r) => r.data.priceUpdated.id)).size).toBeGreaterThanOrEqual(2);

    onIngesting.dispose();
    onServing.dispose();
    everything.dispose();
  });

  it('reports the feed as LIVE with its markets, from the process that does not ingest it', async () => {
    const { data } = await post(serving, '{ feeds { exchange status markets reconnects } }');
    expect(data.feeds).toEqual([{ exchange: 'binance', status: 'LIVE', markets: 3, reconnects: 0 }]);
  });
});
