/**
 * The real Bybit adapter and Feed against a local server speaking Bybit v5 spot, over real
 * sockets on 127.0.0.1 (no Redis, no network). Intervals are shortened through options;
 * nothing asserts how fast things are.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createBybitAdapter, type BybitTuning } from '../../src/ingest/exchanges/bybit';
import { BybitServer, type BybitInstrument, type BybitServerOptions } from '../support/exchanges/bybit-server';
import { IngestHarness, type ExchangeFeedSetup } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

const BYBIT = { exchange: 'bybit', create: createBybitAdapter, symbols: ['BTCUSDT', 'ETHBTC'] };

/** Quiet by default: no book re-sends; tests opt in. */
const server = (options: BybitServerOptions = {}) => harness.serve(BybitServer.start({ bookResendMs: 0, ...options }));
const feedOn = (bybit: BybitServer, setup: ExchangeFeedSetup<BybitTuning> = {}) => harness.feedOn(bybit, BYBIT, setup);

const BTC_TICKER = {
  lastPrice: '101.5',
  prevPrice24h: '100',
  highPrice24h: '102',
  lowPrice24h: '99',
  volume24h: '1234.5',
  turnover24h: '125000.25',
  price24hPcnt: '0.015',
};
const BTC_BOOK = { bids: [['101.4', '2.5']], asks: [['101.6', '0.75']] } as const;
const T0 = 1785300000123;

