/**
 * A feed that follows the exchange's listing (feed.ts, listing.ts), against the local Binance
 * simulator: the whole listing at start-up, new listings and delistings while running, and a
 * listing that cannot be trusted (garbage, empty, absurdly large), which must never cost the
 * markets the feed already serves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { IngestHarness, type FeedUnderTest } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

/** A simulator that sends every subscribed market's ticker at once, as Binance's stream does within a second. */
function sim(markets: number): Promise<BinanceSim> {
  return harness.sim({ markets, snapshotOnSubscribe: true });
}

function emittedSymbols(t: FeedUnderTest): Set<string> {
  return new Set(t.markets.map((m) => m.nativeSymbol));
}

describe('a feed following the listing', () => {
  it('subscribes every trading market of the listing and none that is not trading', async () => {
    const exchange = await sim(40);
    const halted = exchange.listing[3]!.symbol;
    exchange.delist(halted);
    const t = harness.feed(exchange, { symbols: 'listing' });
    const trading = exchange.listing.filter((m) => m.trading).map((m) => m.symbol);
    await waitFor(() => trading.every((symbol) => emittedSymbols(t).has(symbol)), 'every trading market');
    expect(t.feed.symbols).toHaveLength(39);
    expect(t.feed.symbols).not.toContain(halted);
    expect(exchange.subscribers(halted)).toBe(0);
    expect(t.health()).toMatchObject({ status: 'LIVE', symbols: 39, markets: 39, connections: 1, errors: 0 });
  });

  it('subscribes a new listing and drops a delisted market on the next read, without touching other connections', async () => {
    const exchange = await sim(10);
    const removed: string[][] = [];
    const t = harness.feed(exchange, { symbols: 'listing', listingRefreshMs: 300, onSymbolsChange: ({ removed: ids }) => removed.push([...ids]) });
    await waitFor(() => t.health().markets === 10, 'the first ten markets');
    const upgrades = exchange.stats.upgrades;

    exchange.list({ symbol: 'NEWUSDT', base: 'NEW', quote: 'USDT' });
    const gone = exchange.listing[0]!;
    exchange.delist(gone.symbol);
    await waitFor(() => emittedSymbols(t).has('NEWUSDT'), 'the new market');
    await waitFor(() => !t.feed.symbols.includes(gone.symbol), 'the delisted market unsubscribed');
    expect(removed.flat()).toEqual([`sim:${gone.base}/${gone.quote}`]);
    expect(t.health()).toMatchObject({ status: 'LIVE', symbols: 10, markets: 10, reconnects: 0 });
    expect(exchange.stats.upgrades).toBe(upgrades); // the new symbol went onto the open connection

    // What still arrives for the delisted market changes nothing.
    const seen = t.markets.length;
    exchange.sendRaw(JSON.stringify({ stream: `${gone.symbol.toLowerCase()}@ticker`, data: { e: '24hrTicker', E: Date.now(), s: gone.symbol, c: '1.5' } }));
    exchange.push('NEWUSDT');
    await waitFor(() => t.markets.length > seen, 'the next frame of a listed market');
    expect(t.markets.slice(seen).map((m) => m.nativeSymbol)).toEqual(['NEWUSDT']);
  });

  it('falls back to the built-in pairs when the listing is garbage at start-up, and takes the listing once it reads', async () => {
    const exchange = await sim(12);
    exchange.setListingBody('<html>maintenance</html>');
    const t = harness.feed(exchange, { symbols: 'listing', fallback: ['BTCUSDT', 'ETHUSDT'], listingRefreshMs: 300 });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE on the built-in pairs');
    expect(t.feed.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    const warning = String(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning);
    expect(warning).toMatch(/the listing could not be read \(GET .*exchangeInfo.*not JSON.*\); subscribing the 2 built-in major pairs instead/);
    expect(t.health().errors).toBeGreaterThanOrEqual(1);

    exchange.setListingBody(null);
    await waitFor(() => t.feed.symbols.length === 12, 'the whole listing', 70_000);
  }, 80_000);

  it.each([
    ['garbage', 'not json at all'],
    ['an empty listing', JSON.stringify({ timezone: 'UTC', serverTime: 1, symbols: [] })],
    ['a listing with nothing trading', JSON.stringify({ symbols: [{ symbol: 'AAAUSDT', status: 'BREAK', baseAsset: 'AAA', quoteAsset: 'USDT' }] })],
  ])('keeps every market it serves when a refresh reads %s, and counts it', async (_what, body) => {
    const exchange = await sim(8);
    const t = harness.feed(exchange, { symbols: 'listing', listingRefreshMs: 200 });
    await waitFor(() => t.health().markets === 8, 'eight markets');
    const errors = t.health().errors;
    exchange.setListingBody(body);
    await waitFor(() => t.health().errors > errors, 'the failed refresh counted');
    await sleep(500); // more refreshes fail the same way
    expect(t.feed.symbols).toHaveLength(8);
    expect(t.health()).toMatchObject({ status: 'LIVE', markets: 8 });
    expect(t.health().lastError).toMatch(/^listing refresh failed: /);
    expect(t.warnings.some((w) => w.msg === 'listing could not be read; keeping every market subscribed now')).toBe(true);
  });

  it('takes at most 10,000 markets from a listing of 100,000 and says how many it left out', async () => {
    const exchange = await sim(4);
    const symbols = Array.from({ length: 100_000 }, (_, i) => ({ symbol: `X${i}USDT`, status: 'TRADING', baseAsset: `X${i}`, quoteAsset: 'USDT' }));
    exchange.setListingBody(JSON.stringify({ symbols }));
    const t = harness.feed(exchange, { symbols: 'listing' });
    await waitFor(() => t.feed.symbols.length === 10_000, 'ten thousand symbols', 15_000);
    expect(t.health().lastError).toBe('the listing holds 90000 trading markets beyond the limit of 10000; they are not subscribed');
    await waitFor(() => t.health().connections === 10, 'ten connections of at most 1024 streams', 20_000);
  }, 30_000);

  it('narrows the listing to the configured quotes', async () => {
    // The synthetic listing mixes quotes as a real exchange does.
    const exchange = await harness.serve(BinanceSim.start({ listing: 40, tickMs: 0, pingIntervalMs: 0, snapshotOnSubscribe: true }));
    const t = harness.feed(exchange, { adapter: createBinanceAdapter({ exchange: 'sim', wsUrl: exchange.wsUrl, restUrl: exchange.restUrl }), symbols: 'listing', quotes: ['BTC', 'eth'] });
    const wanted = exchange.listing.filter((m) => m.quote === 'BTC' || m.quote === 'ETH').map((m) => m.symbol);
    expect(wanted.length).toBeGreaterThan(0);
    await waitFor(() => t.feed.symbols.length > 0, 'subscribed');
    expect(t.feed.symbols).toEqual(wanted);
  });
});
