/**
 * The real OKX adapter against the real public endpoint. Needs the network, so it runs only
 * when asked: `RUN_LIVE_TESTS=1 npx vitest run test/live/okx.live.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { createOkxAdapter, OKX_REST_URL, OKX_WS_URL } from '../../src/ingest/exchanges/okx';
import { Feed } from '../../src/ingest/feed';
import type { Market } from '../../src/market';
import { silentLogger } from '../../src/logger';
import { waitFor } from '../support/wait-for';

describe.skipIf(!process.env.RUN_LIVE_TESTS)('OKX live endpoint', () => {
  it('reaches LIVE and yields a sane BTC-USDT market within 30 s', async () => {
    const adapter = createOkxAdapter({
      exchange: 'okx',
      wsUrl: process.env.OKX_WS_URL ?? OKX_WS_URL,
      restUrl: process.env.OKX_REST_URL ?? OKX_REST_URL,
    });
    const markets: Market[] = [];
    const feed = new Feed({ adapter, symbols: { kind: 'configured', symbols: ['BTC-USDT', 'ETH-USDT'] }, logger: silentLogger(), onMarket: (market) => markets.push(market) });
    const deadline = Date.now() + 30_000;
    feed.start();
    try {
      await waitFor(() => feed.health().status === 'LIVE', 'LIVE', deadline - Date.now()).catch((err: unknown) => {
        // Without this the failure says nothing about why (DNS, geo-block, refused subscription).
        throw new Error(`${err instanceof Error ? err.message : String(err)}; last error: ${feed.health().lastError ?? 'none'}`);
      });
      await waitFor(() => markets.some((m) => m.nativeSymbol === 'BTC-USDT'), 'a BTC-USDT ticker', Math.max(1, deadline - Date.now()));
      const btc = markets.filter((m) => m.nativeSymbol === 'BTC-USDT').at(-1)!;
      expect(btc).toMatchObject({ id: 'okx:BTC/USDT', exchange: 'okx', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT' });
      expect(btc.price).toBeGreaterThan(0);
      expect(btc.bid).not.toBeNull();
      expect(btc.ask).not.toBeNull();
      expect(btc.bid!).toBeLessThanOrEqual(btc.ask!);
      expect(btc.changePercent24h).not.toBeNull();
      // Base and quote volume the right way round: their ratio is an average price in the 24h range.
      const average = btc.quoteVolume24h! / btc.volume24h!;
      expect(average).toBeGreaterThanOrEqual(btc.low24h!);
      expect(average).toBeLessThanOrEqual(btc.high24h!);
      expect(Math.abs(btc.updatedAt - Date.now())).toBeLessThan(5 * 60_000);
      expect(feed.health()).toMatchObject({ invalidFrames: 0, errors: 0 });
    } finally {
      await feed.stop();
    }
  }, 45_000);
});
