/**
 * HTTP as browsers and proxies expect it, on the real app over real sockets: compressed
 * responses for clients that accept them (and never SSE streams), and CORS for pages on
 * other origins: any by default or those of CORS_ORIGINS, never with credentials.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { buildSchema } from '../../src/schema';
import { makeMarket } from '../support/market-factory';
import { openEventStream } from '../support/from-address';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';

let t: TestRedis;
const apps: App[] = [];

async function startApp(env: Record<string, string> = {}): Promise<App> {
  const app = await buildApp(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix, LOG_LEVEL: 'silent', FEEDS: '', ...env }),
    silentLogger(),
    { url: t.url, privateServer: null },
  );
  await app.start();
  apps.push(app);
  return app;
}

interface RawReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as it crossed the wire, not decoded. */
  readonly body: Buffer;
}

/** One request; the body is returned as received, compressed or not. */
function exchange(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function postQuery(url: string, query: string, headers: Record<string, string> = {}): Promise<RawReply> {
  return exchange(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
}

const decode: Record<string, (b: Buffer) => Buffer> = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync };

const FIELDS = Object.keys((buildSchema().getType('Market') as GraphQLObjectType).getFields()).join(' ');
const PAGE = `{ markets(page: { limit: 500 }) { total items { ${FIELDS} } } }`;
const TINY = '{ __typename }';

beforeAll(async () => {
  t = await openTestRedis();
  await upsertMarkets(
    t.redis,
    t.keys,
    Array.from({ length: 520 }, (_, i) => makeMarket({ base: `C${i}`, price: 1 + i / 7, quoteVolume24h: 1000 + i * 13.37, changePercent24h: (i % 41) / 3 - 5 })),
  );
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await deletePrefix(t.redis, t.prefix);
  await t.close();
});

describe('compression', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp();
  });

  it('compresses a 500-market page for a client that accepts gzip, and it decodes to the same JSON', async () => {
    const plain = await postQuery(app.url(), PAGE);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const page = JSON.parse(plain.body.toString());
    expect(page.data.markets.items).toHaveLength(500);

    const gzipped = await postQuery(app.url(), PAGE, { 'accept-encoding': 'gzip' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers['content-type']).toContain('application/json');
    expect(Number(gzipped.headers['content-length'])).toBe(gzipped.body.length);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 3);
    expect(JSON.parse(gunzipSync(gzipped.body).toString())).toEqual(page);
  });

  it('says the response varies by Accept-Encoding, compressed or not', async () => {
    for (const headers of [{}, { 'accept-encoding': 'gzip' }] as Array<Record<string, string>>) {
      expect(String((await postQuery(app.url(), PAGE, headers)).headers.vary)).toMatch(/accept-encoding/i);
    }
  });

  it("sends brotli to a browser's Accept-Encoding, and honours q-values and refusals", async () => {
    const page = JSON.parse((await postQuery(app.url(), PAGE)).body.toString());
    for (const [accept, expected] of [
      ['gzip, deflate, br, zstd', 'br'],
      ['gzip;q=1.0, br;q=0.5', 'gzip'],
      ['deflate', 'deflate'],
      ['br;q=0, *', 'gzip'],
      ['identity', undefined],
      ['gzip;q=0', undefined],
      ['compress, x-unknown', undefined],
    ] as const) {
      const reply = await postQuery(app.url(), PAGE, { 'accept-encoding': accept });
      expect({ accept, encoding: reply.headers['content-encoding'] }).toEqual({ accept, encoding: expected });
      const body = expected === undefined ? reply.body : decode[expected]!(reply.body);
      expect(JSON.parse(body.toString())).toEqual(page);
    }
  });

  it('leaves a tiny response uncompressed', async () => {
    const reply = await postQuery(app.url(), TINY, { 'accept-encoding': 'gzip, br' });
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(reply.body.toString())).toEqual({ data: { __typename: 'Query' } });
  });

  it('compresses GET queries and the GraphiQL page too', async () => {
    const get = await exchange(`${app.url()}?query=${encodeURIComponent(PAGE)}`, { headers: { accept: 'application/json', 'accept-encoding': 'gzip' } });
    expect(get.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(get.body).toString()).data.markets.items).toHaveLength(500);
    const graphiql = await exchange(app.url(), { headers: { accept: 'text/html', 'accept-encoding': 'br' } });
    expect(graphiql.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(graphiql.body).toString().toLowerCase()).toContain('graphiql');
  });

  it('never compresses an SSE stream: each event arrives as soon as it is sent', async () => {
    const stream = await openEventStream(app.url(), 'subscription { priceUpdated(ids: ["binance:C1/USDT"]) { id price } }', { headers: { 'accept-encoding': 'gzip, br' } });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toContain('text/event-stream');
      // yoga marks the stream `Content-Encoding: none` for proxies; this process must not compress it either.
      expect([undefined, 'none']).toContain(stream.headers['content-encoding']);
      // The response head can arrive before the subscription reaches Redis: write (and so
      // publish) again until an event arrives.
      await expect
        .poll(
          async () => {
            await upsertMarkets(t.redis, t.keys, [makeMarket({ base: 'C1', price: 4242 })]);
            return stream.text();
          },
          { timeout: 5000 },
        )
        .toContain('4242');
    } finally {
      stream.close();
    }
  });

  it('compresses nothing with HTTP_COMPRESSION_MIN_BYTES=0, and only above the threshold otherwise', async () => {
    const off = await startApp({ HTTP_COMPRESSION_MIN_BYTES: '0' });
    expect((await postQuery(off.url(), PAGE, { 'accept-encoding': 'gzip' })).headers['content-encoding']).toBeUndefined();
    const tiny = await startApp({ HTTP_COMPRESSION_MIN_BYTES: '10' });
    expect((await postQuery(tiny.url(), TINY, { 'accept-encoding': 'gzip' })).headers['content-encoding']).toBe('gzip');
  });
});

