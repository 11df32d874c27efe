/**
 * Access control on the real app (buildApp over a private redis-server), with real HTTP, SSE
 * and WebSocket clients bound to different loopback addresses: API keys, per-address budgets
 * for queries and subscriptions, and caps on open connections.
 */
import { createConnection, type Socket } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger, type Logger } from '../../src/logger';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { openEventStream, postGraphql, send, upgrade, webSocketFrom, type Reply } from '../support/from-address';
import { makeMarket } from '../support/market-factory';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { sleep } from '../support/wait-for';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-fedcba9876543210';
const QUERY = '{ market(id: "binance:BTC/USDT") { id } }';
const SUBSCRIPTION = 'subscription { priceUpdated(ids: ["binance:BTC/USDT"]) { id } }';

let t: TestRedis;
const apps: App[] = [];

async function startApp(env: Record<string, string>, logger: Logger = silentLogger()): Promise<App> {
  const app = await buildApp(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix, LOG_LEVEL: 'silent', FEEDS: '', ...env }),
    logger,
    { url: t.url, privateServer: null },
  );
  await app.start();
  apps.push(app);
  return app;
}

beforeAll(async () => {
  t = await openTestRedis();
  await upsertMarkets(t.redis, t.keys, [makeMarket()]);
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await deletePrefix(t.redis, t.prefix);
  await t.close();
});

const wsUrl = (app: App) => app.url().replace('http', 'ws');
const opsUrl = (app: App, path: string) => app.url().replace('/graphql', path);
const metric = async (app: App, line: string) => {
  const text = (await send(opsUrl(app, '/metrics'), { headers: { 'x-api-key': KEY_A } })).body;
  return Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
};

/** Sends connection_init with `payload` and resolves with the acknowledgement or the close code. */
function initWebSocket(app: App, payload: unknown, headers: Record<string, string> = {}): Promise<{ acked: boolean; closeCode: number | null; socket: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(app), 'graphql-transport-ws', { headers });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', ...(payload === undefined ? {} : { payload }) })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve({ acked: true, closeCode: null, socket });
    });
    socket.once('close', (code) => resolve({ acked: false, closeCode: code, socket }));
    socket.once('error', reject);
  });
}

/** Runs one operation over a graphql-ws client; resolves with its result or its error. */
function runOperation(client: Client, query: string): Promise<{ data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }> {
  return new Promise((resolve) => {
    let settled = false;
    const stop = client.subscribe(
      { query },
      {
        next: (result) => {
          if (settled) return;
          settled = true;
          stop();
          resolve(result as never);
        },
        error: (error) => {
          if (settled) return;
          settled = true;
          resolve({ errors: Array.isArray(error) ? error : [{ message: String(error) }] });
        },
        complete: () => {},
      },
    );
  });
}

