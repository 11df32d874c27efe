import { describe, expect, it } from 'vitest';
import { parseBinanceFrame } from '../../src/ingest/exchanges/binance';
import { SimMarkets, simSymbols } from '../../src/ingest/sim/sim-markets';
import { deriveSymbolInfo } from '../../src/ingest/symbols';

describe('simulated markets', () => {
  it('lists real-looking pairs first, then generated ones, exactly as many as asked', () => {
    const list = simSymbols(400);
    expect(list).toHaveLength(400);
    expect(new Set(list.map((s) => s.symbol)).size).toBe(400);
    expect(list.slice(0, 2)).toEqual([
      { symbol: 'BTCUSDT', base: 'BTC', quote: 'USDT' },
      { symbol: 'ETHUSDT', base: 'ETH', quote: 'USDT' },
    ]);
    expect(list.map((s) => s.symbol)).toEqual(expect.arrayContaining(['ETHBTC', 'BNBBTC', 'SOLEUR']));
    expect(list.map((s) => s.symbol)).not.toContain('BTCETH');
    // Every reference quote has a market that prices it against USDT (its USD rate).
    expect(list.map((s) => s.symbol)).toEqual(expect.arrayContaining(['USDCUSDT', 'FDUSDUSDT', 'EURUSDT', 'USDTTRY']));
  });

  it('spells every symbol so that the suffix fallback derives the same base and quote', () => {
    for (const s of simSymbols(500)) expect(deriveSymbolInfo(s.symbol)).toEqual({ nativeSymbol: s.symbol, base: s.base, quote: s.quote });
  });

  it('reproduces the same listing and price path from the same seed', () => {
    const run = (seed: number) => {
      const markets = new SimMarkets(320, seed);
      markets.stepRandom(2000);
      return markets.list.map((s) => markets.event(s.symbol, 1));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('sends internally consistent tickers that the Binance parser accepts', () => {
    const markets = new SimMarkets(320, 3);
    for (let round = 0; round < 20; round++) {
      markets.stepRandom(500);
      for (const { symbol } of markets.list) {
        const e = markets.event(symbol, 1785300000000 + round);
        const [c, o, h, l, b, a, v, q] = [e.c, e.o, e.h, e.l, e.b, e.a, e.v, e.q].map(Number) as [number, number, number, number, number, number, number, number];
        const tick = markets.tickSize(symbol);
        expect(Number(e.p)).toBeCloseTo(c - o, 8);
        expect(Number(e.P)).toBeCloseTo(((c - o) / o) * 100, 2);
        expect(l).toBeLessThanOrEqual(c);
        expect(c).toBeLessThanOrEqual(h);
        expect(0).toBeLessThan(b);
        expect(b).toBeLessThan(a);
        expect(b - tick / 2).toBeLessThanOrEqual(c);
        expect(c).toBeLessThanOrEqual(a + tick / 2);
        expect(Number(e.w)).toBeCloseTo(q / v, 6);
        expect(e.L - e.F + 1).toBe(e.n);
        const parsed = parseBinanceFrame(JSON.stringify({ stream: `${symbol.toLowerCase()}@ticker`, data: e }));
        expect(parsed.kind).toBe('tickers');
      }
    }
  });
});
