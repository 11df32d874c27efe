import { describe, expect, it } from 'vitest';
import { distinctSymbols, listOf } from '../../src/ingest/symbol-list';

describe('distinctSymbols', () => {
  it('trims, upper-cases and drops blanks by default', () => {
    expect(distinctSymbols([' btcusdt', 'ETHUSDT ', '', '   '])).toEqual(['BTCUSDT', 'ETHUSDT']);
  });

  it('keeps the first of symbols that differ only in case or spaces, in configuration order', () => {
    expect(distinctSymbols(['eth-usd', 'BTC-USD', ' ETH-USD', 'btc-usd'])).toEqual(['ETH-USD', 'BTC-USD']);
  });

  it('spells each trimmed symbol as told, and de-duplicates the result', () => {
    const spell = (symbol: string): string => symbol.replace('XBT', 'BTC');
    expect(distinctSymbols([' XBT/USD', 'BTC/USD', 'AAPLx/USD '], spell)).toEqual(['BTC/USD', 'AAPLx/USD']);
  });
});

describe('listOf', () => {
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `S${i + 1}`);

  it('names up to ten in full', () => {
    expect(listOf([])).toBe('');
    expect(listOf(['BTCUSDT'])).toBe('BTCUSDT');
    expect(listOf(names(10))).toBe('S1, S2, S3, S4, S5, S6, S7, S8, S9, S10');
  });

  it('names the first ten of a longer list and counts the rest', () => {
    expect(listOf(names(13))).toBe('S1, S2, S3, S4, S5, S6, S7, S8, S9, S10 (+3 more)');
  });
});