describe('API keys', () => {
  let app: App;
  const logged: string[] = [];

  beforeAll(async () => {
    const logger = pino({ level: 'trace' }, { write: (line: string) => void logged.push(line) });
    app = await startApp({ API_KEYS: ` ${KEY_A}, ${KEY_B} ` }, logger);
  });

  it('refuses a GraphQL request without a key or with a wrong one: 401, UNAUTHENTICATED, no data', async () => {
    for (const headers of [{}, { 'x-api-key': 'key-c-not-one-of-them' }, { authorization: `Bearer ${KEY_A}x` }, { authorization: KEY_A }] as Array<Record<string, string>>) {
      const reply = await postGraphql(app.url(), QUERY, { headers });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toMatch(/^Bearer/);
      const body = reply.json();
      expect(body.data).toBeUndefined();
      expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(reply.body).not.toContain(KEY_A);
    }
    const get = await send(`${app.url()}?query=${encodeURIComponent(QUERY)}`, { headers: { accept: 'application/json' } });
    expect(get.status).toBe(401);
    const sse = await openEventStream(app.url(), SUBSCRIPTION);
    expect(sse.status).toBe(401);
    sse.close();
  });

  it('serves a request with a valid key in x-api-key or Authorization: Bearer, over POST, GET and SSE', async () => {
    for (const headers of [{ 'x-api-key': KEY_A }, { 'x-api-key': KEY_B }, { authorization: `Bearer ${KEY_B}` }] as Array<Record<string, string>>) {
      const reply = await postGraphql(app.url(), QUERY, { headers });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    }
    const get = await send(`${app.url()}?query=${encodeURIComponent(QUERY)}`, { headers: { accept: 'application/json', 'x-api-key': KEY_A } });
    expect(get.json()).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    const sse = await openEventStream(app.url(), SUBSCRIPTION, { headers: { 'x-api-key': KEY_A } });
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toContain('text/event-stream');
    sse.close();
  });

  it('lets browsers send the key: CORS preflights need none, and refusals carry CORS headers', async () => {
    const origin = 'https://dashboard.example';
    const preflight = await send(app.url(), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-api-key' } });
    expect(preflight.status).toBeLessThan(300);
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain('x-api-key');
    const refused = await postGraphql(app.url(), QUERY, { headers: { origin } });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(origin);
  });

  it('keeps /healthz, /readyz and the GraphiQL page open, and puts /metrics behind the key', async () => {
    expect((await send(opsUrl(app, '/healthz'))).status).toBe(200);
    expect((await send(opsUrl(app, '/readyz'))).status).toBe(200);
    const page = await send(app.url(), { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.body.toLowerCase()).toContain('graphiql');
    expect(page.body).toContain('query BiggestByUsdVolume'); // it opens with the README's examples
    expect((await send(opsUrl(app, '/metrics'))).status).toBe(401);
    const scraped = await send(opsUrl(app, '/metrics'), { headers: { authorization: `Bearer ${KEY_B}` } });
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain('tickql_requests_refused_total');
  });

  it('closes a WebSocket whose connection_init has no valid key with 4403, and serves one with payload.apiKey', async () => {
    for (const payload of [undefined, {}, { apiKey: 'key-c-not-one-of-them' }, { apiKey: 42 }, { apikey: KEY_A }]) {
      const { acked, closeCode } = await initWebSocket(app, payload);
      expect({ payload, acked, closeCode }).toEqual({ payload, acked: false, closeCode: 4403 });
    }
    const byHeader = await initWebSocket(app, undefined, { 'x-api-key': KEY_A });
    expect(byHeader.acked).toBe(true);
    byHeader.socket.close();

    const client = createClient({ url: wsUrl(app), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { apiKey: KEY_B } });
    expect(await runOperation(client, QUERY)).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    await client.dispose();
  });

  it('counts refusals and never writes a key into the logs', async () => {
    expect(await metric(app, 'tickql_requests_refused_total{reason="unauthenticated",transport="http"}')).toBeGreaterThanOrEqual(7);
    expect(await metric(app, 'tickql_requests_refused_total{reason="unauthenticated",transport="websocket"}')).toBeGreaterThanOrEqual(5);
    expect(logged.length).toBeGreaterThan(0); // the logger did run (start-up lines at least)
    expect(logged.join('\n')).not.toContain(KEY_A.slice(6));
    expect(logged.join('\n')).not.toContain(KEY_B.slice(6));
  });
});

describe('defaults', () => {
  it('put no per-address limit on one busy client: 200 queries at once and 205 WebSocket connections from one address', async () => {
    const app = await startApp({});
    const replies = await Promise.all(Array.from({ length: 200 }, () => postGraphql(app.url(), QUERY, { from: '127.0.0.30' })));
    expect(replies.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const sockets: Array<WebSocket | null> = [];
    try {
      for (let i = 0; i < 205; i++) {
        const opened = await upgrade(wsUrl(app), '127.0.0.30');
        expect(opened.status).toBe(101);
        sockets.push(opened.socket);
      }
      const stream = await openEventStream(app.url(), SUBSCRIPTION, { from: '127.0.0.30' });
      expect(stream.status).toBe(200);
      stream.close();
    } finally {
      for (const socket of sockets) socket?.close();
    }
    expect(await metric(app, 'tickql_requests_refused_total{reason="rate_limited",transport="http"}')).toBe(0);
    expect(await metric(app, 'tickql_requests_refused_total{reason="connection_cap",transport="websocket"}')).toBe(0);
  });
});

describe('per-address query budget', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_QUERIES: '5', RATE_LIMIT_QUERIES_BURST: '0' });
  });

  it('answers 429 with Retry-After and RATE_LIMITED past the budget, while another address is served', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => postGraphql(app.url(), QUERY, { from: '127.0.0.1' })));
    const other = await postGraphql(app.url(), QUERY, { from: '127.0.0.2' });
    // Twenty at once against 5 a second: at most 10 fit, even across a window's end.
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(5);
    for (const reply of refused) {
      expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const body = reply.json();
      expect(body.data).toBeUndefined();
      expect(body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: Number(reply.headers['retry-after']) });
    }
    expect(other.status).toBe(200);
    expect(other.json()).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    expect(await metric(app, 'tickql_requests_refused_total{reason="rate_limited",transport="http"}')).toBe(refused.length);
  });

  it('refuses WebSocket queries over the budget with an error for the operation, and keeps the connection', async () => {
    const client = createClient({ url: wsUrl(app), webSocketImpl: webSocketFrom('127.0.0.3'), retryAttempts: 0 });
    let closed = false;
    client.on('closed', () => (closed = true));
    const results = await Promise.all(Array.from({ length: 20 }, () => runOperation(client, QUERY)));
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(refused[0]!.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
    await sleep(1100); // the next one-second window
    expect(await runOperation(client, QUERY)).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    expect(closed).toBe(false);
    await client.dispose();
  });

  it('charges WebSocket upgrades to the query budget, refusing them with 429 before accepting', async () => {
    const upgrades = await Promise.all(Array.from({ length: 20 }, () => upgrade(wsUrl(app), '127.0.0.12')));
    const refused = upgrades.filter((u) => u.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(refused[0]!.body).errors[0].extensions.code).toBe('RATE_LIMITED');
    for (const u of upgrades) u.socket?.close();
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY is set, and then counts the address the proxy appended', async () => {
    const spoofed = await Promise.all(Array.from({ length: 20 }, (_, i) => postGraphql(app.url(), QUERY, { from: '127.0.0.13', headers: { 'x-forwarded-for': `10.9.0.${i}` } })));
    expect(spoofed.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(10);

    const proxied = await startApp({ TRUST_PROXY: '1', RATE_LIMIT_QUERIES: '5', RATE_LIMIT_QUERIES_BURST: '0' });
    // The client wrote a different first entry each time; the proxy appended 203.0.113.7.
    const one = await Promise.all(Array.from({ length: 20 }, (_, i) => postGraphql(proxied.url(), QUERY, { from: '127.0.0.14', headers: { 'x-forwarded-for': `10.9.0.${i}, 203.0.113.7` } })));
    expect(one.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(10);
    const another = await postGraphql(proxied.url(), QUERY, { from: '127.0.0.14', headers: { 'x-forwarded-for': '203.0.113.8' } });
    expect(another.status).toBe(200);
  });

  it('counts the first address that is not a listed proxy when TRUST_PROXY lists them, and ignores spoofed entries', async () => {
    const proxied = await startApp({ TRUST_PROXY: 'loopback, 10.0.0.0/8', RATE_LIMIT_QUERIES: '5', RATE_LIMIT_QUERIES_BURST: '0' });
    // Behind a loopback proxy and an internal one: the client is 203.0.113.9 whatever it wrote first.
    const spoofed = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postGraphql(proxied.url(), QUERY, { from: '127.0.0.15', headers: { 'x-forwarded-for': `10.9.0.${i}, 198.51.100.${i}, 203.0.113.9, 10.0.0.2` } })),
    );
    expect(spoofed.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(10);
    // A malformed entry where the client's address should be counts as the proxy itself (127.0.0.16), not as a new address each time.
    const malformed = await Promise.all(Array.from({ length: 20 }, (_, i) => postGraphql(proxied.url(), QUERY, { from: '127.0.0.16', headers: { 'x-forwarded-for': `203.0.113.${i}:80` } })));
    expect(malformed.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(10);
    expect((await postGraphql(proxied.url(), QUERY, { from: '127.0.0.16', headers: { 'x-forwarded-for': '203.0.113.10' } })).status).toBe(200);
  });

  it('lets an address go over the rate by the burst allowance', async () => {
    const bursty = await startApp({ RATE_LIMIT_QUERIES: '1', RATE_LIMIT_QUERIES_BURST: '5' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await postGraphql(bursty.url(), QUERY, { from: '127.0.0.4' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    const more = await Promise.all(Array.from({ length: 10 }, () => postGraphql(bursty.url(), QUERY, { from: '127.0.0.4' })));
    expect(more.some((r: Reply) => r.status === 429)).toBe(true);
  });
});

describe('per-address subscription budget', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_SUBSCRIPTIONS: '2', RATE_LIMIT_SUBSCRIPTIONS_BURST: '0' });
  });

  it('refuses new WebSocket subscriptions past the budget with RATE_LIMITED, keeping the connection and the others', async () => {
    const client = createClient({ url: wsUrl(app), webSocketImpl: webSocketFrom('127.0.0.5'), retryAttempts: 0 });
    let closed = false;
    client.on('closed', () => (closed = true));
    const outcomes = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<string>((resolve) => {
            client.subscribe({ query: SUBSCRIPTION }, { next: () => {}, error: (e) => resolve((e as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code ?? 'other'), complete: () => {} });
            setTimeout(() => resolve('open'), 1000);
          }),
      ),
    );
    expect(outcomes.filter((o) => o === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(6);
    expect(outcomes.filter((o) => o === 'open').length).toBeGreaterThanOrEqual(2);
    expect(closed).toBe(false);
    // Queries have their own budget.
    expect(await runOperation(client, QUERY)).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    await client.dispose();
  });

  it('refuses SSE subscriptions past the budget with 429, Retry-After and RATE_LIMITED, while another address subscribes', async () => {
    const streams = await Promise.all(Array.from({ length: 10 }, () => openEventStream(app.url(), SUBSCRIPTION, { from: '127.0.0.6' })));
    const other = await openEventStream(app.url(), SUBSCRIPTION, { from: '127.0.0.7' });
    const refused = streams.filter((s) => s.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(streams.filter((s) => s.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(Number(refused[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await expect.poll(() => refused[0]!.text()).toContain('RATE_LIMITED');
    expect(other.status).toBe(200);
    for (const s of [...streams, other]) s.close();
  });
});

describe('connection caps', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ MAX_CONNECTIONS_PER_ADDRESS: '2', MAX_CONNECTIONS: '3' });
  });

  it('refuses a WebSocket upgrade past the per-address cap with 429 and past the total with 503', async () => {
    const first = await upgrade(wsUrl(app), '127.0.0.8');
    const second = await upgrade(wsUrl(app), '127.0.0.8');
    expect([first.status, second.status]).toEqual([101, 101]);

    const third = await upgrade(wsUrl(app), '127.0.0.8');
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body).errors[0].extensions.code).toBe('CONNECTION_LIMIT');
    // An SSE stream counts as a connection too.
    const stream = await openEventStream(app.url(), SUBSCRIPTION, { from: '127.0.0.8' });
    expect(stream.status).toBe(429);
    stream.close();

    const elsewhere = await upgrade(wsUrl(app), '127.0.0.9');
    expect(elsewhere.status).toBe(101);
    const full = await upgrade(wsUrl(app), '127.0.0.10');
    expect(full.status).toBe(503);
    expect(JSON.parse(full.body).errors[0].extensions.code).toBe('CONNECTION_LIMIT');

    // A closed connection frees its place.
    first.socket!.close();
    await expect.poll(async () => (await upgrade(wsUrl(app), '127.0.0.10')).status).toBe(101);
    expect(await metric(app, 'tickql_requests_refused_total{reason="connection_cap",transport="websocket"}')).toBeGreaterThanOrEqual(2);
    expect(await metric(app, 'tickql_requests_refused_total{reason="connection_cap",transport="http"}')).toBe(1);
  });

  it('counts SSE streams against the caps until they close', async () => {
    const capped = await startApp({ MAX_CONNECTIONS_PER_ADDRESS: '1' });
    const stream = await openEventStream(capped.url(), SUBSCRIPTION, { from: '127.0.0.11' });
    expect(stream.status).toBe(200);
    expect((await upgrade(wsUrl(capped), '127.0.0.11')).status).toBe(429);
    expect((await openEventStream(capped.url(), SUBSCRIPTION, { from: '127.0.0.11' })).status).toBe(429);
    stream.close();
    await expect.poll(async () => {
      const again = await openEventStream(capped.url(), SUBSCRIPTION, { from: '127.0.0.11' });
      again.close();
      return again.status;
    }).toBe(200);
  });
});

