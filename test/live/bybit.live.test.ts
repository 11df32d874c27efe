/**
 * Against the real Bybit v5 spot endpoint. Runs only with RUN_LIVE_TESTS=1 (the machines that
 * run the suite have no network); the rest of the suite drives the same adapter against a
 * local server speaking Bybit's protocol. instruments-info is geo-blocked in some regions:
 * then names are derived from the text, which still gives BTC/USDT.
 */
import { describe, expect, it } from 'vitest';
import { BYBIT_REST_URL, BYBIT_WS_URL, createBybitAdapter } from '../../src/ingest/exchanges/bybit';
import { Feed } from '../../src/ingest/feed';
import type { Market } from '../../src/market';
import { silentLogger } from '../../src/logger';

describe.skipIf(!process.env.RUN_LIVE_TESTS)('Bybit spot, live', () => {
  it('goes LIVE and delivers BTC/USDT with a bid and an ask from orderbook.1', async () => {
    const markets: Market[] = [];
    const feed = new Feed({
      symbols: { kind: 'configured', symbols: ['BTCUSDT'] },
      adapter: createBybitAdapter({ exchange: 'bybit', wsUrl: BYBIT_WS_URL, restUrl: BYBIT_REST_URL }),
      onMarket: (m) => markets.push(m),
      logger: silentLogger(),
    });
    feed.start();
    try {
      await expect.poll(() => markets.some((m) => m.bid !== null && m.ask !== null), { timeout: 30_000 }).toBe(true);
      const btc = markets.filter((m) => m.bid !== null && m.ask !== null).at(-1)!;
      expect(feed.health()).toMatchObject({ status: 'LIVE', errors: 0, invalidFrames: 0 });
      expect(btc).toMatchObject({ id: 'bybit:BTC/USDT', base: 'BTC', quote: 'USDT', nativeSymbol: 'BTCUSDT' });
      expect(btc.bid!).toBeLessThanOrEqual(btc.ask!);
      expect(btc.price).toBeGreaterThan(0);
      expect(btc.open24h).toBeGreaterThan(0);
      expect(btc.quoteVolume24h).toBeGreaterThan(0);
      // Computed from prevPrice24h; a BTC day beyond ±100 % would mean a unit mix-up.
      expect(Math.abs(btc.changePercent24h!)).toBeLessThan(100);
    } finally {
      await feed.stop();
    }
  }, 40_000);
});
