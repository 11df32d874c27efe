/**
 * Clients that stop reading (their socket paused, as a frozen or overwhelmed client's is):
 * what this process holds for them stays bounded, they get the latest state of each market
 * when they read again (not a backlog), a client that stays stuck past WS_STUCK_CLIENT_MS is
 * closed with 4008, and a normal client on the same server keeps receiving throughout. Both
 * delivery paths: shared payloads, and the ordinary graphql-ws path.
 *
 * STUCK_CLIENTS=1000 npx vitest run test/integration/slow-clients.test.ts runs the stuck case
 * with a thousand clients and prints the server's memory (the suite uses fewer).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp } from '../../src/app';
import { DEFAULT_WEBSOCKET_LIMITS, loadConfig, type WebSocketLimits } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { attachGraphqlWs, type GraphqlWsServer } from '../../src/delivery/graphql-ws';
import { MAX_MESSAGES_PER_WRITE } from '../../src/delivery/shared-subscriptions';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { startTestServer, type TestServer } from '../support/services';
import { sleep, waitFor } from '../support/wait-for';

const FIELDS = 'id exchange symbol nativeSymbol base quote price bid ask open24h high24h low24h volume24h quoteVolume24h change24h changePercent24h spreadPercent updatedAt stale';
/** Shared payloads: the selection depends on the event alone. */
const SHARED = (exchange: string) => `subscription { priceUpdated(exchanges: ["${exchange}"]) { ${FIELDS} } }`;
/** The ordinary path: a variable below the root field. */
const PLAIN = (exchange: string) => `subscription P($b: Boolean!) { priceUpdated(exchanges: ["${exchange}"]) { ${FIELDS} bid @include(if: $b) } }`;
const STUCK_CLIENTS = Number(process.env.STUCK_CLIENTS ?? 200);

interface Next {
  id: string;
  payload: { data: { priceUpdated: { id: string; price: number } } };
}

class Subscriber {
  readonly received: Next[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The last price received per market. */
  readonly latest = new Map<string, number>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as Next & { type: string };
      if (message.type !== 'next') return;
      this.received.push(message);
      this.latest.set(message.payload.data.priceUpdated.id, message.payload.data.priceUpdated.price);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async open(url: string, query: string): Promise<Subscriber> {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    await once(ws, 'open');
    const acked = once(ws, 'message');
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await acked;
    const sub = new Subscriber(ws);
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { b: true } } }));
    return sub;
  }
}

