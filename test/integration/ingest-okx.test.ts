/**
 * The real OKX adapter and Feed against a local server speaking OKX v5 public over real
 * sockets (no Redis, no network). Timeouts are shortened through options; nothing asserts how
 * fast things are.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createOkxAdapter, type OkxTuning } from '../../src/ingest/exchanges/okx';
import { OkxServer, type OkxServerOptions } from '../support/exchanges/okx-server';
import { IngestHarness, type ExchangeFeedSetup, type FeedUnderTest } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

const OKX = { exchange: 'okx', create: createOkxAdapter, symbols: ['BTC-USDT', 'ETH-BTC'] };

const startServer = (options: OkxServerOptions = {}) => harness.serve(OkxServer.start(options));
const okxFeed = (server: OkxServer, setup: ExchangeFeedSetup<OkxTuning> = {}) => harness.feedOn(server, OKX, setup);

const live = (t: FeedUnderTest) => () => t.health().status === 'LIVE';

const BTC_TICK = {
  last: '101.5',
  bidPx: '101.4',
  askPx: '101.6',
  open24h: '100',
  high24h: '102',
  low24h: '99',
  vol24h: '1234.5',
  volCcy24h: '125000.25',
  ts: '1785300000123',
};

describe('Feed against the local OKX server', () => {
  it('goes LIVE, names markets from the instruments list, and emits a pushed ticker with every field mapped', async () => {
    const server = await startServer();
    const t = okxFeed(server);
    await waitFor(live(t), 'LIVE');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);

    expect(server.push('BTC-USDT', BTC_TICK).delivered).toBe(1);
    await waitFor(() => t.markets.length === 1, 'one market');
    expect(t.markets[0]).toMatchObject({
      id: 'okx:BTC/USDT',
      exchange: 'okx',
      symbol: 'BTC/USDT',
      nativeSymbol: 'BTC-USDT',
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
      updatedAt: 1785300000123,
    });
    expect(t.markets[0]!.spreadPercent).toBeCloseTo((0.2 / 101.5) * 100, 10);

    server.push('ETH-BTC', { ts: '1785300000200' });
    await waitFor(() => t.markets.length === 2, 'a second market');
    expect(t.markets[1]).toMatchObject({ id: 'okx:ETH/BTC', base: 'ETH', quote: 'BTC', updatedAt: 1785300000200 });
    expect(t.health()).toMatchObject({ exchange: 'okx', status: 'LIVE', markets: 2, reconnects: 0, invalidFrames: 0, errors: 0 });
    expect(server.stats.instrumentsRequests).toBe(1);
    expect(server.violations).toEqual([]);
  });

  it('subscribes with exactly the documented requests, each acked per argument, paced under 3 per second', async () => {
    const instruments = Array.from({ length: 40 }, (_, i) => ({ instId: `C${i}-USDT`, baseCcy: `C${i}`, quoteCcy: 'USDT' }));
    const server = await startServer({ instruments });
    const symbols = instruments.map((i) => i.instId);
    const t = okxFeed(server, { symbols, tuning: { maxSubscribeBytes: 500 } });
    await waitFor(live(t), 'LIVE after every subscribe request');
    await waitFor(() => symbols.every((s) => server.subscribers(s) === 1), 'every symbol subscribed');

    const requests = server.requests;
    expect(requests.length).toBeGreaterThan(2);
    expect(requests.map((r) => r.text)).toEqual(t.adapter.subscribeMessages(symbols));
    const args: string[] = [];
    for (const { text } of requests) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(500);
      const request = JSON.parse(text) as { op: string; args: Array<Record<string, string>> };
      expect(Object.keys(request)).toEqual(['op', 'args']);
      expect(request.op).toBe('subscribe');
      for (const arg of request.args) {
        expect(Object.keys(arg)).toEqual(['channel', 'instId']);
        expect(arg.channel).toBe('tickers');
        args.push(arg.instId!);
      }
    }
    expect(args).toEqual(symbols);
    expect(t.feed.symbols).toEqual(symbols);
    expect(server.stats).toMatchObject({ acks: 40, errors: 0, upgrades: 1 });
    expect(server.stats.peakInboundPerSecond).toBeLessThanOrEqual(3);
    // Any three requests in a row span at least a second: pacing, not luck.
    for (let i = 2; i < requests.length; i++) expect(requests[i]!.at - requests[i - 2]!.at).toBeGreaterThanOrEqual(1000);
    expect(server.violations).toEqual([]);
  });

  it('keeps a quiet connection open past the server’s idle limit with text pings', async () => {
    const server = await startServer({ idleTimeoutMs: 1000 });
    const t = okxFeed(server, { tuning: { pingIntervalMs: 300 } });
    await waitFor(live(t), 'LIVE');
    await sleep(2500);
    expect(server.stats.pings).toBeGreaterThanOrEqual(3);
    expect(server.stats).toMatchObject({ upgrades: 1, idleCloses: 0 });
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0, invalidFrames: 0 });
    expect(server.violations).toEqual([]);
  });

  it('is closed by the server with 4004 when it does not ping, and reconnects', async () => {
    const server = await startServer({ idleTimeoutMs: 300 });
    const t = okxFeed(server, { tuning: { pingIntervalMs: 60_000 } });
    await waitFor(live(t), 'LIVE');
    await waitFor(() => t.statuses.includes('RECONNECTING'), 'RECONNECTING');
    expect(server.stats.idleCloses).toBeGreaterThanOrEqual(1);
    expect(t.health().errors).toBeGreaterThanOrEqual(1);
    expect(t.warnings.some((w) => /closed by the server with code 4004 \(No data received in 30s\)/.test(String(w.reason)))).toBe(true);
  });

  it('counts an error event and shows it in health.lastError, without dropping the connection', async () => {
    const server = await startServer();
    const t = okxFeed(server);
    await waitFor(live(t), 'LIVE');
    server.sendRaw('{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\":\\"subscribe\\"}","connId":"7c1e04b2"}');
    await waitFor(() => t.health().errors === 1, 'an error');
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, lastError: 'OKX error 60012: Invalid request: {"op":"subscribe"} (connId 7c1e04b2)' });
    expect(server.stats.upgrades).toBe(1);
  });

  it('reports a subscription OKX refuses (60018), and does not claim LIVE without acks or data', async () => {
    const server = await startServer();
    const t = okxFeed(server, { symbols: ['BTC-USDT', 'LTC-USD'], restUrl: null });
    await waitFor(() => t.health().errors >= 1, 'the refusal');
    expect(t.health().lastError).toMatch(/^OKX error 60018: Wrong URL or channel:tickers,instId:LTC-USD doesn't exist/);
    expect(t.health().status).toBe('CONNECTING');
    expect(server.subscribers('BTC-USDT')).toBe(0);
  });

  it('subscribes a symbol the instruments list does not have in a request of its own, names it, and goes LIVE with the rest', async () => {
    const server = await startServer();
    const t = okxFeed(server, { symbols: ['BTC-USDT', 'LTC-USD'] });
    await waitFor(() => server.subscribers('BTC-USDT') === 1 && t.health().errorFrames === 1, 'BTC-USDT subscribed, LTC-USD refused');
    // One request acknowledged and one refused: LIVE once data flows.
    server.push('BTC-USDT', BTC_TICK);
    await waitFor(live(t), 'LIVE');
    expect(t.feed.symbols).toEqual(['BTC-USDT', 'LTC-USD']);
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/does not list 1 configured symbols.*: LTC-USD$/);
    expect(server.subscribers('BTC-USDT')).toBe(1);
    expect(server.subscribers('LTC-USD')).toBe(0);
    // OKX refused the one bad argument (60018); the request carrying BTC-USDT went through.
    expect(t.health()).toMatchObject({ errorFrames: 1 });
    expect(t.health().lastError).toMatch(/60018/);
  });

  it('counts malformed frames, keeps the last good state, and carries on', async () => {
    const server = await startServer();
    const t = okxFeed(server);
    await waitFor(live(t), 'LIVE');
    server.push('BTC-USDT', BTC_TICK);
    await waitFor(() => t.markets.length === 1, 'the good ticker');

    server.sendRaw('not json');
    server.sendRaw(server.tickerFrame('BTC-USDT', { last: 'abc', ts: '1785300000124' }));
    server.sendRaw(Buffer.from([1, 2, 3]));
    server.sendRaw('{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":{"last":"1"}}');
    server.sendRaw(server.tickerFrame('BTC-USDT', { last: undefined, ts: '1785300000125' }));
    server.sendRaw(server.tickerFrame('BTC-USDT', { ts: 1785300000126 }));
    await waitFor(() => t.health().invalidFrames === 6, 'six invalid frames');

    expect(t.markets).toHaveLength(1);
    expect(t.health()).toMatchObject({ status: 'LIVE', errors: 0, markets: 1 });
    expect(t.warnings.filter((w) => w.msg === 'invalid frame ignored').map((w) => w.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/"last" \(last price\) is not a decimal number: string "abc"/),
      expect.stringMatching(/binary frame of 3 bytes/),
      expect.stringMatching(/expected "data" as an array, got object/),
      expect.stringMatching(/required field "last" \(last price\) is missing/),
      expect.stringMatching(/expected "ts" as a string of epoch milliseconds, got number/),
    ]);

    server.push('BTC-USDT', { ...BTC_TICK, last: '105', ts: '1785300000200' });
    await waitFor(() => t.markets.length === 2, 'the next good ticker');
    expect(t.markets[1]).toMatchObject({ price: 105, bid: 101.4, open24h: 100, changePercent24h: 5 });
  });

  it('reconnects after the server drops every connection, and counts one reconnect', async () => {
    const server = await startServer();
    const t = okxFeed(server);
    await waitFor(live(t), 'LIVE');
    server.dropConnections();
    await waitFor(() => t.statuses.includes('RECONNECTING'), 'RECONNECTING');
    await waitFor(live(t), 'LIVE again');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ reconnects: 1, errors: 1 });
    expect(t.health().lastError).toMatch(/1006/);
    expect(server.push('BTC-USDT', BTC_TICK).delivered).toBe(1);
    await waitFor(() => t.markets.length === 1, 'data on the new connection');
    expect(server.stats.refusedUpgrades).toBe(0);
  });

  it('replaces a socket that goes silent, while pongs keep a quiet healthy one open', async () => {
    const server = await startServer();
    // 600 ms: steady under the 3 messages/s pacing, so pongs come at an even rhythm.
    const t = okxFeed(server, { tuning: { pingIntervalMs: 600 }, timing: { silenceTimeoutMs: 1000 } });
    await waitFor(live(t), 'LIVE');
    await sleep(1300);
    expect(server.stats.upgrades).toBe(1);
    expect(server.stats.pings).toBeGreaterThanOrEqual(2);
    expect(t.health().reconnects).toBe(0);

    server.stall();
    await waitFor(() => server.stats.upgrades === 2, 'a replacement socket');
    await waitFor(() => t.health().status === 'LIVE' && t.health().reconnects === 1, 'LIVE again');
    expect(t.health().lastError).toMatch(/no frame for \d+ ms \(silence limit 1000 ms\)/);
    await waitFor(() => server.connections === 1, 'the stalled socket closed');
  });

  it('rotates on notice 64008 with no gap in data and no reconnect counted', async () => {
    const server = await startServer();
    const t = okxFeed(server);
    await waitFor(live(t), 'LIVE');

    // Push a new price every few ms through the whole rotation; every one must arrive.
    const pushed: number[] = [];
    let undelivered = 0;
    let stopPushing = false;
    const pusher = (async () => {
      for (let i = 1; !stopPushing; i++) {
        const { delivered } = server.push('BTC-USDT', { last: `${1000 + i}`, ts: String(1785300000000 + i) });
        if (delivered === 0) undelivered++;
        pushed.push(1000 + i);
        await sleep(3);
      }
    })();
    await sleep(30);
    // The server would close the old socket after a second; the client must not wait for that.
    server.notice({ closeAfterMs: 1000 });
    await waitFor(() => server.stats.upgrades === 2 && server.connections === 1, 'the replacement to take over');
    await sleep(30);
    stopPushing = true;
    await pusher;

    const last = pushed[pushed.length - 1]!;
    await waitFor(() => t.markets.some((m) => m.price === last), 'the last pushed price');
    const seen = new Set(t.markets.map((m) => m.price));
    expect(pushed.filter((price) => !seen.has(price))).toEqual([]);
    expect(undelivered).toBe(0);
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0, invalidFrames: 0 });
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(server.violations).toEqual([]);
  });

  it('derives base and quote when the instruments call fails, and says so', async () => {
    const server = await startServer();
    server.setRestAvailable(false);
    const t = okxFeed(server, { symbols: ['ETH-BTC'] });
    await waitFor(live(t), 'LIVE');
    server.push('ETH-BTC', { ts: '1785300000123' });
    await waitFor(() => t.markets.length === 1, 'a market');
    expect(t.markets[0]).toMatchObject({ id: 'okx:ETH/BTC', base: 'ETH', quote: 'BTC' });
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/the listing could not be read \(GET .*instruments.*: HTTP 503\); base and quote are derived/);
  });

  it('stop() closes every socket and clears every timer', async () => {
    const server = await startServer();
    const t = okxFeed(server, { tuning: { pingIntervalMs: 600 } });
    await waitFor(live(t), 'LIVE');
    expect(t.feed.openResources().timers).toBeGreaterThan(0);

    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.health().status).toBe('DOWN');
    expect(t.statuses.at(-1)).toBe('DOWN');
    await waitFor(() => server.connections === 0, 'the server to see the close');
    await sleep(200);
    expect(server.stats.upgrades).toBe(1);
  });
});
