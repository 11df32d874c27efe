/**
 * Hostile graphql-ws clients, sending raw frames to the real server: every kind of bad input
 * ends in the protocol's close code (or an error for that one operation, where the protocol
 * says so), and another client on the same server keeps receiving updates afterwards.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_WEBSOCKET_LIMITS, type WebSocketLimits } from '../../src/config';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { attachGraphqlWs, type GraphqlWsServer } from '../../src/delivery/graphql-ws';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { sleep, waitFor } from '../support/wait-for';
import { startTestServer, type TestServer } from '../support/services';

const LIMITS: WebSocketLimits = {
  ...DEFAULT_WEBSOCKET_LIMITS,
  maxMessageBytes: 4096,
  connectionInitTimeoutMs: 300,
  maxSubscriptions: 5,
  maxMessagesPerSecond: 50,
};

interface Message {
  id?: string;
  type: string;
  payload?: any;
}

/** A raw graphql-transport-ws connection that records every message and how it closed. */
class RawClient {
  readonly messages: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Message));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async open(url: string, init = true): Promise<RawClient> {
    const client = new RawClient(new WebSocket(url, 'graphql-transport-ws'));
    await once(client.ws, 'open');
    if (init) {
      client.send({ type: 'connection_init' });
      await waitFor(() => client.messages.some((m) => m.type === 'connection_ack'), 'connection_ack');
    }
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  subscribe(id: string, query = 'subscription { priceUpdated(ids: ["binance:HOSTILE/USDT"]) { id price } }'): void {
    this.send({ id, type: 'subscribe', payload: { query } });
  }

  ofType(type: string): Message[] {
    return this.messages.filter((m) => m.type === type);
  }
}