describe('slow and stuck graphql-ws clients', () => {
  let t: TestRedis;
  let s: TestServer;
  const servers: Array<{ http: Server; ws: GraphqlWsServer }> = [];
  const subscribers: Subscriber[] = [];

  beforeAll(async () => {
    t = await openTestRedis();
    s = await startTestServer(t, { staleAfterMs: 600_000 });
  });
  afterEach(async () => {
    for (const sub of subscribers.splice(0)) sub.ws.terminate();
    for (const { http, ws } of servers.splice(0)) {
      await ws.close();
      http.closeAllConnections();
      http.close();
    }
  });
  afterAll(async () => {
    await s.close();
    await t.close();
  });

  async function serve(limits: Partial<WebSocketLimits>): Promise<{ url: string; ws: GraphqlWsServer }> {
    const http = createServer(s.yoga);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const ws = attachGraphqlWs(http, s.yoga, { limits: { ...DEFAULT_WEBSOCKET_LIMITS, ...limits } });
    servers.push({ http, ws });
    return { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`, ws };
  }

  async function subscribe(url: string, query: string): Promise<Subscriber> {
    const sub = await Subscriber.open(url, query);
    subscribers.push(sub);
    return sub;
  }

  /** Every market of `exchange` at `price`, in one script call (one publish each). */
  const publish = (exchange: string, markets: number, price: number) =>
    upsertMarkets(
      t.redis,
      t.keys,
      Array.from({ length: markets }, (_, i) => makeMarket({ exchange, base: `M${i}`, price, updatedAt: 1_000_000 + price })),
    );

  /** Publishes until every subscriber has received something (subscriptions register asynchronously). */
  async function untilSubscribed(subs: Subscriber[], exchange: string, markets: number): Promise<number> {
    let price = 0;
    while (!subs.every((sub) => sub.received.length > 0)) {
      if (price > 200) throw new Error('subscriptions never received anything');
      await publish(exchange, markets, ++price);
      await sleep(50);
    }
    return price;
  }

  it('holds at most one state per market for a client that stops reading, and delivers the latest when it reads again', async () => {
    const markets = 200;
    const { url, ws } = await serve({ stuckClientMs: 600_000 });
    const stuck = [
      ...(await Promise.all([0, 1, 2].map(() => subscribe(url, SHARED('slowx'))))),
      ...(await Promise.all([0, 1].map(() => subscribe(url, PLAIN('slowx'))))),
    ];
    const live = await subscribe(url, SHARED('slowx'));
    let price = await untilSubscribed([...stuck, live], 'slowx', markets);
    for (const sub of stuck) sub.ws.pause();
    const conflatedBefore = s.services.priceUpdates.stats().conflated;

    // Until the kernel's buffers for each stuck client are full (megabytes) and states queue
    // in this process, where a newer state of a market replaces the older one.
    let rounds = 0;
    while (s.services.priceUpdates.stats().conflated - conflatedBefore < stuck.length * markets * 3) {
      if (++rounds > 2000) throw new Error('updates never conflated');
      await publish('slowx', markets, ++price);
      if (rounds % 10 === 0) await sleep(1); // let the live client read
    }
    // As many rounds again: these can only wait in this process, conflated.
    for (let more = 0; more < rounds; more++) {
      await publish('slowx', markets, ++price);
      if (more % 10 === 0) await sleep(1);
    }
    const published = price;

    // Bounded: what this process queues per connection is one write per subscription at most.
    const queued = [...ws.wss.clients].map((c) => c.bufferedAmount);
    const messageBytes = JSON.stringify(live.received.at(-1)).length + 20;
    expect(Math.max(...queued)).toBeLessThanOrEqual(DEFAULT_WEBSOCKET_LIMITS.maxBufferedBytes + MAX_MESSAGES_PER_WRITE * messageBytes);
    // And the streams hold one state per market at most.
    const open = (s.services.priceUpdates as unknown as { open: Set<{ size: number }> }).open;
    for (const stream of open) expect(stream.size).toBeLessThanOrEqual(markets);

    // The live client kept receiving: it has the last round for every market.
    await waitFor(() => live.latest.size === markets && [...live.latest.values()].every((p) => p === published), 'the live client to receive the last round', 10_000);

    for (const sub of stuck) sub.ws.resume();
    await waitFor(
      () => stuck.every((sub) => sub.latest.size === markets && [...sub.latest.values()].every((p) => p === published)),
      'stuck clients to receive the latest state of every market',
      20_000,
    );
    for (const sub of stuck) {
      // Not a backlog: what the kernel held, then one state per market, not every round.
      expect(sub.received.length).toBeLessThan(published * markets * 0.75);
      expect(sub.ws.readyState).toBe(WebSocket.OPEN);
    }
  }, 60_000);

  it('holds the next write of a connection with over WS_MAX_BUFFERED_BYTES queued until it drains', async () => {
    const maxBufferedBytes = 16 * 1024;
    const { url, ws } = await serve({ stuckClientMs: 600_000, maxBufferedBytes });
    const client = await subscribe(url, SHARED('gated'));
    await waitFor(() => ws.wss.clients.size === 1, 'the connection');
    const socket = [...ws.wss.clients][0]!;
    client.ws.pause();
    // Fill the kernel's buffers, then this process's queue past the limit.
    const chunk = JSON.stringify({ type: 'ping', payload: { pad: 'x'.repeat(64 * 1024) } });
    while (socket.bufferedAmount <= maxBufferedBytes) {
      socket.send(chunk);
      await sleep(1);
    }
    let released = false;
    ws.slowClients.whenWritable(socket, () => (released = true));
    await sleep(100);
    expect(released).toBe(false);
    expect(ws.slowClientStats.outboundWaits).toBe(1);
    client.ws.resume();
    await waitFor(() => released, 'the held write to be released once the queue drained');
    expect(socket.bufferedAmount).toBeLessThanOrEqual(maxBufferedBytes);
  });

  it(`closes ${STUCK_CLIENTS} clients that stay stuck past WS_STUCK_CLIENT_MS with 4008, while a normal client keeps receiving`, async () => {
    // Generous: the live client shares this process's event loop with the server and every stuck client.
    const stuckClientMs = 3000;
    const { url, ws } = await serve({ stuckClientMs });
    const stuck: Subscriber[] = [];
    for (let i = 0; i < STUCK_CLIENTS; i += 50) {
      stuck.push(...(await Promise.all(Array.from({ length: Math.min(50, STUCK_CLIENTS - i) }, (_, j) => subscribe(url, (i + j) % 2 ? PLAIN('stucky') : SHARED('stucky'))))));
    }
    const live = await subscribe(url, SHARED('stucky'));
    let price = await untilSubscribed([...stuck, live], 'stucky', 20);
    const memoryBefore = process.memoryUsage();
    for (const sub of stuck) sub.ws.pause();

    while (ws.slowClientStats.closed < STUCK_CLIENTS) {
      if (price > 10_000) throw new Error(`only ${ws.slowClientStats.closed} stuck clients were closed`);
      await publish('stucky', 20, ++price);
      await sleep(20);
    }
    // Every stuck client was closed and the live one was not; it still receives.
    expect(ws.slowClientStats.closed).toBe(STUCK_CLIENTS);
    const last = ++price;
    await publish('stucky', 20, last);
    await waitFor(() => live.latest.get('stucky:M0/USDT') === last, 'the live client to receive an update after the stuck ones were closed');
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    const memoryAfter = process.memoryUsage();
    if (process.env.STUCK_CLIENTS) {
      console.log(
        `${STUCK_CLIENTS} stuck clients, ${price} rounds of 20 markets: rss ${(memoryBefore.rss / 2 ** 20).toFixed(1)} -> ${(memoryAfter.rss / 2 ** 20).toFixed(1)} MiB, heapUsed ${(memoryBefore.heapUsed / 2 ** 20).toFixed(1)} -> ${(memoryAfter.heapUsed / 2 ** 20).toFixed(1)} MiB`,
      );
    }

    // When they read again they find the close frame, with the code and the reason; except a
    // client whose close did not complete within the grace period and that the server then
    // cut off (on a slow machine the first ones closed can wait that long for the last): it
    // sees the connection end without a close frame (1006), and the server counted it.
    for (const sub of stuck) sub.ws.resume();
    const closes = (await Promise.all(stuck.map((sub) => sub.closed))).map((c) => JSON.stringify(c));
    const stuckClose = JSON.stringify({ code: 4008, reason: `Stuck: did not read for ${stuckClientMs} ms` });
    const cutOff = closes.filter((c) => c === JSON.stringify({ code: 1006, reason: '' })).length;
    expect(closes.filter((c) => c !== stuckClose).length).toBe(cutOff);
    expect(cutOff).toBeLessThanOrEqual(ws.slowClientStats.terminated);
    await waitFor(() => ws.wss.clients.size === 1, 'the stuck clients to be gone from the server');
    await waitFor(() => s.services.priceUpdates.stats().active === 1, 'their subscriptions to be released');
  }, 120_000);

  it('cuts an SSE stream whose writes make no progress for WS_STUCK_CLIENT_MS, and releases its subscription', async () => {
    const app = await buildApp(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix, LOG_LEVEL: 'silent', FEEDS: '', WS_STUCK_CLIENT_MS: '1000' }),
      silentLogger(),
      { url: t.url, privateServer: null },
    );
    await app.start();
    try {
      const url = new URL(app.url());
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request(url, { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'application/json' } }, resolve);
        req.on('error', reject);
        req.end(JSON.stringify({ query: SHARED('ssex') }));
      });
      let text = '';
      response.on('data', (chunk: Buffer) => void (text += chunk.toString()));
      response.on('error', () => {});
      let price = 0;
      while (!text.includes('"priceUpdated"')) {
        if (price > 200) throw new Error('the SSE stream never received anything');
        await publish('ssex', 200, ++price);
        await sleep(50);
      }
      response.socket.pause();
      const metric = async () => Number(/^tickql_sse_slow_clients_closed_total (\S+)$/m.exec(await (await fetch(app.url().replace('/graphql', '/metrics'))).text())?.[1]);
      // Past the kernel's buffers (megabytes), then no progress for the limit.
      for (let rounds = 0; (await metric()) === 0; rounds++) {
        if (rounds > 3000) throw new Error('the stuck SSE stream was never cut');
        await publish('ssex', 200, ++price);
        if (rounds > 100) await sleep(20);
      }
      expect(await metric()).toBe(1);
      await waitFor(() => app.services.priceUpdates.stats().active === 0, 'the SSE subscription to be released');
    } finally {
      await app.stop();
    }
  }, 60_000);
});
