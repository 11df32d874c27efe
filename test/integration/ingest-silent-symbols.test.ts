import { afterEach, describe, expect, it } from 'vitest';
import { IngestHarness } from '../support/ingest-harness';

describe('subscribed symbols that never produce data', () => {
  const harness = new IngestHarness();
  afterEach(() => harness.stopAll());

  it('are reported in health and logged once the grace period after going LIVE has passed', async () => {
    const sim = await harness.sim();
    // Binance (and the simulator) ack a subscription to a symbol they do not list, then stay silent.
    const f = harness.feed(sim, { symbols: ['BTCUSDT', 'ETHBTC', 'BTCUSTD'], silentSymbolsAfterMs: 300 });
    await expect.poll(() => f.health().status).toBe('LIVE');
    sim.push('BTCUSDT');
    sim.push('ETHBTC');
    expect(f.health().silentSymbols).toEqual([]); // not judged before the grace period
    await expect.poll(() => f.health().silentSymbols).toEqual(['BTCUSTD']);
    const warning = f.warnings.find((w) => String(w.msg).startsWith('subscribed symbols sent no data'));
    expect(warning?.msg).toContain('BTCUSTD');
    expect(warning?.msg).not.toContain('BTCUSDT,');
  });

  it('drops a symbol from the report as soon as it speaks', async () => {
    const sim = await harness.sim();
    const f = harness.feed(sim, { symbols: ['BTCUSDT', 'ETHBTC'], silentSymbolsAfterMs: 100 });
    await expect.poll(() => f.health().status).toBe('LIVE');
    sim.push('BTCUSDT');
    await expect.poll(() => f.health().silentSymbols).toEqual(['ETHBTC']);
    sim.push('ETHBTC');
    await expect.poll(() => f.health().silentSymbols).toEqual([]);
  });
});
