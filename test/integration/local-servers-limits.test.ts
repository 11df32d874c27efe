/**
 * Every limit the local exchanges enforce, at the real exchange's value unless a test shortens
 * it: staying at the limit is served and records nothing; one more gets what the exchange does
 * (a refusal, an error frame or a close) and is recorded in `breaches`. Plain `ws` clients.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BinanceSim, type BinanceSimOptions } from '../../src/ingest/sim/binance-sim';
import type { Breach, LimitName, LocalClient, LocalExchangeServer } from '../../src/ingest/sim/local-exchange-server';
import { BybitServer, type BybitServerOptions } from '../support/exchanges/bybit-server';
import { CoinbaseServer, type CoinbaseServerOptions } from '../support/exchanges/coinbase-server';
import { KrakenServer, type KrakenServerOptions } from '../support/exchanges/kraken-server';
import { OkxServer, type OkxServerOptions } from '../support/exchanges/okx-server';
import { closeRawClients, connectRaw, upgradeStatus } from '../support/exchanges/raw-client';
import { sleep } from '../support/wait-for';

type Server = LocalExchangeServer<LocalClient> & { readonly wsUrl: string };

const servers: Server[] = [];
afterEach(async () => {
  closeRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve<S extends Server>(starting: Promise<S>): Promise<S> {
  const server = await starting;
  servers.push(server);
  return server;
}

const binance = (options: BinanceSimOptions = {}) => serve(BinanceSim.start({ tickMs: 0, pingIntervalMs: 0, ...options }));
const coinbase = (options: CoinbaseServerOptions = {}) => serve(CoinbaseServer.start({ heartbeatIntervalMs: 0, ...options }));
const kraken = (options: KrakenServerOptions = {}) => serve(KrakenServer.start({ heartbeatMs: 0, ...options }));
const okx = (options: OkxServerOptions = {}) => serve(OkxServer.start(options));
const bybit = (options: BybitServerOptions = {}) => serve(BybitServer.start({ bookResendMs: 0, ...options }));

/** The one breach a test expects. */
const breach = (limit: LimitName, detail: string): Breach => ({ limit, detail: expect.stringContaining(detail) as unknown as string, at: expect.any(Number) as unknown as number });

describe('connection attempts per IP', () => {
  it.each([
    ['Binance', 300, 300_000, binance],
    ['Coinbase', 8, 1000, coinbase],
    ['Kraken', 150, 600_000, kraken],
    ['OKX', 3, 1000, okx],
    ['Bybit', 500, 300_000, bybit],
  ] as const)('%s accepts %i attempts within %i ms from one IP, refuses the next with 429 and records it; other IPs are not affected', async (_name, max, windowMs, start) => {
    const server: Server = await start();
    for (let i = 0; i < max; i++) expect((await upgradeStatus(server.wsUrl)).status).toBe(101);
    expect(server.breaches).toEqual([]);

    expect((await upgradeStatus(server.wsUrl)).status).toBe(429);
    expect(server.breaches).toEqual([breach('connection attempts per IP', `${max + 1} upgrade attempts from 127.0.0.1 within ${windowMs} ms; at most ${max}`)]);
    expect((await upgradeStatus(server.wsUrl, { from: '127.0.0.2' })).status).toBe(101);
  });

  it('Binance sends Retry-After with its 429, and a shortened window lets the IP in again once it has passed', async () => {
    const server = await binance({ connectionLimit: { max: 2, windowMs: 300 } });
    expect((await upgradeStatus(server.wsUrl)).status).toBe(101);
    expect((await upgradeStatus(server.wsUrl)).status).toBe(101);
    expect(await upgradeStatus(server.wsUrl)).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    await sleep(350);
    expect((await upgradeStatus(server.wsUrl)).status).toBe(101);
    expect(server.breaches).toHaveLength(1);
    expect(server.stats).toMatchObject({ upgrades: 4, refusedUpgrades: 1 });
  });

  it('refused attempts count too, so an IP that keeps trying stays refused', async () => {
    // Each retry comes within the window of the one before, though long after the accepted one.
    const server = await okx({ connectionLimit: { max: 1, windowMs: 400 } });
    expect((await upgradeStatus(server.wsUrl)).status).toBe(101);
    for (let i = 0; i < 5; i++) {
      await sleep(150);
      expect((await upgradeStatus(server.wsUrl)).status).toBe(429);
    }
    expect(server.breaches).toHaveLength(5);
  });
});

