import { describe, expect, it } from 'vitest';
import {
  KNOWN_QUOTE_ASSETS,
  deriveSymbolInfo,
  deriveSymbolInfoOrUnknown,
  rememberDerived,
  splitConcatenated,
  splitSeparated,
} from '../../src/ingest/symbols';

describe('deriving base and quote from symbol text', () => {
  it.each([
    ['BTCUSDT', 'BTC', 'USDT'],
    ['ETHBTC', 'ETH', 'BTC'],
    ['BNBETH', 'BNB', 'ETH'],
    ['BTCFDUSD', 'BTC', 'FDUSD'],
    ['BTCTUSD', 'BTC', 'TUSD'],
    ['USDCUSDT', 'USDC', 'USDT'],
    ['EURUSDT', 'EUR', 'USDT'],
    ['BTCEURI', 'BTC', 'EURI'],
    ['BTCEUR', 'BTC', 'EUR'],
    ['ETHTRY', 'ETH', 'TRY'],
    ['1000SATSUSDT', '1000SATS', 'USDT'],
    ['WBETHETH', 'WBETH', 'ETH'],
    ['BTCUSD1', 'BTC', 'USD1'],
    ['ADAEUR', 'ADA', 'EUR'],
  ])('splits %s on its longest known quote suffix into %s/%s', (symbol, base, quote) => {
    expect(splitConcatenated(symbol)).toEqual({ nativeSymbol: symbol, base, quote });
  });

  it('upper-cases asset codes but keeps the native spelling', () => {
    expect(deriveSymbolInfo('btcusdt')).toEqual({ nativeSymbol: 'btcusdt', base: 'BTC', quote: 'USDT' });
  });

  it.each([
    ['BTC-USD', 'BTC', 'USD'],
    ['BTC/USD', 'BTC', 'USD'],
    ['eth_usdt', 'ETH', 'USDT'],
    ['BTC-USDT', 'BTC', 'USDT'],
  ])('splits the separated symbol %s into %s/%s', (symbol, base, quote) => {
    expect(splitSeparated(symbol)).toEqual({ nativeSymbol: symbol, base, quote });
    expect(deriveSymbolInfo(symbol)).toEqual({ nativeSymbol: symbol, base, quote });
  });

  it.each(['USDT', 'FOOBAR', 'BTC-', '-USD', ''])('cannot split %j', (symbol) => {
    expect(deriveSymbolInfo(symbol)).toBeNull();
  });

  it('marks an unsplittable symbol with an UNKNOWN quote instead of failing', () => {
    expect(deriveSymbolInfoOrUnknown('foobar')).toEqual({ nativeSymbol: 'foobar', base: 'FOOBAR', quote: 'UNKNOWN' });
  });

  it('tries longer quote codes before shorter ones', () => {
    for (let i = 1; i < KNOWN_QUOTE_ASSETS.length; i++) {
      expect(KNOWN_QUOTE_ASSETS[i - 1]!.length).toBeGreaterThanOrEqual(KNOWN_QUOTE_ASSETS[i]!.length);
    }
    expect(KNOWN_QUOTE_ASSETS).toEqual(expect.arrayContaining(['USDT', 'USDC', 'FDUSD', 'TUSD', 'BUSD', 'DAI', 'BTC', 'ETH', 'BNB', 'EUR', 'TRY', 'BRL']));
  });
});

describe('rememberDerived', () => {
  it('derives each symbol once and answers with the same object afterwards', () => {
    const asked: string[] = [];
    const derive = rememberDerived((symbol) => {
      asked.push(symbol);
      return deriveSymbolInfoOrUnknown(symbol);
    });
    const first = derive('BTCUSDT');
    expect(derive('BTCUSDT')).toBe(first);
    expect(derive('ETHBTC')).toEqual({ nativeSymbol: 'ETHBTC', base: 'ETH', quote: 'BTC' });
    expect(asked).toEqual(['BTCUSDT', 'ETHBTC']);
  });
});