describe('hostile graphql-ws clients', () => {
  let t: TestRedis;
  let s: TestServer;
  let http: Server;
  let ws: GraphqlWsServer;
  let url: string;
  let watcher: RawClient;
  let price = 0;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    t = await openTestRedis();
    s = await startTestServer(t);
    http = createServer(s.yoga);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    ws = attachGraphqlWs(http, s.yoga, { limits: LIMITS });
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
    watcher = await RawClient.open(url);
    watcher.subscribe('w');
    await stillServing();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    await stillServing();
  });
  afterAll(async () => {
    watcher.ws.terminate();
    await ws.close();
    http.closeAllConnections();
    http.close();
    await s.close();
    await t.close();
  });

  /** The watcher, connected before any hostile client, receives a fresh update. */
  async function stillServing(): Promise<void> {
    const expected = ++price;
    const received = () => watcher.ofType('next').some((m) => m.payload.data.priceUpdated.price === expected);
    // Published again until it arrives: the first subscription registers asynchronously.
    for (let attempt = 0; attempt < 100 && !received(); attempt++) {
      await upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'HOSTILE', price: expected, updatedAt: expected })]);
      await sleep(50);
    }
    expect(received()).toBe(true);
  }

  async function client(init = true): Promise<RawClient> {
    const c = await RawClient.open(url, init);
    clients.push(c);
    return c;
  }

  it.each([
    ['text that is not JSON', '{"type": "connection_init"'],
    ['a JSON array', '[1, 2]'],
    ['a message without a type', '{"payload": {}}'],
    ['a type that is not a string', '{"type": 5}'],
    ['an unknown message type', '{"type": "hello"}'],
    ['a subscribe without an id', '{"type": "subscribe", "payload": {"query": "{ feeds { exchange } }"}}'],
    ['a subscribe whose payload is not an object', '{"type": "subscribe", "id": "1", "payload": "{ feeds { exchange } }"}'],
  ])('closes with 4400 on %s', async (_, text) => {
    const c = await client();
    c.send(text);
    expect((await c.closed).code).toBe(4400);
  });

  it.each(['connection_ack', 'next', 'error'])('closes with 4400 when a client sends a server-only "%s" message', async (type) => {
    const c = await client();
    c.send({ type, id: '1', payload: type === 'error' ? [{ message: 'x' }] : {} });
    expect(await c.closed).toEqual({ code: 4400, reason: `A client may not send "${type}" messages` });
  });

  it('closes with 4400 on a binary frame, even one holding valid JSON', async () => {
    const c = await client(false);
    c.ws.send(Buffer.from(JSON.stringify({ type: 'connection_init' })), { binary: true });
    expect(await c.closed).toEqual({ code: 4400, reason: 'Binary messages are not supported' });
  });

  it.each([
    ['a payload that is not an object', '{"type": "connection_init", "payload": "let me in"}'],
    ['a payload that is an array', '{"type": "connection_init", "payload": [1]}'],
  ])('closes with 4400 on a connection_init with %s', async (_, text) => {
    const c = await client(false);
    c.send(text);
    expect((await c.closed).code).toBe(4400);
  });

  it('closes with 4401 on a subscribe before connection_init', async () => {
    const c = await client(false);
    c.subscribe('early');
    expect((await c.closed).code).toBe(4401);
  });

  it('closes with 4429 on a second connection_init', async () => {
    const c = await client();
    c.send({ type: 'connection_init' });
    expect((await c.closed).code).toBe(4429);
  });

  it('closes with 4408 when no connection_init comes within WS_CONNECTION_INIT_TIMEOUT_MS', async () => {
    const c = await client(false);
    expect((await c.closed).code).toBe(4408);
  });

  it('closes with 4409 on a subscribe reusing the id of an active subscription', async () => {
    const c = await client();
    c.subscribe('same');
    c.subscribe('same');
    expect((await c.closed).code).toBe(4409);
  });

  it('closes with 1009 on a message over WS_MAX_MESSAGE_BYTES', async () => {
    const c = await client();
    c.subscribe('big', `subscription { priceUpdated(ids: ["${'x'.repeat(LIMITS.maxMessageBytes)}"]) { id } }`);
    expect((await c.closed).code).toBe(1009);
  });

  it('refuses each operation over WS_MAX_SUBSCRIPTIONS_PER_CONNECTION with an error, and keeps the connection', async () => {
    const c = await client();
    for (let i = 0; i < LIMITS.maxSubscriptions; i++) c.subscribe(`s${i}`);
    c.subscribe('one-too-many');
    await expect.poll(() => c.ofType('error')).toHaveLength(1);
    expect(c.ofType('error')[0]).toMatchObject({ id: 'one-too-many', payload: [{ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } }] });
    expect(ws.limitStats.subscriptionsRefused).toBeGreaterThanOrEqual(1);
    // Completing one makes room again, and the new subscription receives updates.
    c.send({ type: 'complete', id: 's0' });
    await expect.poll(() => s.services.priceUpdates.stats().active).toBe(1 + LIMITS.maxSubscriptions - 1);
    c.subscribe('room-again');
    await stillServing();
    await expect.poll(() => c.ofType('next').some((m) => m.id === 'room-again')).toBe(true);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes with 4429 on a flood of subscribe messages, and releases every subscription it made', async () => {
    const c = await client();
    const rateLimitedBefore = ws.limitStats.rateLimited;
    for (let i = 0; i < 5000; i++) c.subscribe(`flood${i}`);
    expect(await c.closed).toEqual({ code: 4429, reason: `Too many messages: more than ${LIMITS.maxMessagesPerSecond} per second` });
    expect(ws.limitStats.rateLimited).toBe(rateLimitedBefore + 1);
    await expect.poll(() => s.services.priceUpdates.stats().active).toBe(1); // the watcher's alone
  });

  it('closes with 4406 when the client does not speak graphql-transport-ws', async () => {
    const other = new WebSocket(url, 'graphql-ws');
    const closed = new Promise<number>((resolve) => {
      other.on('close', (code) => resolve(code));
      other.on('error', () => resolve(-1)); // a refused handshake
    });
    const code = await closed;
    // ws refuses the handshake when no offered subprotocol is acceptable; either way no session starts.
    expect([4406, -1]).toContain(code);
  });
});
