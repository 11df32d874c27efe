/**
 * Against the real Coinbase Advanced Trade endpoint. Runs only with RUN_LIVE_TESTS=1 (the
 * machines that run the suite have no network); the rest of the suite drives the same adapter
 * against a local server speaking Coinbase's protocol.
 */
import { describe, expect, it } from 'vitest';
import { COINBASE_REST_URL, COINBASE_WS_URL, createCoinbaseAdapter } from '../../src/ingest/exchanges/coinbase';
import { Feed } from '../../src/ingest/feed';
import type { Market } from '../../src/market';
import { silentLogger } from '../../src/logger';

describe.skipIf(!process.env.RUN_LIVE_TESTS)('Coinbase Advanced Trade, live', () => {
  it('goes LIVE and delivers BTC-USD with a sane book', async () => {
    const markets: Market[] = [];
    const adapter = createCoinbaseAdapter({ exchange: 'coinbase', wsUrl: COINBASE_WS_URL, restUrl: COINBASE_REST_URL });
    const feed = new Feed({ adapter, symbols: { kind: 'configured', symbols: ['BTC-USD'] }, onMarket: (m) => markets.push(m), logger: silentLogger() });
    feed.start();
    try {
      await expect.poll(() => markets.length, { timeout: 30_000 }).toBeGreaterThan(0);
      const btc = markets.at(-1)!;
      expect(feed.health().status).toBe('LIVE');
      expect(btc).toMatchObject({ id: 'coinbase:BTC/USD', base: 'BTC', quote: 'USD', open24h: null, quoteVolume24h: null });
      expect(btc.price).toBeGreaterThan(0);
      expect(btc.bid!).toBeLessThanOrEqual(btc.ask!);
      expect(btc.volume24h).toBeGreaterThan(0);
      expect(btc.changePercent24h).not.toBeNull();
      expect(adapter.unconfirmedSymbols(feed.symbols)).toEqual([]);
      // Coinbase stamps events with the current time: within a minute of ours.
      expect(Math.abs(btc.updatedAt - Date.now())).toBeLessThan(60_000);
    } finally {
      await feed.stop();
    }
  }, 40_000);
});
