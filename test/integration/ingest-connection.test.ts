/**
 * The connection loop's failure policy (connection.ts), exercised over real sockets against
 * the local simulator: what is retried, what is fatal, and what the exchange asked for.
 * Delays are asserted only as lower bounds (never retrying too early), never as speed.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExchangeAdapter, FrameEvent } from '../../src/ingest/adapter';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import type { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { IngestHarness } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

/** The Binance adapter with some behaviour swapped, to reach paths Binance itself never takes. */
function customAdapter(
  sim: BinanceSim,
  changes: { parse?: (text: string) => FrameEvent | null; clientHeartbeat?: ExchangeAdapter['clientHeartbeat'] },
): ExchangeAdapter {
  const base = createBinanceAdapter({ exchange: 'sim', wsUrl: sim.wsUrl, restUrl: sim.restUrl });
  return {
    exchange: base.exchange,
    wsUrl: base.wsUrl,
    capacity: base.capacity,
    connectionRate: base.connectionRate,
    maxMessagesPerSecond: base.maxMessagesPerSecond,
    silenceTimeoutMs: base.silenceTimeoutMs,
    clientHeartbeat: changes.clientHeartbeat,
    subscribeMessages: (symbols) => base.subscribeMessages(symbols),
    parse: (text) => changes.parse?.(text) ?? base.parse(text),
    normalizeSymbols: (configured) => base.normalizeSymbols(configured),
    deriveSymbolInfo: (symbol) => base.deriveSymbolInfo(symbol),
    fetchListing: (signal) => base.fetchListing(signal),
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connection failure policy: retried', () => {
  it.each([429, 418])('waits for Retry-After when the upgrade is refused with HTTP %i', async (status) => {
    const sim = await harness.sim();
    sim.rejectUpgrades(status, 1);
    // Backoff alone would retry within 5 ms.
    const t = harness.feed(sim, { backoff: { baseMs: 1, capMs: 5 } });
    await waitFor(() => sim.stats.refusedUpgrades === 1, 'the refusal');
    const refusedAt = Date.now();
    sim.rejectUpgrades(null);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(900);
    expect(sim.stats).toMatchObject({ upgrades: 2, refusedUpgrades: 1 });
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ reconnects: 0, errors: 1, lastError: `upgrade refused with HTTP ${status} (rate limit or ban)` });
  });

  it('keeps retrying an upgrade refused with HTTP 503, and stays CONNECTING until it succeeds', async () => {
    const sim = await harness.sim();
    sim.rejectUpgrades(503);
    const t = harness.feed(sim);
    await waitFor(() => sim.stats.refusedUpgrades >= 3, 'three refusals');
    expect(t.health().status).toBe('CONNECTING');
    sim.rejectUpgrades(null);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(t.health().reconnects).toBe(0);
  });

  it('keeps retrying a refused TCP connection until the exchange appears', async () => {
    const port = await freePort();
    const t = harness.feed(null, { wsUrl: `ws://127.0.0.1:${port}/stream`, restUrl: null });
    await waitFor(() => t.health().errors >= 2, 'two failed attempts');
    expect(t.health().status).toBe('CONNECTING');
    expect(t.health().lastError).toMatch(/ECONNREFUSED/);
    await harness.sim({ port });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.health().reconnects).toBe(0);
  });

  it('does not reconnect sooner than an error frame’s retryAfterMs', async () => {
    const sim = await harness.sim();
    const adapter = customAdapter(sim, { parse: (text) => (text === 'SLOW DOWN' ? { kind: 'error', message: 'slow down', retryAfterMs: 800 } : null) });
    const t = harness.feed(sim, { adapter, backoff: { baseMs: 1, capMs: 5 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    sim.sendRaw('SLOW DOWN');
    await waitFor(() => t.health().errors === 1, 'the error frame');
    expect(t.health().status).toBe('LIVE'); // an error frame alone does not drop the socket
    const droppedAt = Date.now();
    sim.dropConnections();
    await waitFor(() => sim.stats.upgrades === 2, 'the reconnect');
    expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(700);
  });

  it('keeps the old socket serving when a rotation’s replacement fails, and retries the rotation', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim, { backoff: { baseMs: 20, capMs: 50 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    sim.rejectUpgrades(503);
    sim.shutdownNotice({ closeAfterMs: null });
    await waitFor(() => sim.stats.refusedUpgrades >= 2, 'two failed replacements');
    expect(t.health().status).toBe('LIVE');
    expect(sim.push('BTCUSDT', { E: 1785300000001 }).delivered).toBe(1);
    await waitFor(() => t.markets.length === 1, 'data through the old socket');

    sim.rejectUpgrades(null);
    await waitFor(() => sim.connections === 1 && sim.stats.upgrades - sim.stats.refusedUpgrades === 2, 'the rotation to complete');
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0 });
    expect(t.health().lastError).toMatch(/rotation replacement failed: upgrade refused with HTTP 503/);
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
  });
});

describe('connection failure policy: fatal', () => {
  it('gives up on an upgrade refused with HTTP 404 and reports DOWN', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim, { wsUrl: sim.wsUrl.replace('/stream', '/nowhere') });
    await waitFor(() => t.health().status === 'DOWN', 'DOWN');
    await sleep(200);
    expect(sim.stats.upgrades).toBe(1);
    expect(t.statuses).toEqual(['CONNECTING', 'DOWN']);
    expect(t.health().lastError).toBe('upgrade refused with HTTP 404');
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
  });

  it('gives up on a URL that WebSocket cannot open', async () => {
    const t = harness.feed(null, { wsUrl: 'ftp://127.0.0.1/stream', restUrl: null });
    await waitFor(() => t.health().status === 'DOWN', 'DOWN');
    expect(t.health().lastError).toMatch(/^cannot open ftp:\/\/127\.0\.0\.1\/stream/);
  });
});

describe('connection pacing and shutdown', () => {
  it('sends a client heartbeat on its interval, paced with everything else', async () => {
    const sim = await harness.sim();
    // Asked for 20 heartbeats a second; Binance-style limits allow five frames.
    const adapter = customAdapter(sim, { clientHeartbeat: { intervalMs: 50, message: '{"method":"LIST_SUBSCRIPTIONS","id":7}' } });
    const t = harness.feed(sim, { adapter });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    await sleep(1500);
    expect(sim.stats.requests).toBeGreaterThanOrEqual(5);
    expect(sim.stats.peakInboundPerSecond).toBeLessThanOrEqual(5);
    expect(sim.stats).toMatchObject({ rateLimitCloses: 0, upgrades: 1 });
    expect(t.health().status).toBe('LIVE');
  });

  it('stop() while retrying leaves no socket or timer behind', async () => {
    const port = await freePort();
    const t = harness.feed(null, { wsUrl: `ws://127.0.0.1:${port}/stream`, restUrl: null, backoff: { baseMs: 5_000, capMs: 5_000 } });
    await waitFor(() => t.health().errors >= 1, 'a failed attempt');
    expect(t.feed.openResources().timers).toBe(1); // the pending retry
    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.statuses).toEqual(['CONNECTING', 'DOWN']);
  });
});
