/**
 * graphql-ws subscriptions whose results are shared (src/delivery/shared-subscriptions.ts):
 * each update is executed once per selection, and every subscriber still receives exactly
 * the messages, in exactly the format, that per-subscriber execution produces.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { attachGraphqlWs, type GraphqlWsServer } from '../../src/delivery/graphql-ws';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { startTestServer, type TestServer } from '../support/services';

const SELECTION = 'subscription Prices($ids: [ID!]) { priceUpdated(ids: $ids) { id price stale } }';

/** A bare graphql-transport-ws client that keeps every `next` message's exact text. */
class RawSubscriber {
  readonly texts: string[] = [];
  readonly errors: unknown[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // graphql-ws speaks in text frames; a browser would get a Blob for a binary one.
      if (isBinary) this.errors.push('binary frame');
      const text = String(data);
      const message = JSON.parse(text) as { type: string; payload?: unknown };
      if (message.type === 'next') this.texts.push(text);
      if (message.type === 'error') this.errors.push(message.payload);
    });
  }

  static async open(url: string): Promise<RawSubscriber> {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    await once(ws, 'open');
    const acked = once(ws, 'message');
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await acked;
    return new RawSubscriber(ws);
  }

  subscribe(id: string, query: string, variables: Record<string, unknown> = {}): void {
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
  }

  complete(id: string): void {
    this.ws.send(JSON.stringify({ id, type: 'complete' }));
  }

  get messages(): Array<{ id: string; type: string; payload: { data: { priceUpdated: Record<string, unknown> } } }> {
    return this.texts.map((t) => JSON.parse(t));
  }
}

