import { describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { candidateIds, computeRates, rateTable, usdValue, type QuoteRate } from '../../src/quote-rates';
import { makeMarket } from '../support/market-factory';

const live = () => true;

/** quote -> [rate, source id, basis], the parts of the table the rule decides. */
function summary(rates: readonly QuoteRate[]): Record<string, [number | null, string | null, string]> {
  return Object.fromEntries(rates.map((r) => [r.quote, [r.rate, r.source?.id ?? null, r.basis]]));
}

describe('the USD rate rule', () => {
  it('prices USD by definition, USDT by its USD market, and other quotes through USD or USDT', () => {
    const markets: Market[] = [
      makeMarket({ exchange: 'kraken', base: 'USDT', quote: 'USD', price: 0.9995, quoteVolume24h: 50e6 }),
      makeMarket({ exchange: 'binance', base: 'USDT', quote: 'TRY', price: 34.5, volume24h: 80e6 }),
      makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT', price: 97000, quoteVolume24h: 2e9 }),
      makeMarket({ exchange: 'kraken', base: 'EUR', quote: 'USD', price: 1.08, quoteVolume24h: 10e6 }),
    ];
    expect(summary(computeRates(['USD', 'USDT', 'TRY', 'BTC', 'EUR', 'JPY'], markets, live))).toEqual({
      USD: [1, null, 'DEFINITION'],
      USDT: [0.9995, 'kraken:USDT/USD', 'MARKET'],
      TRY: [0.9995 / 34.5, 'binance:USDT/TRY', 'MARKET'],
      BTC: [97000 * 0.9995, 'binance:BTC/USDT', 'MARKET'],
      EUR: [1.08, 'kraken:EUR/USD', 'MARKET'],
      JPY: [null, null, 'NONE'],
    });
  });

  it('takes the deepest live candidate, by USD volume on the bridge side, ties to the smaller id', () => {
    const btc = (exchange: string, quote: string, price: number, quoteVolume24h: number | null, volume24h: number | null = null) =>
      makeMarket({ exchange, base: 'BTC', quote, price, quoteVolume24h, volume24h });
    const rates = (markets: Market[], isLive: (m: Market) => boolean = live) => summary(computeRates(['BTC'], markets, isLive)).BTC;
    // 40M USDT (at the USDT peg, 1) is deeper than 30M USD.
    expect(rates([btc('coinbase', 'USD', 97100, 30e6), btc('binance', 'USDT', 97000, 40e6)])).toEqual([97000, 'binance:BTC/USDT', 'MARKET']);
    // Without the bridge-side volume, the priced side counts at the candidate's own rate.
    expect(rates([btc('coinbase', 'USD', 97100, null, 1000), btc('kraken', 'USD', 97050, 50e6)])).toEqual([97100, 'coinbase:BTC/USD', 'MARKET']);
    // No volume at all ranks last; equal depth goes to the smaller id.
    expect(rates([btc('okx', 'USD', 1, null), btc('kraken', 'USD', 2, 0)])).toEqual([2, 'kraken:BTC/USD', 'MARKET']);
    expect(rates([btc('okx', 'USD', 1, 5), btc('kraken', 'USD', 2, 5)])).toEqual([2, 'kraken:BTC/USD', 'MARKET']);
    // A stale source is not used: the next one takes over, or there is no rate.
    const deep = btc('binance', 'USDT', 97000, 40e6);
    expect(rates([deep, btc('coinbase', 'USD', 97100, 1)], (m) => m !== deep)).toEqual([97100, 'coinbase:BTC/USD', 'MARKET']);
    expect(rates([deep], () => false)).toEqual([null, null, 'NONE']);
    // A price that cannot be a rate is no candidate.
    expect(rates([btc('kraken', 'USD', 0, 50e6)])).toEqual([null, null, 'NONE']);
  });

  it('takes USDT at its peg while no live USD market prices it, and says so', () => {
    const stale = makeMarket({ exchange: 'kraken', base: 'USDT', quote: 'USD', price: 0.99 });
    const rates = computeRates(['USDT', 'ETH'], [stale, makeMarket({ base: 'ETH', quote: 'USDT', price: 3400 })], (m) => m !== stale);
    expect(summary(rates)).toEqual({ USDT: [1, null, 'PEG'], ETH: [3400, 'binance:ETH/USDT', 'MARKET'] });
    expect(rates.find((r) => r.quote === 'ETH')?.via).toBe('USDT');
  });

  it('names every market that could price the quote assets, and nothing else', () => {
    expect(candidateIds(['kraken'], ['USD', 'EUR']).sort()).toEqual(
      ['kraken:EUR/USD', 'kraken:USD/EUR', 'kraken:EUR/USDT', 'kraken:USDT/EUR', 'kraken:USDT/USD', 'kraken:USD/USDT'].sort(),
    );
  });

  it('converts a value only when both it and the rate are known', () => {
    const table = rateTable(3, computeRates(['USD', 'JPY'], [], live));
    expect(table.quotes).toEqual(['JPY', 'USD']);
    expect(usdValue(5, table.rateOf('USD'))).toBe(5);
    expect(usdValue(5, table.rateOf('JPY'))).toBeNull();
    expect(usdValue(null, 1)).toBeNull();
  });
});