describe('CORS', () => {
  /** A browser's preflight before a cross-origin POST with a JSON body and an API key. */
  const preflight = (app: App, origin: string) =>
    exchange(app.url(), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-api-key' } });
  const corsHeaders = (reply: RawReply) => Object.fromEntries(Object.entries(reply.headers).filter(([name]) => name.startsWith('access-control-')));

  it('by default lets a page on any origin call the API, without credentials', async () => {
    const app = await startApp();
    const origin = 'https://dashboard.example';
    const before = await preflight(app, origin);
    expect(before.status).toBe(204);
    expect(before.headers['access-control-allow-origin']).toBe(origin);
    expect(String(before.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(before.headers['access-control-allow-headers']).toLowerCase()).toContain('x-api-key');
    expect(before.headers['access-control-allow-credentials']).toBeUndefined();
    expect(before.headers['access-control-max-age']).toBe('600');

    const simple = await postQuery(app.url(), TINY, { origin });
    expect(simple.status).toBe(200);
    expect(simple.headers['access-control-allow-origin']).toBe(origin);
    expect(simple.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(simple.headers.vary)).toMatch(/\borigin\b/i);
    // Without an Origin (not a browser, or same origin): no CORS headers, but still Vary: Origin for caches.
    const direct = await postQuery(app.url(), TINY);
    expect(corsHeaders(direct)).toEqual({});
    expect(String(direct.headers.vary)).toMatch(/\borigin\b/i);
  });

  it('with CORS_ORIGINS gives CORS headers to those origins only', async () => {
    const app = await startApp({ CORS_ORIGINS: 'https://app.example.com,http://localhost:3000' });
    for (const origin of ['https://app.example.com', 'http://localhost:3000']) {
      const before = await preflight(app, origin);
      expect(before.status).toBe(204);
      expect(before.headers['access-control-allow-origin']).toBe(origin);
      expect(String(before.headers['access-control-allow-headers']).toLowerCase()).toContain('x-api-key');
      expect(before.headers['access-control-allow-credentials']).toBeUndefined();
      const simple = await postQuery(app.url(), TINY, { origin });
      expect(simple.headers['access-control-allow-origin']).toBe(origin);
      expect(simple.headers['access-control-allow-credentials']).toBeUndefined();
    }
    for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example', 'http://app.example.com', 'http://localhost:3001']) {
      const before = await preflight(app, origin);
      expect({ origin, headers: corsHeaders(before) }).toEqual({ origin, headers: {} });
      const simple = await postQuery(app.url(), TINY, { origin });
      // The browser, not the server, withholds the answer from the page: without the headers it does.
      expect({ origin, headers: corsHeaders(simple) }).toEqual({ origin, headers: {} });
      expect(String(simple.headers.vary)).toMatch(/\borigin\b/i);
    }
  });

  it('puts CORS headers on refusals too, so a page can read why (401 with API keys)', async () => {
    const app = await startApp({ CORS_ORIGINS: 'https://app.example.com', API_KEYS: 'key-a-0123456789abcdef' });
    const refused = await postQuery(app.url(), TINY, { origin: 'https://app.example.com' });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(refused.headers['access-control-allow-credentials']).toBeUndefined();
  });
});
