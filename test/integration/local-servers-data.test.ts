/**
 * The local exchanges' market data, seen by plain `ws` clients speaking each exchange's
 * protocol: the current ticker of every market right after subscribing, what a subscription to
 * a market that does not trade gets, and the ticking generator's updates. Nothing of the
 * product's own clients is involved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import type { LocalClient, LocalExchangeServer } from '../../src/ingest/sim/local-exchange-server';
import { BybitServer } from '../support/exchanges/bybit-server';
import { CoinbaseServer } from '../support/exchanges/coinbase-server';
import { KrakenServer } from '../support/exchanges/kraken-server';
import { OkxServer } from '../support/exchanges/okx-server';
import { closeRawClients, connectRaw, type RawClient } from '../support/exchanges/raw-client';
import { sleep } from '../support/wait-for';

type Server = LocalExchangeServer<LocalClient> & { readonly wsUrl: string };

/** The prices of one ticker frame, read in the exchange's own field names. */
interface Tick {
  readonly symbol: string;
  readonly last: number;
  readonly low: number;
  readonly high: number;
}

interface Exchange {
  readonly name: string;
  /** Started with the market's current ticker sent on every new subscription. */
  start(listing: number): Promise<Server>;
  /** Sends the subscribe requests for `symbols`, within the exchange's per-request limits. */
  subscribe(client: RawClient, symbols: readonly string[]): void;
  /** The ticker a frame carries; null for anything else (acks, greetings, heartbeats). */
  tick(frame: any): Tick | null;
  /**
   * Subscribes to `delisted` (no longer trading) and `trading` and waits for what the exchange
   * answers, checking that it is what the real exchange answers.
   */
  expectRefusal(client: RawClient, delisted: string, trading: string): Promise<void>;
}

const num = (value: unknown): number => Number(value);

