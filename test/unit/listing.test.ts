import { describe, expect, it } from 'vitest';
import type { ListedMarket } from '../../src/ingest/adapter';
import { selectListed, SymbolDirectory } from '../../src/ingest/listing';

function listed(nativeSymbol: string, base: string, quote: string, trading = true): ListedMarket {
  return { nativeSymbol, base, quote, trading, status: trading ? 'TRADING' : 'BREAK' };
}

const LISTING = [
  listed('BTCUSDT', 'BTC', 'USDT'),
  listed('ETHBTC', 'ETH', 'BTC'),
  listed('OLDUSDT', 'OLD', 'USDT', false),
  listed('BTCUSD', 'BTC', 'USD'),
  listed('BTCUSDT', 'BTC', 'USDT'), // listed twice: subscribed once
  listed('SOLUSDT', 'SOL', 'USDT'),
];

describe('choosing markets from a listing', () => {
  it('takes every trading market once, in listing order', () => {
    expect(selectListed(LISTING, null, 100)).toEqual({ symbols: ['BTCUSDT', 'ETHBTC', 'BTCUSD', 'SOLUSDT'], overLimit: 0 });
  });

  it('narrows to the configured quotes, whatever their case', () => {
    expect(selectListed(LISTING, ['usdt', 'USD'], 100).symbols).toEqual(['BTCUSDT', 'BTCUSD', 'SOLUSDT']);
    expect(selectListed(LISTING, ['EUR'], 100).symbols).toEqual([]);
  });

  it('stops at the limit and counts what it left out', () => {
    expect(selectListed(LISTING, null, 2)).toEqual({ symbols: ['BTCUSDT', 'ETHBTC'], overLimit: 2 });
  });
});

describe('symbol directory', () => {
  it('names listed symbols from the listing and others from their text', () => {
    const directory = new SymbolDirectory((symbol) => ({ nativeSymbol: symbol, base: symbol.slice(0, -4), quote: 'DERIVED' }));
    directory.learn([listed('XBTUSDT', 'BTC', 'USDT')]);
    expect(directory.info('XBTUSDT')).toEqual({ nativeSymbol: 'XBTUSDT', base: 'BTC', quote: 'USDT' });
    expect(directory.info('ABCDUSDT')).toEqual({ nativeSymbol: 'ABCDUSDT', base: 'ABCD', quote: 'DERIVED' });
    expect(directory.isListed('XBTUSDT')).toBe(true);
    expect(directory.isListed('ABCDUSDT')).toBe(false);
  });

  it('keeps the first name it gave a symbol, so a market id never changes', () => {
    const directory = new SymbolDirectory((symbol) => ({ nativeSymbol: symbol, base: 'TEXT', quote: 'USDT' }));
    const first = directory.info('ODDUSDT');
    directory.learn([listed('ODDUSDT', 'ODD', 'USDT')]);
    expect(directory.info('ODDUSDT')).toBe(first);
  });
});