describe('Feed against the local Bybit spot server', () => {
  it('subscribes exactly, goes LIVE, and merges ticker and book into one market', async () => {
    const bybit = await server();
    const t = feedOn(bybit);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(bybit.subscribeRequests).toEqual([
      {
        connection: 1,
        request: { req_id: 'sub-1', op: 'subscribe', args: ['tickers.BTCUSDT', 'orderbook.1.BTCUSDT', 'tickers.ETHBTC', 'orderbook.1.ETHBTC'] },
      },
    ]);

    expect(bybit.push('BTCUSDT', BTC_TICKER, { ts: T0 }).delivered).toBe(1);
    expect(bybit.pushBook('BTCUSDT', BTC_BOOK, { ts: T0 + 2 }).delivered).toBe(1);
    await waitFor(() => t.markets.length === 2, 'ticker, then ticker + book');
    expect(t.markets[0]).toMatchObject({ price: 101.5, bid: null, ask: null, updatedAt: T0 });
    expect(t.markets[1]).toMatchObject({
      id: 'bybit:BTC/USDT',
      exchange: 'bybit',
      symbol: 'BTC/USDT',
      nativeSymbol: 'BTCUSDT',
      base: 'BTC',
      quote: 'USDT',
      price: 101.5,
      bid: 101.4,
      ask: 101.6,
      open24h: 100,
      high24h: 102,
      low24h: 99,
      volume24h: 1234.5,
      quoteVolume24h: 125000.25,
      change24h: 1.5,
      changePercent24h: 1.5,
      updatedAt: T0 + 2,
    });
    expect(t.markets[1]!.spreadPercent).toBeCloseTo((0.2 / 101.5) * 100, 10);

    // A book stamped before the latest ticker is still the newest book: the streams are separate.
    bybit.push('BTCUSDT', { lastPrice: '102' }, { ts: T0 + 10 });
    bybit.pushBook('BTCUSDT', { bids: [['101.9', '1']], asks: [] }, { ts: T0 + 5 });
    await waitFor(() => t.markets.length === 4, 'two more updates');
    expect(t.markets[3]).toMatchObject({ price: 102, bid: 101.9, ask: null, spreadPercent: null, updatedAt: T0 + 10 });

    bybit.push('ETHBTC', { lastPrice: '0.0346' }, { ts: T0 + 20 });
    await waitFor(() => t.markets.length === 5, 'a second market');
    expect(t.markets[4]).toMatchObject({ id: 'bybit:ETH/BTC', base: 'ETH', quote: 'BTC', price: 0.0346 });
    expect(t.health()).toMatchObject({ exchange: 'bybit', status: 'LIVE', markets: 2, reconnects: 0, invalidFrames: 0, errors: 0 });
    expect(bybit.violations).toEqual([]);
  });

  it('takes names from instruments-info, and derives them with a warning when it fails', async () => {
    const bybit = await server();
    const listed = feedOn(bybit, { symbols: ['BTCBRZ'] });
    await waitFor(() => listed.health().status === 'LIVE', 'LIVE');
    bybit.push('BTCBRZ', { lastPrice: '500000' });
    await waitFor(() => listed.markets.length === 1, 'a market');
    expect(listed.markets[0]).toMatchObject({ id: 'bybit:BTC/BRZ', base: 'BTC', quote: 'BRZ' });
    expect(bybit.stats.instrumentsRequests).toBe(1);

    bybit.setRestAvailable(false);
    const derived = feedOn(bybit, { symbols: ['ETHBTC', 'BTCBRZ'] });
    await waitFor(() => derived.health().status === 'LIVE', 'LIVE');
    bybit.push('ETHBTC', { lastPrice: '0.0346' });
    await waitFor(() => derived.markets.length === 2, 'both markets (BTCBRZ from its snapshot on subscribing)');
    expect(derived.markets.map((m) => m.id).sort()).toEqual(['bybit:BTCBRZ/UNKNOWN', 'bybit:ETH/BTC']);
    expect(derived.markets.find((m) => m.nativeSymbol === 'ETHBTC')).toMatchObject({ base: 'ETH', quote: 'BTC' });
    const warning = derived.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning;
    expect(warning).toMatch(/the listing could not be read \(GET .*instruments-info.*: HTTP 503\); base and quote are derived from the symbol text/);
    expect(warning).toMatch(/quote is UNKNOWN: BTCBRZ/);
  });

  it('sends the current snapshots right after subscribing, as Bybit does', async () => {
    const bybit = await server();
    bybit.push('BTCUSDT', BTC_TICKER, { ts: T0 });
    bybit.pushBook('BTCUSDT', BTC_BOOK, { ts: T0 + 1 });
    const t = feedOn(bybit, { symbols: ['BTCUSDT'] });
    await waitFor(() => t.markets.some((m) => m.bid !== null), 'the market with its book');
    expect(t.markets.at(-1)).toMatchObject({ price: 101.5, bid: 101.4, ask: 101.6 });
  });

  it('paces many subscribe requests of at most 10 args each', async () => {
    const instruments: BybitInstrument[] = Array.from({ length: 60 }, (_, i) => ({ symbol: `C${i}USDT`, baseCoin: `C${i}`, quoteCoin: 'USDT' }));
    const bybit = await server({ instruments });
    const symbols = instruments.map((i) => i.symbol);
    const t = feedOn(bybit, { symbols });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE after twelve subscribe requests');
    expect(bybit.subscribeRequests).toHaveLength(12);
    expect(bybit.subscribeRequests.every(({ request }) => Array.isArray(request.args) && request.args.length === 10)).toBe(true);
    expect(bybit.stats.peakInboundPerSecond).toBeLessThanOrEqual(10);
    expect(bybit.stats).toMatchObject({ subscribes: 12, rejectedSubscribes: 0, upgrades: 1 });
    for (const symbol of symbols) expect(bybit.subscribers(`orderbook.1.${symbol}`)).toBe(1);
    expect(bybit.violations).toEqual([]);
  });

  it('keeps a quiet connection past the server’s idle limit with pings, which the server cuts without them', async () => {
    // Pings every 150 ms stay under the pacer's 9 frames per 1.1 s; faster ones would queue.
    const bybit = await server({ idleTimeoutMs: 500 });
    const pinging = feedOn(bybit, { symbols: ['BTCUSDT'], tuning: { pingIntervalMs: 150 } });
    await waitFor(() => pinging.health().status === 'LIVE', 'LIVE');
    await sleep(1500);
    expect(bybit.stats).toMatchObject({ idleCloses: 0, upgrades: 1 });
    expect(bybit.stats.pings).toBeGreaterThanOrEqual(5);
    expect(pinging.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0, invalidFrames: 0 });
    expect(bybit.violations).toEqual([]);
    await pinging.feed.stop();

    const silent = feedOn(bybit, { symbols: ['BTCUSDT'], tuning: { pingIntervalMs: 60_000 } });
    await waitFor(() => silent.health().reconnects >= 1, 'the idle cut and a reconnect');
    expect(bybit.stats.idleCloses).toBeGreaterThanOrEqual(1);
    expect(silent.statuses.slice(0, 3)).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING']);
    expect(silent.health().lastError).toMatch(/closed by the server with code 1000 \(idle timeout\)/);
  });

  it('takes the 3-second book re-sends as life: no pings needed for the watchdog', async () => {
    const bybit = await server({ bookResendMs: 100 });
    bybit.pushBook('BTCUSDT', BTC_BOOK);
    const t = feedOn(bybit, { symbols: ['BTCUSDT'], tuning: { pingIntervalMs: 60_000 }, timing: { silenceTimeoutMs: 400 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    await sleep(1200);
    expect(bybit.stats.upgrades).toBe(1);
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0 });
  });

  it('counts a rejected subscription, names its args in lastError, and keeps the other symbols', async () => {
    const bybit = await server();
    bybit.push('BTCUSDT', BTC_TICKER, { ts: T0 });
    const t = feedOn(bybit, { symbols: ['BTCUSDT', 'NOPEUSDT'] });
    await waitFor(() => t.health().errors === 1, 'the rejection');
    expect(t.health().lastError).toBe(
      'Bybit rejected subscribe of tickers.NOPEUSDT, orderbook.1.NOPEUSDT (req_id sub-2): Invalid symbol :[tickers.NOPEUSDT]',
    );
    // NOPEUSDT went in a request of its own, so BTCUSDT was subscribed and its snapshot flowed.
    await waitFor(() => t.health().status === 'LIVE', 'LIVE on the data of the good symbol');
    expect(t.markets.map((m) => m.id)).toEqual(['bybit:BTC/USDT']);
    expect(bybit.subscribers('tickers.BTCUSDT')).toBe(1);
    expect(t.health()).toMatchObject({ reconnects: 0, invalidFrames: 0 });
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/does not list 1 configured symbols.*NOPEUSDT/);
  });

  it('counts malformed frames, keeps the last good state, and carries on', async () => {
    const bybit = await server();
    const t = feedOn(bybit);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    bybit.push('BTCUSDT', BTC_TICKER, { ts: T0 });
    bybit.pushBook('BTCUSDT', BTC_BOOK, { ts: T0 });
    await waitFor(() => t.markets.length === 2, 'the good state');

    const ticker = (data: Record<string, unknown>, ts = T0 + 1): string =>
      JSON.stringify({ topic: 'tickers.BTCUSDT', ts, type: 'snapshot', cs: 1, data: { symbol: 'BTCUSDT', ...BTC_TICKER, ...data } });
    bybit.sendRaw('not json');
    bybit.sendRaw(ticker({ lastPrice: 'abc' }));
    bybit.sendRaw(Buffer.from([1, 2, 3]));
    bybit.sendRaw('[1,2]');
    bybit.sendRaw(ticker({ lastPrice: undefined }));
    bybit.sendRaw(JSON.stringify({ topic: 'orderbook.1.BTCUSDT', ts: T0 + 1, type: 'snapshot', data: { s: 'BTCUSDT', b: [['0', '1']], a: [] } }));
    await waitFor(() => t.health().invalidFrames === 6, 'six invalid frames');

    expect(t.markets).toHaveLength(2);
    expect(t.health()).toMatchObject({ status: 'LIVE', errors: 0, markets: 1 });
    expect(t.warnings.filter((w) => w.msg === 'invalid frame ignored').map((w) => w.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/"lastPrice" \(last price\) is not a decimal number: string "abc"/),
      expect.stringMatching(/binary frame of 3 bytes/),
      expect.stringMatching(/expected a JSON object, got array\(2\)/),
      expect.stringMatching(/required field "lastPrice" is missing/),
      expect.stringMatching(/"b\[0\]": price must be a positive decimal/),
    ]);

    bybit.push('BTCUSDT', { lastPrice: '105' }, { ts: T0 + 10 });
    await waitFor(() => t.markets.length === 3, 'the next good ticker');
    expect(t.markets[2]).toMatchObject({ price: 105, bid: 101.4, ask: 101.6, open24h: 100, changePercent24h: 5 });
  });

  it('reconnects after the server drops every connection, resubscribes, and counts one reconnect', async () => {
    const bybit = await server();
    const t = feedOn(bybit);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    bybit.dropConnections();
    await waitFor(() => t.statuses.includes('RECONNECTING'), 'RECONNECTING');
    await waitFor(() => t.health().status === 'LIVE', 'LIVE again');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ reconnects: 1, errors: 1 });
    expect(t.health().lastError).toMatch(/1006/);
    expect(bybit.subscribeRequests.map((r) => [r.connection, r.request.req_id])).toEqual([
      [1, 'sub-1'],
      [2, 'sub-2'],
    ]);

    expect(bybit.push('BTCUSDT', BTC_TICKER).delivered).toBe(1);
    await waitFor(() => t.markets.length === 1, 'data on the new connection');
  });

  it('replaces a socket that goes silent (no data, no pongs) through the watchdog', async () => {
    const bybit = await server();
    const t = feedOn(bybit, { tuning: { pingIntervalMs: 150 }, timing: { silenceTimeoutMs: 600 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    bybit.stall();
    await waitFor(() => bybit.stats.upgrades === 2, 'a replacement socket');
    await waitFor(() => t.health().status === 'LIVE' && t.health().reconnects === 1, 'LIVE again');
    expect(t.health().lastError).toMatch(/no frame for \d+ ms \(silence limit 600 ms\)/);
    await waitFor(() => bybit.connections === 1, 'the stalled socket closed');
  });

  it('stop() closes every socket and clears every timer', async () => {
    const bybit = await server({ bookResendMs: 50 });
    const t = feedOn(bybit, { tuning: { pingIntervalMs: 150 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.feed.openResources().timers).toBeGreaterThan(0);

    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.health().status).toBe('DOWN');
    await waitFor(() => bybit.connections === 0, 'the server to see the close');
    const pings = bybit.stats.pings;
    await sleep(200);
    expect(bybit.stats).toMatchObject({ upgrades: 1, pings });
  });
});

describe('the local Bybit server speaks v5 spot', () => {
  async function exchange(bybit: BybitServer, requests: readonly string[]): Promise<Array<Record<string, unknown>>> {
    const ws = new WebSocket(bybit.wsUrl);
    const replies: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => replies.push(JSON.parse(String(data)) as Record<string, unknown>));
    await new Promise((resolve) => ws.once('open', resolve));
    for (const request of requests) ws.send(request);
    await waitFor(() => replies.length >= requests.length, 'the replies');
    ws.terminate();
    return replies;
  }

  it('rejects more than 10 args, unlisted symbols and unknown topics, and answers a ping with its pong', async () => {
    const bybit = await server();
    const eleven = Array.from({ length: 11 }, (_, i) => `tickers.C${i}USDT`);
    const replies = await exchange(bybit, [
      JSON.stringify({ req_id: 'a', op: 'subscribe', args: eleven }),
      JSON.stringify({ req_id: 'b', op: 'subscribe', args: ['tickers.BTCUSDT', 'tickers.BTCUSDX'] }),
      JSON.stringify({ op: 'subscribe', args: ['kline.1.BTCUSDT'] }),
      '{"op":"ping"}',
    ]);
    expect(replies.map(({ conn_id: _id, ...rest }) => rest)).toEqual([
      { success: false, ret_msg: 'args size >10', req_id: 'a', op: 'subscribe' },
      { success: false, ret_msg: 'Invalid symbol :[tickers.BTCUSDX]', req_id: 'b', op: 'subscribe' },
      { success: false, ret_msg: 'error:handler not found,topic:kline.1.BTCUSDT', op: 'subscribe' },
      { success: true, ret_msg: 'pong', op: 'ping' },
    ]);
    // One bad topic failed the whole request: BTCUSDT was not subscribed either.
    expect(bybit.subscribers('tickers.BTCUSDT')).toBe(0);
    expect(bybit.violations).toHaveLength(2);
  });
});
