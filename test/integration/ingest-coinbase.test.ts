/**
 * The real Coinbase adapter and Feed against a local server speaking Coinbase Advanced
 * Trade's protocol, over real sockets (no Redis, no network). Timeouts are shortened through
 * options and the server sends heartbeats every 100 ms; nothing asserts how fast things are.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { COINBASE_DEFAULT_SYMBOLS, createCoinbaseAdapter, type CoinbaseTuning } from '../../src/ingest/exchanges/coinbase';
import { CoinbaseServer, type CoinbaseServerOptions } from '../support/exchanges/coinbase-server';
import { IngestHarness, type ExchangeFeedSetup } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

const COINBASE = { exchange: 'coinbase', create: createCoinbaseAdapter, symbols: ['BTC-USD', 'ETH-BTC'] };

const startServer = (options: CoinbaseServerOptions = {}) => harness.serve(CoinbaseServer.start({ heartbeatIntervalMs: 100, ...options }));
const startFeed = (server: CoinbaseServer, setup: ExchangeFeedSetup<CoinbaseTuning> = {}) => harness.feedOn(server, COINBASE, setup);

const FAR_FUTURE = '2099-01-02T03:04:05.123456789Z';
const FAR_FUTURE_MS = Date.UTC(2099, 0, 2, 3, 4, 5) + 123 + 0.456789;

describe('Feed against the local Coinbase Advanced Trade server', () => {
  it('subscribes exactly as Coinbase expects, goes LIVE and maps snapshots and updates', async () => {
    const server = await startServer();
    const t = startFeed(server);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    await waitFor(() => t.markets.length === 2, 'both snapshots');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(server.received).toEqual([
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'subscribe', product_ids: ['BTC-USD', 'ETH-BTC'], channel: 'ticker' },
    ]);
    expect(server.violations).toEqual([]);

    // The server's default listing prices BTC-USD at 100.00 and derives the rest from it.
    expect(t.markets[0]).toMatchObject({
      id: 'coinbase:BTC/USD',
      nativeSymbol: 'BTC-USD',
      base: 'BTC',
      quote: 'USD',
      price: 100,
      bid: 99.99,
      ask: 100.01,
      open24h: null,
      high24h: 102,
      low24h: 97,
      volume24h: 1234.5,
      quoteVolume24h: null,
      change24h: null,
      changePercent24h: 1.25,
    });
    expect(t.markets[1]).toMatchObject({ id: 'coinbase:ETH/BTC', base: 'ETH', quote: 'BTC' });

    const update = { price: '101.5', best_bid: '101.4', best_ask: '101.6', high_24_h: '102.5', low_24_h: '99', volume_24_h: '4321.125', price_percent_chg_24_h: '-0.75' };
    expect(server.push('BTC-USD', update, { timestamp: FAR_FUTURE }).delivered).toBe(1);
    await waitFor(() => t.markets.length === 3, 'the update');
    expect(t.markets[2]).toEqual({
      id: 'coinbase:BTC/USD',
      exchange: 'coinbase',
      symbol: 'BTC/USD',
      nativeSymbol: 'BTC-USD',
      base: 'BTC',
      quote: 'USD',
      price: 101.5,
      bid: 101.4,
      ask: 101.6,
      open24h: null,
      high24h: 102.5,
      low24h: 99,
      volume24h: 4321.125,
      quoteVolume24h: null,
      change24h: null,
      changePercent24h: -0.75,
      spreadPercent: ((101.6 - 101.4) / ((101.6 + 101.4) / 2)) * 100,
      updatedAt: FAR_FUTURE_MS,
      receivedAt: expect.any(Number),
    });
    expect(t.health()).toMatchObject({ status: 'LIVE', markets: 2, reconnects: 0, invalidFrames: 0, errors: 0 });
    expect(t.adapter.unconfirmedSymbols(t.feed.symbols)).toEqual([]);
    expect(t.adapter.sequenceGaps.gaps).toBe(0);
  });

  it('paces its subscribe messages under Coinbase’s per-IP message limit', async () => {
    const server = await startServer();
    const symbols = [...COINBASE_DEFAULT_SYMBOLS, 'BTC-USDC', 'ETH-USDC']; // 24 products
    const t = startFeed(server, { symbols, tuning: { productsPerMessage: 3 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    // LIVE comes once the last message has left and data flows; the server may not have read it yet.
    await waitFor(() => server.received.length === 9 && server.stats.requests === 9, 'nine subscribe messages');
    expect(server.received).toEqual(t.adapter.subscribeMessages(symbols).map((m) => JSON.parse(m) as unknown));
    expect(server.received).toHaveLength(9);
    expect(server.violations).toEqual([]);
    expect(server.stats).toMatchObject({ requests: 9, rateLimitCloses: 0, upgrades: 1 });
    expect(server.stats.peakInboundPerSecond).toBeLessThanOrEqual(t.adapter.maxMessagesPerSecond);
    for (const symbol of symbols) expect(server.subscribers(symbol)).toBe(1);
  });

  it('stays on one socket while heartbeats flow, though no market data does', async () => {
    const server = await startServer({ idleCloseMs: 300 });
    const t = startFeed(server, { timing: { silenceTimeoutMs: 500 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    await sleep(1200);
    expect(server.stats).toMatchObject({ upgrades: 1, idleCloses: 0 });
    expect(server.stats.heartbeatsSent).toBeGreaterThanOrEqual(5);
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, invalidFrames: 0, errors: 0 });
  });

  it('(the server closes an idle connection that did not subscribe to heartbeats)', async () => {
    const server = await startServer({ idleCloseMs: 200 });
    const ws = new WebSocket(server.wsUrl);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(JSON.stringify({ type: 'subscribe', product_ids: ['BTC-USD'], channel: 'ticker' }));
    expect(await closed).toBe(1000);
    expect(server.stats.idleCloses).toBe(1);
  });

  it('counts an exchange error frame and shows it in health, without dropping the connection', async () => {
    const server = await startServer();
    const t = startFeed(server);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    server.sendRaw('{"type":"error","message":"failure to subscribe"}');
    await waitFor(() => t.health().errors === 1, 'an error');
    expect(t.health()).toMatchObject({ status: 'LIVE', lastError: 'Coinbase error: failure to subscribe', reconnects: 0 });
    await sleep(300);
    expect(server.stats.upgrades).toBe(1);
  });

  it('counts malformed frames, keeps the last good state, and carries on', async () => {
    const server = await startServer();
    const t = startFeed(server);
    await waitFor(() => t.markets.length === 2, 'both snapshots');
    const good = t.markets.slice();

    // No sequence_num on these: they are not Coinbase's numbered messages.
    const ticker = (fields: Record<string, unknown>): string =>
      JSON.stringify({ channel: 'ticker', timestamp: FAR_FUTURE, events: [{ type: 'update', tickers: [{ type: 'ticker', product_id: 'BTC-USD', price: '5', ...fields }] }] });
    server.sendRaw('not json');
    server.sendRaw(ticker({ price: 'abc' }));
    server.sendRaw(ticker({ price: undefined }));
    server.sendRaw(Buffer.from([1, 2, 3]));
    server.sendRaw(JSON.stringify({ channel: 'ticker', timestamp: FAR_FUTURE, events: [{ type: 'update', tickers: [5] }] }));
    server.sendRaw('{"type":"ticker","product_id":"BTC-USD","price":"1"}');
    server.sendRaw('{"channel":"status","events":[]}'); // well-formed, not ours: ignored, not invalid
    await waitFor(() => t.health().invalidFrames === 6, 'six invalid frames');

    expect(t.markets).toEqual(good);
    expect(t.health()).toMatchObject({ status: 'LIVE', errors: 0, markets: 2, reconnects: 0 });
    expect(t.warnings.filter((w) => w.msg === 'invalid frame ignored').map((w) => w.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/"price" \(last price\) is not a decimal number: string "abc"/),
      expect.stringMatching(/required field "price" \(last price\) is missing/),
      expect.stringMatching(/binary frame of 3 bytes/),
      expect.stringMatching(/tickers\[0\]: expected a ticker object, got number 5/),
      expect.stringMatching(/legacy Exchange ws-feed/),
    ]);

    server.push('BTC-USD', { price: '105' }, { timestamp: FAR_FUTURE });
    await waitFor(() => t.markets.length === 3, 'the next good ticker');
    expect(t.markets[2]).toMatchObject({ price: 105, bid: 99.99, changePercent24h: 1.25, updatedAt: FAR_FUTURE_MS });
  });

  it('reconnects after the server drops every connection, counts one reconnect, and gets fresh snapshots', async () => {
    const server = await startServer();
    const t = startFeed(server);
    await waitFor(() => t.markets.length === 2, 'both snapshots');
    server.dropConnections();
    await waitFor(() => t.statuses.includes('RECONNECTING'), 'RECONNECTING');
    await waitFor(() => t.health().status === 'LIVE', 'LIVE again');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ reconnects: 1, errors: 1 });
    expect(t.health().lastError).toMatch(/1006/);
    await waitFor(() => t.markets.length === 4, 'snapshots on the new connection');
    // The new connection counts from 0 again: that is not a gap.
    expect(t.adapter.sequenceGaps.gaps).toBe(0);
    expect(server.push('BTC-USD', { price: '110' }, { timestamp: FAR_FUTURE }).delivered).toBe(1);
    await waitFor(() => t.markets.at(-1)?.price === 110, 'data on the new connection');
  });

  it('replaces a socket that goes silent', async () => {
    const server = await startServer();
    const t = startFeed(server, { timing: { silenceTimeoutMs: 500 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    server.stall();
    await waitFor(() => server.stats.upgrades === 2, 'a replacement socket');
    await waitFor(() => t.health().status === 'LIVE' && t.health().reconnects === 1, 'LIVE again');
    expect(t.health().lastError).toMatch(/no frame for \d+ ms \(silence limit 500 ms\)/);
    await waitFor(() => server.connections === 1, 'the stalled socket closed');
  });

  it('resyncs on a fresh connection after a sequence gap, without a reconnect or a gap in status', async () => {
    const server = await startServer();
    const t = startFeed(server);
    await waitFor(() => t.markets.length === 2, 'both snapshots');
    server.skipSequence(3);
    await waitFor(() => server.stats.upgrades === 2 && server.connections === 1, 'the replacement to take over');
    await waitFor(() => t.markets.length === 4, 'fresh snapshots');
    expect(t.adapter.sequenceGaps).toEqual({ gaps: 1, missedMessages: 3 });
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0 });
    expect(t.warnings).toEqual([]);
  });

  it('lists products Coinbase left out of its ack, and the feed reports them as silent', async () => {
    const server = await startServer();
    const t = startFeed(server, { symbols: ['BTC-USD', 'BTC-USDX'], silentSymbolsAfterMs: 200 });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(server.violations).toEqual([]); // an unknown product is not an error on Coinbase
    expect(t.adapter.unconfirmedSymbols(t.feed.symbols)).toEqual(['BTC-USDX']);
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/does not list 1 configured symbols.*BTC-USDX/);
    await waitFor(() => t.health().silentSymbols.length > 0, 'the silent-symbol report');
    expect(t.health().silentSymbols).toEqual(['BTC-USDX']);
  });

  it('splits product ids, and says so, when the product listing fails', async () => {
    const server = await startServer();
    server.setRestAvailable(false);
    const t = startFeed(server);
    await waitFor(() => t.markets.length === 2, 'both snapshots');
    expect(t.markets.map((m) => m.id)).toEqual(['coinbase:BTC/USD', 'coinbase:ETH/BTC']);
    expect(server.stats.restRequests).toBe(1);
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/the listing could not be read \(GET .*products.*: HTTP 503\); base and quote are derived from the symbol text/);
  });

  it('stop() closes every socket and clears every timer', async () => {
    const server = await startServer();
    const t = startFeed(server);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.feed.openResources().timers).toBeGreaterThan(0);
    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.health().status).toBe('DOWN');
    await waitFor(() => server.connections === 0, 'the server to see the close');
    await sleep(200);
    expect(server.stats.upgrades).toBe(1);
  });
});
