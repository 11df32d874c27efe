/**
 * The simulator speaks Binance's protocol as binance.md describes it. Checked with a bare ws
 * client, so nothing of our own client code is involved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { BinanceSim, type BinanceSimOptions } from '../../src/ingest/sim/binance-sim';
import { sleep, waitFor } from '../support/wait-for';

const sims: BinanceSim[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

async function sim(options: BinanceSimOptions = {}): Promise<BinanceSim> {
  const s = await BinanceSim.start({ markets: 100, tickMs: 0, pingIntervalMs: 0, ...options });
  sims.push(s);
  return s;
}

interface RawClient {
  readonly ws: WebSocket;
  readonly frames: string[];
  readonly pings: number[];
  /** The next text frame not yet taken. */
  next(): Promise<string>;
  send(value: unknown): void;
  /** Sends a request and returns the reply as parsed JSON. */
  request(value: unknown): Promise<unknown>;
  readonly closed: Promise<number>;
}

async function connect(url: string, options: ClientOptions = {}): Promise<RawClient> {
  const ws = new WebSocket(url, options);
  sockets.push(ws);
  const frames: string[] = [];
  const pings: number[] = [];
  let taken = 0;
  ws.on('message', (data) => frames.push(String(data)));
  ws.on('ping', () => pings.push(Date.now()));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async () => {
    await waitFor(() => frames.length > taken, 'a frame', 2000);
    return frames[taken++]!;
  };
  const send = (value: unknown) => ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  return { ws, frames, pings, next, send, closed, request: async (value) => (send(value), JSON.parse(await next()) as unknown) };
}

const TICKER_KEYS = ['e', 'E', 's', 'p', 'P', 'w', 'x', 'c', 'Q', 'b', 'B', 'a', 'A', 'o', 'h', 'l', 'v', 'q', 'O', 'C', 'F', 'L', 'n'];

describe('simulator: control requests', () => {
  it('acks SUBSCRIBE with {"result":null,"id":n} and lists and drops subscriptions', async () => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    c.send({ method: 'SUBSCRIBE', params: ['btcusdt@ticker', 'ethusdt@ticker'], id: 1 });
    expect(await c.next()).toBe('{"result":null,"id":1}');
    expect(await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 2 })).toEqual({ result: ['btcusdt@ticker', 'ethusdt@ticker'], id: 2 });
    expect(await c.request({ method: 'UNSUBSCRIBE', params: ['ethusdt@ticker'], id: 'abc3' })).toEqual({ result: null, id: 'abc3' });
    expect(await c.request({ method: 'LIST_SUBSCRIPTIONS', id: null })).toEqual({ result: ['btcusdt@ticker'], id: null });
    expect(s.subscribers('BTCUSDT')).toBe(1);
    expect(s.subscribers('ETHUSDT')).toBe(0);
  });

  it('acks a subscription to an unknown symbol and then sends nothing for it, as Binance does', async () => {
    const s = await sim({ tickMs: 10 });
    const c = await connect(s.wsUrl);
    expect(await c.request({ method: 'SUBSCRIBE', params: ['nosuchusdt@ticker'], id: 1 })).toEqual({ result: null, id: 1 });
    await sleep(200);
    expect(c.frames).toHaveLength(1);
  });

  it.each([
    ['a misspelt method', { method: 'SUBSCRIB', params: [], id: 1 }, 2, /^Invalid request: unknown variant `SUBSCRIB`, expected one of `SUBSCRIBE`/],
    ['a missing method', { params: [], id: 1 }, 2, /missing field `method`/],
    ['a missing id', { method: 'SUBSCRIBE', params: [] }, 2, /missing field `id`/],
    ['a negative id', { method: 'SUBSCRIBE', params: [], id: -1 }, 2, /request ID must be/],
    ['params that are not stream names', { method: 'SUBSCRIBE', params: [1], id: 1 }, 2, /must be an array of stream names/],
    ['an unknown property', { method: 'GET_PROPERTY', params: ['colour'], id: 1 }, 0, /^Unknown property$/],
    ['a property value of the wrong type', { method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 1 }, 1, /^Invalid value type: expected Boolean$/],
    ['text that is not JSON', 'hello', 3, /^Invalid JSON: /],
  ])('answers %s with error code %i', async (_name, request, code, msg) => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    const reply = (await c.request(request)) as { code: number; msg: string };
    expect(reply.code).toBe(code);
    expect(reply.msg).toMatch(msg);
  });

  it('echoes the request id in errors when the id is valid', async () => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    expect(await c.request({ method: 'LIST', id: 42 })).toMatchObject({ code: 2, id: 42 });
  });

  it('switches between combined and raw frames with SET_PROPERTY combined', async () => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@ticker'], id: 1 });
    expect(await c.request({ method: 'GET_PROPERTY', params: ['combined'], id: 2 })).toEqual({ result: true, id: 2 });
    expect(await c.request({ method: 'SET_PROPERTY', params: ['combined', false], id: 3 })).toEqual({ result: null, id: 3 });
    s.push('BTCUSDT');
    expect(JSON.parse(await c.next())).toMatchObject({ e: '24hrTicker', s: 'BTCUSDT' });
  });
});