describe('raw HTTP connections', () => {
  /** A TCP connection to the app's port; resolves once connected. */
  function connect(app: App): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port: Number(new URL(app.url()).port) });
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('error', () => {});
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      socket.once('connect', () => resolve({ socket, received: () => received, closed }));
      socket.once('error', reject);
    });
  }

  it('answers 408 and closes a connection whose headers do not arrive within HTTP_HEADERS_TIMEOUT_MS', async () => {
    const app = await startApp({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '600000' });
    const slow = await connect(app);
    slow.socket.write('POST /graphql HTTP/1.1\r\nHost: tickql\r\n'); // and never the rest
    await slow.closed; // the test's own timeout is the bound
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers 408 and closes a connection whose body does not arrive within HTTP_REQUEST_TIMEOUT_MS', async () => {
    const app = await startApp({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' });
    const slow = await connect(app);
    slow.socket.write('POST /graphql HTTP/1.1\r\nHost: tickql\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query":');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('leaves SSE streams and WebSockets open past HTTP_REQUEST_TIMEOUT_MS: it bounds receiving the request only', async () => {
    const app = await startApp({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '1000' });
    const stream = await openEventStream(app.url(), SUBSCRIPTION);
    const client = createClient({ url: wsUrl(app), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    let closed = false;
    client.on('closed', () => (closed = true));
    await new Promise<void>((resolve) => client.on('connected', () => resolve()));
    await sleep(3000); // the timeouts are checked every second
    expect(await runOperation(client, QUERY)).toEqual({ data: { market: { id: 'binance:BTC/USDT' } } });
    expect(closed).toBe(false);
    await upsertMarkets(t.redis, t.keys, [makeMarket({ price: 1 })]);
    await expect.poll(() => stream.text()).toContain('binance:BTC/USDT');
    stream.close();
    await client.dispose();
  });

  it('drops TCP connections past HTTP_MAX_SOCKETS, and serves again when one closes', async () => {
    const app = await startApp({ HTTP_MAX_SOCKETS: '2' });
    const held = [await connect(app), await connect(app)];
    const third = await connect(app);
    await third.closed;
    expect(third.received()).toBe('');
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await expect.poll(async () => (await postGraphql(app.url(), QUERY).catch(() => ({ status: 0 }))).status).toBe(200);
    held[1]!.socket.destroy();
  });
});