describe('graphql-ws with shared subscription payloads', () => {
  let t: TestRedis;
  let s: TestServer;
  const servers: Array<{ http: Server; ws: GraphqlWsServer }> = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    t = await openTestRedis();
    s = await startTestServer(t, { staleAfterMs: 60_000 });
  });
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
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

  async function serve(sharePayloads: boolean): Promise<{ url: string; ws: GraphqlWsServer }> {
    const http = createServer(s.yoga);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const ws = attachGraphqlWs(http, s.yoga, { sharePayloads });
    servers.push({ http, ws });
    return { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`, ws };
  }

  async function subscriber(url: string): Promise<RawSubscriber> {
    const sub = await RawSubscriber.open(url);
    sockets.push(sub.ws);
    return sub;
  }

  /** Publishes until every subscriber got a first message (subscriptions register asynchronously). */
  async function untilSubscribed(subs: RawSubscriber[], publish: (n: number) => Promise<void>): Promise<void> {
    let n = 0;
    await expect
      .poll(async () => {
        await publish(++n);
        return subs.every((sub) => sub.texts.length > 0);
      }, { timeout: 5000, interval: 50 })
      .toBe(true);
  }

  it('executes each update once per selection and gives every subscriber its own markets', async () => {
    const { url, ws } = await serve(true);
    const btcWatchers = await Promise.all([subscriber(url), subscriber(url), subscriber(url)]);
    const ethWatcher = await subscriber(url);
    const otherFields = await subscriber(url);
    btcWatchers.forEach((sub, i) => sub.subscribe(`b${i}`, SELECTION, { ids: ['binance:BTC/USDT'] }));
    ethWatcher.subscribe('e', SELECTION, { ids: ['binance:ETH/USDT'] });
    otherFields.subscribe('o', 'subscription { priceUpdated(exchanges: ["binance"]) { id bid } }');
    const all = [...btcWatchers, ethWatcher, otherFields];
    await untilSubscribed(all, (n) =>
      upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'BTC', price: n, updatedAt: n }), makeMarket({ base: 'ETH', price: n, updatedAt: n })]).then(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 200)); // let the warm-up messages still in flight land
    for (const sub of all) sub.texts.length = 0;
    const before = { ...ws.sharedPayloads };

    await upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'BTC', price: 1000, bid: 999, updatedAt: 1000 })]);
    await expect.poll(() => btcWatchers.every((sub) => sub.texts.length === 1) && otherFields.texts.length === 1).toBe(true);

    btcWatchers.forEach((sub, i) => expect(sub.messages).toEqual([{ id: `b${i}`, type: 'next', payload: { data: { priceUpdated: { id: 'binance:BTC/USDT', price: 1000, stale: true } } } }]));
    expect(otherFields.messages).toEqual([{ id: 'o', type: 'next', payload: { data: { priceUpdated: { id: 'binance:BTC/USDT', bid: 999 } } } }]);
    expect(ethWatcher.texts).toEqual([]);
    // One execution for the three BTC watchers' selection, one for the other selection.
    expect(ws.sharedPayloads.computed - before.computed).toBe(2);
    expect(ws.sharedPayloads.shared - before.shared).toBe(2);
  });

  it('sends the same messages, byte for byte, as executing for every subscriber', async () => {
    const shared = await serve(true);
    const plain = await serve(false);
    const subs = [await subscriber(shared.url), await subscriber(plain.url)];
    for (const sub of subs) sub.subscribe('same-id', 'subscription { priceUpdated(ids: ["binance:SOL/USDT"]) { id price bid ask spreadPercent updatedAt stale } }');
    await untilSubscribed(subs, (n) => upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'SOL', price: n, updatedAt: 2000 + n })]).then(() => undefined));
    await upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'SOL', price: 184.31, bid: null, spreadPercent: null, updatedAt: 9000 })]);
    await expect.poll(() => subs.map((sub) => sub.messages.at(-1)?.payload.data.priceUpdated.price)).toEqual([184.31, 184.31]);
    expect(subs[0]!.texts.at(-1)).toBe(subs[1]!.texts.at(-1));
    expect(subs.map((sub) => sub.errors)).toEqual([[], []]); // text frames, as graphql-ws sends
  });

  it('writes the updates that queued for a subscriber together, each still its own message, none lost', async () => {
    const { url, ws } = await serve(true);
    const sub = await subscriber(url);
    sub.subscribe('all', 'subscription { priceUpdated(exchanges: ["okx"]) { id price } }');
    const bases = Array.from({ length: 200 }, (_, i) => `Q${i}`);
    await untilSubscribed([sub], (n) => upsertMarkets(t.redis, t.keys, [makeMarket({ exchange: 'okx', base: 'Q0', price: n, updatedAt: 6000 + n })]).then(() => undefined));
    await new Promise((r) => setTimeout(r, 200));
    sub.texts.length = 0;
    const before = { ...ws.sharedDelivery };
    // One script call publishes 200 markets at once: they reach the subscriber faster than one write each.
    await upsertMarkets(t.redis, t.keys, bases.map((base) => makeMarket({ exchange: 'okx', base, price: 7, updatedAt: 7000 })));
    await expect.poll(() => sub.texts.length).toBe(200);
    expect(new Set(sub.messages.map((m) => m.payload.data.priceUpdated.id))).toEqual(new Set(bases.map((b) => `okx:${b}/USDT`)));
    expect(sub.messages.every((m) => m.id === 'all' && m.type === 'next' && m.payload.data.priceUpdated.price === 7)).toBe(true);
    expect(ws.sharedDelivery.messages - before.messages).toBe(200);
    expect(ws.sharedDelivery.writes - before.writes).toBeLessThan(200);
    expect(sub.errors).toEqual([]);
  });

  it('takes the ordinary path when the selection depends on variables, with the same result', async () => {
    const { url, ws } = await serve(true);
    const sub = await subscriber(url);
    sub.subscribe('v', 'subscription P($b: Boolean!) { priceUpdated(ids: ["binance:XRP/USDT"]) { id bid @include(if: $b) } }', { b: true });
    await untilSubscribed([sub], (n) => upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'XRP', price: n, bid: 7, updatedAt: 3000 + n })]).then(() => undefined));
    expect(sub.messages.at(-1)!.payload.data.priceUpdated).toEqual({ id: 'binance:XRP/USDT', bid: 7 });
    expect(ws.sharedPayloads).toEqual({ computed: 0, shared: 0 });
    expect(ws.sharedDelivery).toEqual({ messages: 0, writes: 0 });
  });

  it('reports bad arguments as an error message, as before', async () => {
    const { url } = await serve(true);
    const sub = await subscriber(url);
    sub.subscribe('bad', 'subscription P($ids: [ID!]) { priceUpdated(ids: $ids) { id } }', { ids: Array.from({ length: 1001 }, (_, i) => `x:${i}`) });
    await expect.poll(() => sub.texts.length + sub.errors.length).toBeGreaterThan(0);
    const reply = sub.texts.length > 0 ? JSON.parse(sub.texts[0]!).payload.errors : sub.errors[0];
    expect(reply).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' } }]);
  });

  it('stops sending and releases the market channel when the client completes', async () => {
    const { url } = await serve(true);
    const sub = await subscriber(url);
    const channel = t.keys.tickChannel('binance:ADA/USDT');
    sub.subscribe('c', SELECTION, { ids: ['binance:ADA/USDT'] });
    await untilSubscribed([sub], (n) => upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'ADA', price: n, updatedAt: 4000 + n })]).then(() => undefined));
    sub.complete('c');
    await expect.poll(() => t.redis.pubsub('NUMSUB', channel)).toEqual([channel, 0]);
    const received = sub.texts.length;
    await upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'ADA', price: 1, updatedAt: 5000 })]);
    await new Promise((r) => setTimeout(r, 100));
    expect(sub.texts.length).toBe(received);
  });
});