const EXCHANGES: readonly Exchange[] = [
  {
    name: 'Binance',
    start: (listing) => BinanceSim.start({ listing, tickMs: 0, pingIntervalMs: 0, snapshotOnSubscribe: true }),
    subscribe: (client, symbols) => client.send({ method: 'SUBSCRIBE', params: symbols.map((s) => `${s.toLowerCase()}@ticker`), id: 1 }),
    tick: (frame) => (frame?.data?.e === '24hrTicker' ? { symbol: frame.data.s, last: num(frame.data.c), low: num(frame.data.l), high: num(frame.data.h) } : null),
    expectRefusal: async (client, delisted, trading) => {
      // Binance acks a stream of a market that does not trade, and never sends data for it.
      client.send({ method: 'SUBSCRIBE', params: [`${delisted.toLowerCase()}@ticker`, `${trading.toLowerCase()}@ticker`], id: 7 });
      await client.until((frames) => frames.some((f: any) => f?.data?.s === trading), 'the trading market’s ticker');
      expect(client.json()[0]).toEqual({ result: null, id: 7 });
      client.send({ method: 'LIST_SUBSCRIPTIONS', id: 8 });
      await client.until((frames) => frames.some((f: any) => f?.id === 8), 'the subscription list');
      expect(client.json().find((f: any) => f?.id === 8)).toEqual({ result: [`${delisted.toLowerCase()}@ticker`, `${trading.toLowerCase()}@ticker`], id: 8 });
    },
  },
  {
    name: 'Coinbase',
    start: (listing) => CoinbaseServer.start({ listing, heartbeatIntervalMs: 0 }),
    subscribe: (client, symbols) => client.send({ type: 'subscribe', product_ids: symbols, channel: 'ticker' }),
    tick: (frame) => {
      const ticker = frame?.channel === 'ticker' ? frame.events?.[0]?.tickers?.[0] : undefined;
      return ticker ? { symbol: ticker.product_id, last: num(ticker.price), low: num(ticker.low_24_h), high: num(ticker.high_24_h) } : null;
    },
    expectRefusal: async (client, delisted, trading) => {
      // Coinbase leaves a product it will not serve out of the subscriptions ack, without an error.
      client.send({ type: 'subscribe', product_ids: [delisted, trading], channel: 'ticker' });
      const frames = await client.until((fs) => fs.some((f: any) => f?.channel === 'subscriptions'), 'the subscriptions ack');
      expect(frames.find((f: any) => f?.channel === 'subscriptions')).toMatchObject({ events: [{ subscriptions: { ticker: [trading] } }] });
    },
  },
  {
    name: 'Kraken',
    start: (listing) => KrakenServer.start({ listing, heartbeatMs: 0 }),
    subscribe: (client, symbols) => client.send({ method: 'subscribe', params: { channel: 'ticker', symbol: symbols } }),
    tick: (frame) => {
      const entry = frame?.channel === 'ticker' ? frame.data?.[0] : undefined;
      return entry ? { symbol: entry.symbol, last: entry.last, low: entry.low, high: entry.high } : null;
    },
    expectRefusal: async (client, delisted, trading) => {
      client.send({ method: 'subscribe', params: { channel: 'ticker', symbol: [delisted, trading] }, req_id: 3 });
      const frames = await client.until((fs) => fs.filter((f: any) => f?.method === 'subscribe').length === 2, 'one reply per symbol');
      expect(frames.filter((f: any) => f?.method === 'subscribe')).toEqual([
        { error: `Currency pair not supported ${delisted}`, method: 'subscribe', success: false, symbol: delisted, time_in: expect.any(String), req_id: 3, time_out: expect.any(String) },
        expect.objectContaining({ method: 'subscribe', success: true, result: expect.objectContaining({ symbol: trading }) }),
      ]);
    },
  },
  {
    name: 'OKX',
    start: (listing) => OkxServer.start({ listing, snapshotOnSubscribe: true }),
    subscribe: (client, symbols) => client.send({ op: 'subscribe', args: symbols.map((instId) => ({ channel: 'tickers', instId })) }),
    tick: (frame) => {
      const ticker = frame?.arg?.channel === 'tickers' ? frame.data?.[0] : undefined;
      return ticker ? { symbol: ticker.instId, last: num(ticker.last), low: num(ticker.low24h), high: num(ticker.high24h) } : null;
    },
    expectRefusal: async (client, delisted, trading) => {
      client.send({ op: 'subscribe', args: [{ channel: 'tickers', instId: delisted }] });
      client.send({ op: 'subscribe', args: [{ channel: 'tickers', instId: trading }] });
      const frames = await client.until((fs) => fs.some((f: any) => f?.event === 'error') && fs.some((f: any) => f?.event === 'subscribe'), 'the error and the ack');
      expect(frames.find((f: any) => f?.event === 'error')).toMatchObject({ event: 'error', code: '60018', msg: expect.stringContaining(`instId:${delisted} doesn't exist`) });
    },
  },
  {
    name: 'Bybit',
    start: (listing) => BybitServer.start({ listing, snapshotOnSubscribe: true, bookResendMs: 0 }),
    subscribe: (client, symbols) => {
      for (let i = 0; i < symbols.length; i += 10) client.send({ op: 'subscribe', args: symbols.slice(i, i + 10).map((s) => `tickers.${s}`) });
    },
    tick: (frame) =>
      typeof frame?.topic === 'string' && frame.topic.startsWith('tickers.')
        ? { symbol: frame.data.symbol, last: num(frame.data.lastPrice), low: num(frame.data.lowPrice24h), high: num(frame.data.highPrice24h) }
        : null,
    expectRefusal: async (client, delisted, trading) => {
      client.send({ op: 'subscribe', args: [`tickers.${delisted}`], req_id: 'a' });
      client.send({ op: 'subscribe', args: [`tickers.${trading}`], req_id: 'b' });
      const frames = await client.until((fs) => fs.filter((f: any) => f?.op === 'subscribe').length === 2, 'both replies');
      expect(frames.filter((f: any) => f?.op === 'subscribe')).toEqual([
        { success: false, ret_msg: `Invalid symbol :[tickers.${delisted}]`, conn_id: expect.any(String), req_id: 'a', op: 'subscribe' },
        { success: true, ret_msg: 'subscribe', conn_id: expect.any(String), req_id: 'b', op: 'subscribe' },
      ]);
    },
  },
];

