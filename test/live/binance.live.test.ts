/**
 * Against the real Binance endpoint. Runs only with RUN_LIVE_TESTS=1 (the machines that run
 * the suite have no network); the rest of the suite drives the same adapter against a local
 * server speaking Binance's protocol.
 */
import { describe, expect, it } from 'vitest';
import { BINANCE_REST_URL, BINANCE_WS_URL, createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { Feed } from '../../src/ingest/feed';
import type { Market } from '../../src/market';
import { silentLogger } from '../../src/logger';

describe.skipIf(!process.env.RUN_LIVE_TESTS)('Binance, live', () => {
  it('goes LIVE and delivers BTC/USDT with a sane book', async () => {
    const markets: Market[] = [];
    const feed = new Feed({
      symbols: { kind: 'configured', symbols: ['BTCUSDT'] },
      adapter: createBinanceAdapter({ exchange: 'binance', wsUrl: BINANCE_WS_URL, restUrl: BINANCE_REST_URL }),
      onMarket: (m) => markets.push(m),
      logger: silentLogger(),
    });
    feed.start();
    try {
      await expect.poll(() => markets.length, { timeout: 30_000 }).toBeGreaterThan(0);
      const btc = markets.at(-1)!;
      expect(feed.health().status).toBe('LIVE');
      expect(btc).toMatchObject({ id: 'binance:BTC/USDT', base: 'BTC', quote: 'USDT' });
      expect(btc.bid!).toBeLessThanOrEqual(btc.ask!);
      expect(btc.quoteVolume24h).toBeGreaterThan(0);
    } finally {
      await feed.stop();
    }
  }, 40_000);
});
