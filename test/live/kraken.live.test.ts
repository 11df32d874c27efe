/**
 * Against the real Kraken v2 endpoint. Runs only with RUN_LIVE_TESTS=1 (the machines that run
 * the suite have no network); the rest of the suite drives the same adapter against a local
 * server speaking Kraken's v2 protocol (test/support/exchanges/kraken-server.ts).
 */
import { describe, expect, it } from 'vitest';
import { KRAKEN_REST_URL, KRAKEN_WS_URL, createKrakenAdapter } from '../../src/ingest/exchanges/kraken';
import { Feed } from '../../src/ingest/feed';
import type { Market } from '../../src/market';
import { silentLogger } from '../../src/logger';

describe.skipIf(!process.env.RUN_LIVE_TESTS)('Kraken v2, live', () => {
  it('goes LIVE and delivers BTC/USD with a sane book and a derived open', async () => {
    const markets: Market[] = [];
    const feed = new Feed({
      // XBT/USD on purpose: the legacy spelling must still end up subscribed as BTC/USD.
      adapter: createKrakenAdapter({ exchange: 'kraken', wsUrl: KRAKEN_WS_URL, restUrl: KRAKEN_REST_URL }),
      onMarket: (m) => markets.push(m),
      logger: silentLogger(),
    });
    feed.start();
    try {
      await expect
        .poll(() => markets.some((m) => m.id === 'kraken:BTC/USD'), { timeout: 30_000 })
        .toBe(true)
        .catch((err: unknown) => {
          throw new Error(`no BTC/USD within 30 s; feed health: ${JSON.stringify(feed.health())}`, { cause: err });
        });
      const btc = markets.filter((m) => m.id === 'kraken:BTC/USD').at(-1)!;
      expect(feed.health()).toMatchObject({ status: 'LIVE', errors: 0, invalidFrames: 0 });
      expect(btc).toMatchObject({ nativeSymbol: 'BTC/USD', base: 'BTC', quote: 'USD', quoteVolume24h: null });
      expect(btc.bid!).toBeLessThanOrEqual(btc.ask!);
      expect(btc.open24h).toBeGreaterThan(0);
      expect(btc.volume24h).toBeGreaterThan(0);
      // Event time is Kraken's, within a day of ours (a snapshot carries the last trade time, which can be old for a quiet pair).
      expect(Math.abs(btc.updatedAt - Date.now())).toBeLessThan(24 * 3600 * 1000);
    } finally {
      await feed.stop();
    }
  }, 40_000);
});