describe('simulator: streams', () => {
  it('wraps events on /stream as {"stream","data"} with every 24hrTicker field in Binance order', async () => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@ticker'], id: 1 });
    const before = Date.now();
    s.push('BTCUSDT');
    const frame = JSON.parse(await c.next()) as { stream: string; data: Record<string, unknown> };
    expect(Object.keys(frame)).toEqual(['stream', 'data']);
    expect(frame.stream).toBe('btcusdt@ticker');
    expect(Object.keys(frame.data)).toEqual(TICKER_KEYS);
    expect(frame.data).toMatchObject({ e: '24hrTicker', s: 'BTCUSDT' });
    for (const key of ['p', 'P', 'w', 'x', 'c', 'Q', 'b', 'B', 'a', 'A', 'o', 'h', 'l', 'v', 'q']) expect(typeof frame.data[key]).toBe('string');
    for (const key of ['E', 'O', 'C', 'F', 'L', 'n']) expect(typeof frame.data[key]).toBe('number');
    expect(frame.data.E).toBeGreaterThanOrEqual(before);
  });

  it('sends bare events on /ws, and subscribes streams named in the URL', async () => {
    const s = await sim();
    const raw = await connect(`${s.rawWsUrl}/btcusdt@ticker`);
    const combined = await connect(`${s.wsUrl}?streams=btcusdt@ticker/ethbtc@ticker`);
    expect(s.subscribers('BTCUSDT')).toBe(2);
    expect(s.subscribers('ETHBTC')).toBe(1);
    s.push('BTCUSDT', { c: '123.00000000' });
    expect(JSON.parse(await raw.next())).toMatchObject({ e: '24hrTicker', s: 'BTCUSDT', c: '123.00000000' });
    expect(JSON.parse(await combined.next())).toMatchObject({ stream: 'btcusdt@ticker', data: { c: '123.00000000' } });
  });

  it('moves subscribed markets on its own every tickMs on average', async () => {
    const s = await sim({ tickMs: 50, markets: 5 });
    const c = await connect(s.wsUrl);
    await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@ticker'], id: 1 });
    await waitFor(() => c.frames.length >= 4, 'three ticks');
    const events = c.frames.slice(1).map((f) => (JSON.parse(f) as { data: { s: string } }).data);
    expect(new Set(events.map((e) => e.s))).toEqual(new Set(['BTCUSDT']));
  });

  it('refuses an unknown path with HTTP 404', async () => {
    const s = await sim();
    await expect(connect(s.wsUrl.replace('/stream', '/nope'))).rejects.toThrow('Unexpected server response: 404');
  });

  it('lists every market with base and quote in exchangeInfo', async () => {
    const s = await sim({ markets: 120 });
    const body = (await (await fetch(`${s.restUrl}/api/v3/exchangeInfo`)).json()) as { symbols: Array<{ symbol: string; baseAsset: string; quoteAsset: string; status: string }> };
    expect(body.symbols).toHaveLength(120);
    expect(body.symbols.find((e) => e.symbol === 'ETHBTC')).toMatchObject({ baseAsset: 'ETH', quoteAsset: 'BTC', status: 'TRADING' });
    expect(body.symbols.map((e) => e.symbol)).toEqual(s.symbols.map((e) => e.symbol));
    s.setRestAvailable(false);
    expect((await fetch(`${s.restUrl}/api/v3/exchangeInfo`)).status).toBe(503);
  });
});