describe('inbound message rates', () => {
  it('Binance: 5 frames a second on a connection are answered; the 6th closes it with 1008', async () => {
    const server = await binance({ listing: 10 });
    const client = await connectRaw(server.wsUrl);
    for (let id = 1; id <= 5; id++) client.send({ method: 'LIST_SUBSCRIPTIONS', id });
    await client.until((frames) => frames.length === 5, 'five replies');
    expect(server.breaches).toEqual([]);

    client.send({ method: 'LIST_SUBSCRIPTIONS', id: 6 });
    expect((await client.closed).code).toBe(1008);
    expect(server.breaches).toEqual([breach('messages per second', '6 frames within 1000 ms on one connection; at most 5')]);
  });

  it('Coinbase: 8 messages a second from one IP over all its connections are served; the 9th gets an error and a 1008 close, other IPs carry on', async () => {
    const server = await coinbase({ listing: 10 });
    const [one, two, other] = await Promise.all([connectRaw(server.wsUrl), connectRaw(server.wsUrl), connectRaw(server.wsUrl, { from: '127.0.0.2' })]);
    const heartbeats = { type: 'subscribe', channel: 'heartbeats' };
    for (let i = 0; i < 4; i++) {
      one.send(heartbeats);
      two.send(heartbeats);
    }
    await one.until((frames) => frames.length === 4, 'four acks on the first connection');
    await two.until((frames) => frames.length === 4, 'four acks on the second connection');
    expect(server.breaches).toEqual([]);

    two.send(heartbeats);
    expect(await two.closed).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(two.json().at(-1)).toEqual({ type: 'error', message: 'rate limit exceeded' });
    expect(server.breaches).toEqual([breach('messages per second', '9 messages from 127.0.0.1 within 1000 ms, all its connections together; at most 8')]);
    other.send(heartbeats);
    await other.until((frames) => frames.length === 1, 'the other IP’s ack');
    expect(one.ws.readyState).toBe(one.ws.OPEN);
  });

  it('Kraken: 10 requests a second on a connection are answered; the 11th gets "Exceeded msg rate" and the connection stays', async () => {
    const server = await kraken({ listing: 10 });
    const client = await connectRaw(server.wsUrl);
    for (let id = 1; id <= 10; id++) client.send({ method: 'ping', req_id: id });
    await client.until((frames) => frames.filter((f: any) => f?.method === 'pong').length === 10, 'ten pongs');
    expect(server.breaches).toEqual([]);

    client.send({ method: 'ping', req_id: 11 });
    const frames = await client.until((fs) => fs.some((f: any) => f?.error === 'Exceeded msg rate'), 'the rate error');
    expect(frames.at(-1)).toMatchObject({ error: 'Exceeded msg rate', method: 'ping', success: false });
    expect(server.breaches).toEqual([breach('messages per second', '11 requests within 1000 ms on one connection; at most 10')]);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});

describe('subscriptions per connection', () => {
  it('Binance: 1024 streams on a connection are acked; one more is refused with code 2 and changes nothing', async () => {
    const server = await binance({ listing: 1100 });
    const streams = server.listing.map((m) => `${m.symbol.toLowerCase()}@ticker`);
    const client = await connectRaw(server.wsUrl);
    client.send({ method: 'SUBSCRIBE', params: streams.slice(0, 1024), id: 1 });
    await client.until((frames) => frames.length === 1, 'the ack');
    expect(client.json()[0]).toEqual({ result: null, id: 1 });
    expect(server.breaches).toEqual([]);

    client.send({ method: 'SUBSCRIBE', params: [streams[1024]], id: 2 });
    await client.until((frames) => frames.length === 2, 'the refusal');
    expect(client.json()[1]).toMatchObject({ code: 2, id: 2 });
    expect(server.subscribers(server.listing[1024]!.symbol)).toBe(0);
    expect(server.breaches).toEqual([breach('streams per connection', 'SUBSCRIBE to 1 more streams on a connection with 1024; at most 1024')]);
  });

  it('Binance: streams named in the URL beyond the limit are left out and recorded', async () => {
    const server = await binance({ listing: 10, maxStreamsPerConnection: 3 });
    const streams = server.listing.slice(0, 4).map((m) => `${m.symbol.toLowerCase()}@ticker`);
    await connectRaw(`${server.wsUrl}?streams=${streams.slice(0, 3).join('/')}`);
    expect(server.breaches).toEqual([]);
    await connectRaw(`${server.wsUrl}?streams=${streams.join('/')}`);
    expect(server.subscribers(server.listing[3]!.symbol)).toBe(0);
    expect(server.subscribers(server.listing[2]!.symbol)).toBe(2);
    expect(server.breaches).toEqual([breach('streams per connection', '4 streams in the URL; at most 3 per connection')]);
  });

  it('Bybit: 10 args in a request are subscribed; 11 are rejected whole', async () => {
    const server = await bybit({ listing: 30 });
    const topics = server.listing.map((m) => `tickers.${m.symbol}`);
    const client = await connectRaw(server.wsUrl);
    client.send({ op: 'subscribe', args: topics.slice(0, 10), req_id: '1' });
    await client.until((frames) => frames.some((f: any) => f?.req_id === '1'), 'the reply');
    expect(client.json().find((f: any) => f?.req_id === '1')).toMatchObject({ success: true });
    expect(server.breaches).toEqual([]);

    client.send({ op: 'subscribe', args: topics.slice(10, 21), req_id: '2' });
    await client.until((frames) => frames.some((f: any) => f?.req_id === '2'), 'the rejection');
    expect(client.json().find((f: any) => f?.req_id === '2')).toMatchObject({ success: false, ret_msg: 'args size >10' });
    expect(server.subscribers(topics[10]!)).toBe(0);
    expect(server.breaches).toEqual([breach('args per request', 'subscribe with 11 args on connection 1; at most 10')]);
  });

  it('Bybit: topics up to 21,000 characters on a connection are subscribed; the request that would pass it is rejected', async () => {
    const server = await bybit({ listing: 3000 });
    const topics = server.listing.map((m) => `tickers.${m.symbol}`);
    const client = await connectRaw(server.wsUrl);
    let chars = 0;
    let requests = 0;
    let next = 0;
    for (;;) {
      const batch = topics.slice(next, next + 10);
      const size = batch.reduce((sum, t) => sum + t.length, 0);
      if (chars + size > 21_000) break;
      client.send({ op: 'subscribe', args: batch });
      chars += size;
      requests++;
      next += 10;
    }
    await client.until((frames) => frames.filter((f: any) => f?.op === 'subscribe').length === requests, 'every reply');
    expect(client.json().filter((f: any) => f?.op === 'subscribe' && f.success !== true)).toEqual([]);
    expect(server.breaches).toEqual([]);

    client.send({ op: 'subscribe', args: topics.slice(next, next + 10), req_id: 'over' });
    await client.until((frames) => frames.some((f: any) => f?.req_id === 'over'), 'the rejection');
    expect(client.json().find((f: any) => f?.req_id === 'over')).toMatchObject({ success: false, ret_msg: 'args length exceeds 21000 characters per connection' });
    expect(server.breaches).toEqual([breach('args characters per connection', 'characters of args on connection 1; at most 21000')]);
  });

  it('OKX: args up to 64 KB in a request are acked; a request with more closes the connection with 1009', async () => {
    const server = await okx({ listing: 3000 });
    const args = server.listing.map((m) => ({ channel: 'tickers', instId: m.symbol }));
    let fits = 0;
    while (Buffer.byteLength(JSON.stringify(args.slice(0, fits + 1))) <= 65_536) fits++;
    const client = await connectRaw(server.wsUrl);
    client.send({ op: 'subscribe', args: args.slice(0, fits) });
    await client.until((frames) => frames.filter((f: any) => f?.event === 'subscribe').length === fits, 'an ack per arg', 10_000);
    expect(server.breaches).toEqual([]);

    const over = await connectRaw(server.wsUrl);
    over.send({ op: 'subscribe', args: args.slice(0, fits + 1) });
    expect((await over.closed).code).toBe(1009);
    expect(server.breaches).toEqual([breach('args bytes per request', `args of ${Buffer.byteLength(JSON.stringify(args.slice(0, fits + 1)))} bytes in one request`)]);
  });

  it('OKX: 480 subscribe requests an hour on a connection are acked; the 481st gets 60014 and changes nothing', async () => {
    const server = await okx({ listing: 10 });
    const [first, second] = server.listing.map((m) => m.symbol) as [string, string];
    const client = await connectRaw(server.wsUrl);
    for (let i = 0; i < 480; i++) client.send({ op: i % 2 === 0 ? 'subscribe' : 'unsubscribe', args: [{ channel: 'tickers', instId: first }] });
    await client.until((frames) => frames.length === 480, '480 acks', 10_000);
    expect(client.json().every((f: any) => f?.event === 'subscribe' || f?.event === 'unsubscribe')).toBe(true);
    expect(server.breaches).toEqual([]);

    client.send({ op: 'subscribe', args: [{ channel: 'tickers', instId: second }] });
    await client.until((frames) => frames.length === 481, 'the refusal');
    expect(client.json()[480]).toMatchObject({ event: 'error', code: '60014', msg: 'Requests too frequent' });
    expect(server.subscribers(second)).toBe(0);
    expect(server.breaches).toEqual([breach('subscribe operations per hour', '481 subscribe/unsubscribe requests within 3600000 ms')]);
  });

  it('OKX: with a shortened window the operations are allowed again once it has passed', async () => {
    const server = await okx({ listing: 10, subscribeOpsLimit: { max: 2, windowMs: 300 } });
    const instId = server.listing[0]!.symbol;
    const client = await connectRaw(server.wsUrl);
    const subscribe = () => client.send({ op: 'subscribe', args: [{ channel: 'tickers', instId }] });
    subscribe();
    subscribe();
    subscribe();
    await client.until((frames) => frames.length === 3, 'two acks and a refusal');
    expect(client.json().map((f: any) => f.event)).toEqual(['subscribe', 'subscribe', 'error']);
    await sleep(350);
    subscribe();
    await client.until((frames) => frames.length === 4, 'an ack');
    expect((client.json()[3] as { event: string }).event).toBe('subscribe');
    expect(server.breaches).toHaveLength(1);
  });
});
