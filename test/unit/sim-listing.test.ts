import { describe, expect, it } from 'vitest';
import { listingFrom, SPELLINGS, syntheticMarkets } from '../../src/ingest/sim/listing';
import { decimalText, moveTicker, REFERENCE_ASSETS, startingPrice, type TickerNumbers } from '../../src/ingest/sim/market-prices';
import { createPrng } from '../../src/ingest/sim/prng';
import { deriveSymbolInfo } from '../../src/ingest/symbols';

describe('synthetic listings', () => {
  it('makes exactly as many trading markets as asked, with unique made-up bases, the same on every call', () => {
    const markets = syntheticMarkets(5000, SPELLINGS.binance);
    expect(markets).toHaveLength(5000);
    expect(new Set(markets.map((m) => m.symbol)).size).toBe(5000);
    expect(new Set(markets.map((m) => m.base)).size).toBe(5000);
    expect(markets.every((m) => m.trading)).toBe(true);
    expect(markets[0]).toEqual({ symbol: 'AAAUSDT', base: 'AAA', quote: 'USDT', trading: true });
    expect(markets.filter((m) => REFERENCE_ASSETS.has(m.base))).toEqual([]);
    expect(syntheticMarkets(5000, SPELLINGS.binance)).toEqual(markets);
  });

  it('mixes quotes as a real exchange does, USDT first', () => {
    const counts = new Map<string, number>();
    for (const m of syntheticMarkets(2000, SPELLINGS.okx)) counts.set(m.quote, (counts.get(m.quote) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['BTC', 'ETH', 'EUR', 'TRY', 'USD', 'USDC', 'USDT']);
    const byCount = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    expect(byCount[0]![0]).toBe('USDT');
    expect(byCount[0]![1]).toBeGreaterThan(600);
  });

  it('spells symbols the way each exchange does', () => {
    const spelled = (spell: (typeof SPELLINGS)[keyof typeof SPELLINGS]) => syntheticMarkets(1, spell)[0]!.symbol;
    expect(spelled(SPELLINGS.binance)).toBe('AAAUSDT');
    expect(spelled(SPELLINGS.bybit)).toBe('AAAUSDT');
    expect(spelled(SPELLINGS.coinbase)).toBe('AAA-USDT');
    expect(spelled(SPELLINGS.okx)).toBe('AAA-USDT');
    expect(spelled(SPELLINGS.kraken)).toBe('AAA/USDT');
  });

  it('never makes a concatenated symbol whose longest quote suffix is not its quote', () => {
    // 20 000 markets reach four-letter bases; AAB + USD would read as AA + BUSD, so AAB is skipped for USD.
    const markets = syntheticMarkets(20_000, SPELLINGS.bybit);
    expect(markets.some((m) => m.base.length === 4)).toBe(true);
    for (const m of markets) expect(deriveSymbolInfo(m.symbol)).toEqual({ nativeSymbol: m.symbol, base: m.base, quote: m.quote });
  });

  it('takes a start option: a count, exact entries, or the server default', () => {
    const entries = [{ symbol: 'X-Y', base: 'X', quote: 'Y', trading: false }];
    expect(listingFrom(3, SPELLINGS.coinbase, () => [])).toEqual(syntheticMarkets(3, SPELLINGS.coinbase));
    expect(listingFrom(entries, SPELLINGS.coinbase, () => [])).toEqual(entries);
    expect(listingFrom(undefined, SPELLINGS.coinbase, () => entries)).toEqual(entries);
  });
});

describe('market prices', () => {
  it('starts known pairs at their reference price and made-up ones at a price fixed by the name', () => {
    expect(startingPrice('BTC', 'USDT')).toBe(97000);
    expect(startingPrice('ETH', 'BTC')).toBeCloseTo(3400 / 97000, 12);
    expect(startingPrice('AAA', 'USD')).toBe(startingPrice('AAA', 'USD'));
    expect(startingPrice('AAA', 'USD')).not.toBe(startingPrice('AAB', 'USD'));
    for (const { base, quote } of syntheticMarkets(500, SPELLINGS.binance)) expect(startingPrice(base, quote)).toBeGreaterThanOrEqual(0.0001);
  });

  it('moves a ticker like trades do: last between low and high, a book around it, volume growing, near its open', () => {
    const random = createPrng(5);
    let ticker: TickerNumbers = { last: 100, open: 100, high: 100, low: 100, volume: 1000 };
    for (let i = 0; i < 5000; i++) {
      const moved = moveTicker(ticker, random);
      expect(moved.low).toBeLessThanOrEqual(moved.last);
      expect(moved.last).toBeLessThanOrEqual(moved.high);
      expect(moved.bid).toBeLessThan(moved.last);
      expect(moved.ask).toBeGreaterThan(moved.last);
      expect(moved.volume).toBeGreaterThan(ticker.volume);
      expect(moved.open).toBe(100);
      ticker = moved;
    }
    expect(ticker.last).toBeGreaterThan(80);
    expect(ticker.last).toBeLessThan(125);
    expect(ticker.high).toBeGreaterThan(ticker.low);
  });

  it.each([
    [96871.3, '96871.3'],
    [0.000022, '0.000022'],
    [0.000000001234, '0.000000001234'],
    [-1.37, '-1.37'],
    [99.99000000000001, '99.99'],
    [123456789.123, '123456789'],
    [0, '0'],
    [-0.0000000000000000001, '0'],
  ])('writes %s as plain decimal text %s', (value, text) => {
    expect(decimalText(value)).toBe(text);
  });
});