const servers: Server[] = [];
afterEach(async () => {
  closeRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(exchange: Exchange, listing: number): Promise<Server> {
  const server = await exchange.start(listing);
  servers.push(server);
  return server;
}

function ticks(exchange: Exchange, client: RawClient): Tick[] {
  return client.json().map((frame) => exchange.tick(frame)).filter((t): t is Tick => t !== null);
}

describe.each(EXCHANGES)('$name data', (exchange) => {
  it('sends the current ticker of every one of a thousand subscribed markets right away, once each', async () => {
    const server = await start(exchange, 1000);
    const symbols = server.listing.map((m) => m.symbol);
    const client = await connectRaw(server.wsUrl);
    exchange.subscribe(client, symbols);
    await client.until(() => ticks(exchange, client).length >= 1000, 'a ticker per market', 10_000);
    await sleep(100);
    const received = ticks(exchange, client);
    expect(received.map((t) => t.symbol).sort()).toEqual([...symbols].sort());
    for (const t of received) {
      expect(t.last).toBeGreaterThan(0);
      expect(t.low).toBeLessThanOrEqual(t.last);
      expect(t.last).toBeLessThanOrEqual(t.high);
    }
    expect(server.breaches).toEqual([]);
  });

  it('answers a subscription to a delisted market as the exchange does, and sends it no data', async () => {
    const server = await start(exchange, 20);
    const [delisted, trading] = server.listing.map((m) => m.symbol) as [string, string];
    server.delist(delisted);
    const client = await connectRaw(server.wsUrl);
    await exchange.expectRefusal(client, delisted, trading);
    server.startTicking({ updatesPerSecond: 500 });
    await sleep(300);
    const received = ticks(exchange, client);
    expect(received.filter((t) => t.symbol === delisted)).toEqual([]);
    expect(received.filter((t) => t.symbol === trading).length).toBeGreaterThan(1);
  });

  it('ticks random subscribed markets at about the asked rate, across connections, with moving prices, until stopped', async () => {
    const server = await start(exchange, 200);
    const symbols = server.listing.map((m) => m.symbol);
    const one = await connectRaw(server.wsUrl);
    const two = await connectRaw(server.wsUrl);
    exchange.subscribe(one, symbols.slice(0, 50));
    exchange.subscribe(two, symbols.slice(50, 100));
    await one.until(() => ticks(exchange, one).length === 50, 'the first client’s tickers');
    await two.until(() => ticks(exchange, two).length === 50, 'the second client’s tickers');
    const first = new Map(ticks(exchange, one).map((t) => [t.symbol, t.last]));

    server.startTicking({ updatesPerSecond: 400 });
    await sleep(1000);
    server.stopTicking();
    await sleep(100);
    const updates = [...ticks(exchange, one).slice(50), ...ticks(exchange, two).slice(50)];
    // About 400 in one second; a busy machine's timers only ever make it fewer.
    expect(updates.length).toBe(server.ticks);
    expect(updates.length).toBeGreaterThan(150);
    expect(updates.length).toBeLessThanOrEqual(480);
    expect(new Set(updates.map((t) => t.symbol)).size).toBeGreaterThan(60);
    expect(updates.every((t) => symbols.slice(0, 100).includes(t.symbol))).toBe(true);
    const moved = ticks(exchange, one).slice(50).filter((t) => t.last !== first.get(t.symbol));
    expect(moved.length).toBeGreaterThan(0);
    for (const t of updates) {
      expect(t.low).toBeLessThanOrEqual(t.last);
      expect(t.last).toBeLessThanOrEqual(t.high);
    }

    const frozen = one.frames.length + two.frames.length;
    await sleep(150);
    expect(one.frames.length + two.frames.length).toBe(frozen);
    expect(server.breaches).toEqual([]);
  });
});
