/**
 * The real Kraken adapter and Feed against a local server speaking Kraken WebSocket v2 over
 * real sockets (no Redis, no network). Timeouts are shortened through options; nothing
 * asserts how fast things are.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createKrakenAdapter, parseKrakenTimestamp, type KrakenTuning } from '../../src/ingest/exchanges/kraken';
import { IngestHarness, type ExchangeFeedSetup, type FeedUnderTest } from '../support/ingest-harness';
import { KRAKEN_TEST_PAIRS, KrakenServer, syntheticKrakenPairs, type KrakenServerOptions } from '../support/exchanges/kraken-server';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

const KRAKEN = { exchange: 'kraken', create: createKrakenAdapter, symbols: ['BTC/USD', 'ETH/USD'] };

const startServer = (options: KrakenServerOptions = {}) => harness.serve(KrakenServer.start(options));
const krakenFeed = (server: KrakenServer, setup: ExchangeFeedSetup<KrakenTuning> = {}) => harness.feedOn(server, KRAKEN, setup);

const live = (t: FeedUnderTest) => waitFor(() => t.health().status === 'LIVE', 'LIVE');
const marketsOf = (t: FeedUnderTest, id: string) => t.markets.filter((m) => m.id === id);

describe('Feed against the local Kraken v2 server', () => {
  it('goes LIVE and emits the subscribe snapshots and a pushed update with every field mapped', async () => {
    const server = await startServer();
    const t = krakenFeed(server);
    await live(t);
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    await waitFor(() => t.markets.length === 2, 'both snapshots');

    const btc = marketsOf(t, 'kraken:BTC/USD')[0]!;
    expect(btc).toMatchObject({
      exchange: 'kraken',
      symbol: 'BTC/USD',
      nativeSymbol: 'BTC/USD',
      base: 'BTC',
      quote: 'USD',
      price: 96858.5,
      bid: 96858.4,
      ask: 96858.5,
      open24h: 95322.8,
      high24h: 97244.9,
      low24h: 94950,
      volume24h: 1183.51229014,
      quoteVolume24h: 96110.7 * 1183.51229014, // vwap × volume
      change24h: 96858.5 - 95322.8,
      changePercent24h: ((96858.5 - 95322.8) / 95322.8) * 100,
    });
    expect(marketsOf(t, 'kraken:ETH/USD')[0]).toMatchObject({ price: 3351.61, open24h: 3398.7, changePercent24h: ((3351.61 - 3398.7) / 3398.7) * 100 });

    const { entry, delivered } = server.push('BTC/USD', { last: 97000.1, bid: 97000, ask: 97000.1, change: 1677.3, volume: 1184 });
    expect(delivered).toBe(1);
    await waitFor(() => marketsOf(t, 'kraken:BTC/USD').length === 2, 'the update');
    const updated = marketsOf(t, 'kraken:BTC/USD')[1]!;
    expect(updated).toMatchObject({ price: 97000.1, bid: 97000, ask: 97000.1, open24h: 95322.8, volume24h: 1184, quoteVolume24h: Number(entry.vwap) * 1184 });
    // The event time is the frame's microsecond timestamp, fraction kept.
    expect(updated.updatedAt).toBe(parseKrakenTimestamp(String(entry.timestamp)));
    expect(Number.isInteger(updated.updatedAt * 1000)).toBe(true);
    expect(t.health()).toMatchObject({ exchange: 'kraken', status: 'LIVE', markets: 2, reconnects: 0, invalidFrames: 0, errors: 0 });
  });

  it('subscribes in the documented shape, batched, with one ack per symbol, paced under the rate limit', async () => {
    const pairs = syntheticKrakenPairs(11);
    const server = await startServer({ pairs, maxMessagesPerSecond: 4 });
    const symbols = pairs.map((p) => p.symbol);
    const t = krakenFeed(server, { symbols, tuning: { symbolsPerMessage: 2 } });
    await live(t);
    await waitFor(() => symbols.every((s) => server.subscribers(s) === 1), 'every symbol subscribed');
    await waitFor(() => t.markets.length === 11, 'a snapshot per symbol');

    const expected = Array.from({ length: 6 }, (_, i) => ({
      method: 'subscribe',
      params: { channel: 'ticker', symbol: symbols.slice(i * 2, i * 2 + 2), event_trigger: 'trades', snapshot: true },
      req_id: i + 1,
    }));
    expect(server.requests.filter((r) => (r as { method?: string }).method === 'subscribe')).toEqual(expected);
    expect(server.violations).toEqual([]);
    expect(server.stats.rateLimited).toBe(0);
    expect(server.stats.peakInboundPerSecond).toBeLessThanOrEqual(4);
    expect(t.health()).toMatchObject({ errors: 0, invalidFrames: 0 });
  });

  it('stays on one socket while heartbeats arrive and our pings keep Kraken’s idle timer from closing it', async () => {
    // A ping every 300 ms stays under the pacing (4 frames per 1.1 s), as 20 s does in production.
    // The idle and silence limits leave room for a busy machine's event-loop delays.
    const server = await startServer({ heartbeatMs: 50, idleTimeoutMs: 1500 });
    const t = krakenFeed(server, { tuning: { pingIntervalMs: 300 }, timing: { silenceTimeoutMs: 1000 } });
    await live(t);
    await sleep(3000);
    expect(server.stats).toMatchObject({ upgrades: 1, idleCloses: 0, rateLimited: 0 });
    expect(server.stats.pings).toBeGreaterThanOrEqual(5);
    expect(server.stats.heartbeats).toBeGreaterThanOrEqual(5);
    expect(server.violations).toEqual([]);
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0, invalidFrames: 0 });
  });

  it('without our pings the server’s idle timeout closes the socket, and the feed reconnects', async () => {
    const server = await startServer({ heartbeatMs: 50, idleTimeoutMs: 300 });
    const t = krakenFeed(server, { tuning: { pingIntervalMs: 60_000 } });
    await live(t);
    await waitFor(() => server.stats.idleCloses >= 1, 'an idle close');
    await waitFor(() => t.health().reconnects >= 1 && t.health().status === 'LIVE', 'LIVE again');
    expect(t.health().lastError).toMatch(/closed by the server with code 1000 \(idle\)/);
  });

  it('reports a rejected symbol as a counted error naming it, and serves the others', async () => {
    const server = await startServer();
    const t = krakenFeed(server, { symbols: ['BTC/USD', 'NOPE/USD', 'ETH/USD'], silentSymbolsAfterMs: 200 });
    await live(t);
    await waitFor(() => t.markets.length === 2 && t.health().errors === 1, 'two markets and one error');
    expect(new Set(t.markets.map((m) => m.id))).toEqual(new Set(['kraken:BTC/USD', 'kraken:ETH/USD']));
    expect(t.health()).toMatchObject({
      status: 'LIVE',
      reconnects: 0,
      invalidFrames: 0,
      lastError: 'Kraken rejected subscribe NOPE/USD: Currency pair not supported NOPE/USD (req_id 1)',
    });
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/does not list 1 configured symbols.*NOPE\/USD/);
    await waitFor(() => t.health().silentSymbols.length > 0, 'the silent-symbol report');
    expect(t.health().silentSymbols).toEqual(['NOPE/USD']);
    expect(server.push('ETH/USD').delivered).toBe(1);
  });

  it('subscribes configured legacy symbols (XBT/USD, XDG/USD) in v2 spelling and names markets in common codes', async () => {
    const server = await startServer();
    const t = krakenFeed(server, { symbols: ['XBT/USD', 'XDG/USD', 'ETH/XBT'] });
    await live(t);
    await waitFor(() => t.markets.length === 3, 'three snapshots');
    expect(t.markets.map((m) => [m.id, m.nativeSymbol, m.base, m.quote]).sort()).toEqual([
      ['kraken:BTC/USD', 'BTC/USD', 'BTC', 'USD'],
      ['kraken:DOGE/USD', 'DOGE/USD', 'DOGE', 'USD'],
      ['kraken:ETH/BTC', 'ETH/BTC', 'ETH', 'BTC'],
    ]);
    expect(t.health().errors).toBe(0);
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/XBT\/USD -> BTC\/USD, XDG\/USD -> DOGE\/USD, ETH\/XBT -> ETH\/BTC/);
  });

  it('counts malformed frames, keeps the last good state, and carries on', async () => {
    const server = await startServer();
    const t = krakenFeed(server, { symbols: ['BTC/USD'] });
    await live(t);
    await waitFor(() => t.markets.length === 1, 'the snapshot');

    const good = { symbol: 'BTC/USD', ...KRAKEN_TEST_PAIRS[0]!.ticker, timestamp: '2999-01-01T00:00:00.000001Z' };
    const frame = (entry: Record<string, unknown>) => JSON.stringify({ channel: 'ticker', type: 'update', data: [entry] });
    const { timestamp: _dropped, ...untimed } = good;
    server.sendRaw('not json');
    server.sendRaw(frame({ ...good, last: '97000.1' }));
    server.sendRaw(Buffer.from([1, 2, 3]));
    server.sendRaw(frame(untimed));
    server.sendRaw(JSON.stringify({ channel: 'ticker', type: 'update', data: [good, { ...good, symbol: 'ETH/USD', bid: null }] }));
    await waitFor(() => t.health().invalidFrames === 5, 'five invalid frames');

    expect(t.markets).toHaveLength(1);
    expect(t.health()).toMatchObject({ status: 'LIVE', errors: 0, markets: 1 });
    expect(t.warnings.filter((w) => w.msg === 'invalid frame ignored').map((w) => w.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/expected "last" \(last trade price\) as a finite JSON number, got string "97000.1"/),
      expect.stringMatching(/binary frame of 3 bytes/),
      expect.stringMatching(/expected "timestamp" as an RFC 3339 string, got nothing/),
      expect.stringMatching(/data\[1\]: ETH\/USD: expected "bid" \(best bid\) .* got null/),
    ]);

    server.push('BTC/USD', { last: 97100, change: 1777.2 });
    await waitFor(() => t.markets.length === 2, 'the next good ticker');
    expect(t.markets[1]).toMatchObject({ price: 97100, bid: 96858.4, open24h: 95322.8 });
  });

  it('counts a system status other than online as an error without dropping the socket', async () => {
    const server = await startServer();
    const t = krakenFeed(server);
    await live(t);
    server.setSystemStatus('maintenance');
    await waitFor(() => t.health().errors === 1, 'an error');
    expect(t.health()).toMatchObject({ status: 'LIVE', lastError: 'Kraken reports system status "maintenance"', reconnects: 0 });
    expect(server.stats.upgrades).toBe(1);
  });

  it('reconnects after the server drops every connection, resubscribes, and counts one reconnect', async () => {
    const server = await startServer();
    const t = krakenFeed(server);
    await live(t);
    await waitFor(() => t.markets.length === 2, 'snapshots');
    server.dropConnections();
    await waitFor(() => t.statuses.includes('RECONNECTING'), 'RECONNECTING');
    await live(t);
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ reconnects: 1, errors: 1 });
    expect(t.health().lastError).toMatch(/1006/);
    // The new connection is subscribed again, and its snapshots are authoritative.
    await waitFor(() => t.markets.length === 4, 'fresh snapshots');
    expect(server.stats.upgrades).toBe(2);
    expect(server.subscribers('BTC/USD')).toBe(1);
    const reqIds = server.requests.map((r) => (r as { req_id?: number }).req_id);
    expect(reqIds).toEqual([1, 2]);
  });

  it('replaces a socket that goes silent (no data, heartbeats or pongs)', async () => {
    const server = await startServer({ heartbeatMs: 50 });
    const t = krakenFeed(server, { tuning: { pingIntervalMs: 100 }, timing: { silenceTimeoutMs: 400 } });
    await live(t);
    server.stall();
    await waitFor(() => server.stats.upgrades === 2, 'a replacement socket');
    await waitFor(() => t.health().status === 'LIVE' && t.health().reconnects === 1, 'LIVE again');
    expect(t.health().lastError).toMatch(/no frame for \d+ ms \(silence limit 400 ms\)/);
    await waitFor(() => server.connections === 1, 'the stalled socket closed');
    expect(server.push('BTC/USD').delivered).toBe(1);
  });

  it('derives base and quote when AssetPairs reports an error, and says so', async () => {
    const server = await startServer();
    server.setRestMode('api-error');
    const t = krakenFeed(server, { symbols: ['ETH/BTC'] });
    await live(t);
    await waitFor(() => t.markets.length === 1, 'a market');
    expect(t.markets[0]).toMatchObject({ id: 'kraken:ETH/BTC', base: 'ETH', quote: 'BTC' });
    expect(server.stats.assetPairsRequests).toBe(1);
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(
      /the listing could not be read \(.*EService:Unavailable.*\); base and quote are derived/,
    );
  });

  it('stop() closes the socket and clears every timer, pings included', async () => {
    const server = await startServer({ heartbeatMs: 50 });
    const t = krakenFeed(server, { tuning: { pingIntervalMs: 50 } });
    await live(t);
    expect(t.feed.openResources().timers).toBeGreaterThan(0);

    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.health().status).toBe('DOWN');
    await waitFor(() => server.connections === 0, 'the server to see the close');
    const pings = server.stats.pings;
    await sleep(200);
    expect(server.stats).toMatchObject({ upgrades: 1, pings });
  });

  it('logs each warning Kraken attaches to its acks once, however many acks repeat it', async () => {
    const server = await startServer({ ackWarnings: ['ticker event_trigger "trades" is deprecated'] });
    const t = krakenFeed(server);
    await live(t);
    await waitFor(() => t.markets.length === 2, 'both snapshots');
    const logged = t.warnings.filter((w) => w.msg === 'exchange attached a warning to an ack');
    expect(logged.map((w) => w.warning)).toEqual(['ticker event_trigger "trades" is deprecated']);
  });
});