describe('simulator: limits and keep-alive', () => {
  it('closes a connection that sends more than 5 messages in a second with 1008', async () => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    for (let id = 1; id <= 6; id++) c.send({ method: 'LIST_SUBSCRIPTIONS', id });
    expect(await c.closed).toBe(1008);
    expect(s.stats.rateLimitCloses).toBe(1);
  });

  it('allows 1024 streams on one connection and refuses the 1025th', async () => {
    const s = await sim();
    const c = await connect(s.wsUrl);
    const streams = Array.from({ length: 1024 }, (_, i) => `s${i}usdt@ticker`);
    expect(await c.request({ method: 'SUBSCRIBE', params: streams, id: 1 })).toEqual({ result: null, id: 1 });
    expect(await c.request({ method: 'SUBSCRIBE', params: ['one@ticker'], id: 2 })).toMatchObject({ code: 2, id: 2 });
    expect(((await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 3 })) as { result: string[] }).result).toHaveLength(1024);
  });

  it('pings on its interval and closes a connection that never answers', async () => {
    const s = await sim({ pingIntervalMs: 250, pongTimeoutMs: 600 }); // faster pings would make the answering client's pongs break the 5/s limit
    const answering = await connect(s.wsUrl);
    const silent = await connect(s.wsUrl, { autoPong: false });
    expect(await silent.closed).toBe(1006);
    expect(silent.pings.length).toBeGreaterThanOrEqual(2);
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.stats.pongs).toBeGreaterThanOrEqual(2);
  });

  it('announces serverShutdown in each connection’s framing, then closes with 1001', async () => {
    const s = await sim();
    const combined = await connect(s.wsUrl);
    const raw = await connect(s.rawWsUrl);
    s.shutdownNotice({ closeAfterMs: 50 });
    expect(JSON.parse(await combined.next())).toMatchObject({ stream: '!serverShutdown', data: { e: 'serverShutdown' } });
    expect(JSON.parse(await raw.next())).toMatchObject({ e: 'serverShutdown' });
    expect(await combined.closed).toBe(1001);
    expect(await raw.closed).toBe(1001);
  });

  it('stall() silences current connections only', async () => {
    const s = await sim();
    const stalled = await connect(s.wsUrl);
    s.stall();
    const fresh = await connect(s.wsUrl);
    stalled.send({ method: 'LIST_SUBSCRIPTIONS', id: 1 });
    expect(await fresh.request({ method: 'LIST_SUBSCRIPTIONS', id: 2 })).toEqual({ result: [], id: 2 });
    expect(s.sendRaw('x')).toBe(1);
    await sleep(50);
    expect(stalled.frames).toEqual([]);
  });

  it('refuses upgrades with the status and Retry-After it is told to', async () => {
    const s = await sim();
    s.rejectUpgrades(429, 7);
    const ws = new WebSocket(s.wsUrl);
    sockets.push(ws);
    const response = await new Promise<{ status: number | undefined; retryAfter: string | string[] | undefined }>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }));
      ws.on('error', () => undefined);
    });
    expect(response).toEqual({ status: 429, retryAfter: '7' });
  });

  it('close() cuts every connection and stops listening', async () => {
    const s = await BinanceSim.start({ markets: 10, tickMs: 10, pingIntervalMs: 250 });
    const c = await connect(s.wsUrl);
    await s.close();
    expect(s.connections).toBe(0);
    expect(await c.closed).toBe(1006);
    await expect(connect(s.wsUrl)).rejects.toThrow(/ECONNREFUSED/);
  });
});
