/**
 * A feed spread over several connections (connection-pool.ts), against the local Binance
 * simulator, which enforces Binance's 1024 streams per connection and 5 messages per second.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { symbolsPerConnection, type ExchangeAdapter } from '../../src/ingest/adapter';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import type { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { IngestHarness } from '../support/ingest-harness';
import { waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

/** The Binance adapter with a smaller connection capacity, so a few markets need several connections. */
function binanceCarrying(sim: BinanceSim, perConnection: number): ExchangeAdapter {
  const base = createBinanceAdapter({ exchange: 'sim', wsUrl: sim.wsUrl, restUrl: sim.restUrl });
  return Object.assign(Object.create(base) as ExchangeAdapter, { capacity: symbolsPerConnection(perConnection) });
}

describe('a feed over several connections', () => {
  it('subscribes the whole listing over as many connections as the capacity requires, each market once', async () => {
    const sim = await harness.sim({ markets: 30 });
    const t = harness.feed(sim, { adapter: binanceCarrying(sim, 8), symbols: 'listing' });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    const symbols = sim.symbols.map((s) => s.symbol);
    await waitFor(() => symbols.every((symbol) => sim.subscribers(symbol) === 1), 'every listed market subscribed once');
    expect(t.health()).toMatchObject({ connections: 4, symbols: 30 });
    expect(sim.connections).toBe(4);
    for (const symbol of symbols) sim.push(symbol);
    await waitFor(() => t.health().markets === 30, 'every market emitted');
    expect(new Set(t.markets.map((m) => m.nativeSymbol))).toEqual(new Set(symbols));
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
  });

  it('carries more than one connection’s 1024 streams: 1,100 configured symbols on two connections', async () => {
    const sim = await harness.sim({ markets: 1100 });
    const symbols = sim.symbols.map((s) => s.symbol);
    const t = harness.feed(sim, { symbols });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE', 30_000);
    await waitFor(() => symbols.every((symbol) => sim.subscribers(symbol) === 1), 'every symbol subscribed once', 30_000);
    expect(t.health()).toMatchObject({ connections: 2, symbols: 1100, errorFrames: 0 });
    expect(sim.stats.rateLimitCloses).toBe(0);
    expect(t.warnings.filter((w) => String(w.warning ?? '').includes('not subscribed'))).toEqual([]);
  }, 40_000);

  it('reports CONNECTING while no connection is live, and RECONNECTING while a live one is lost', async () => {
    const sim = await harness.sim({ markets: 10 });
    const t = harness.feed(sim, { adapter: binanceCarrying(sim, 5), symbols: 'listing' });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    await waitFor(() => sim.connections === 2, 'two connections');
    sim.dropConnections();
    await waitFor(() => t.health().status === 'LIVE' && t.health().reconnects === 2, 'both connections back');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING', 'LIVE']);
  });
});
