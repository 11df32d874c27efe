import { describe, expect, it } from 'vitest';
import { createKeys, escapeGlob } from '../../src/redis/keys';
import { selectionMatcher, triggersFor } from '../../src/subscriptions/price-updates';
import { makeMarket } from '../support/market-factory';

const keys = createKeys('tq');

describe('priceUpdated channel selection', () => {
  it('listens to exact market channels when ids are given', () => {
    expect(triggersFor(keys, { ids: ['binance:BTC/USDT', 'kraken:ETH/USD'], exchanges: ['binance'] })).toEqual([
      { name: 'tq:tick:binance:BTC/USDT', pattern: false },
      { name: 'tq:tick:kraken:ETH/USD', pattern: false },
    ]);
  });

  it('listens to exact channels for every exchange x symbol pair', () => {
    expect(triggersFor(keys, { exchanges: ['Binance', 'okx'], symbols: ['btc/usdt'] }).map((t) => t.name)).toEqual([
      'tq:tick:binance:BTC/USDT',
      'tq:tick:okx:BTC/USDT',
    ]);
  });

  it('uses one pattern per exchange, per symbol, or one for everything', () => {
    expect(triggersFor(keys, { exchanges: ['kraken'] })).toEqual([{ name: 'tq:tick:kraken:*', pattern: true }]);
    expect(triggersFor(keys, { symbols: ['ETH/USD'] })).toEqual([{ name: 'tq:tick:*:ETH/USD', pattern: true }]);
    expect(triggersFor(keys, {})).toEqual([{ name: 'tq:tick:*', pattern: true }]);
  });

  it('escapes glob characters so a symbol pattern matches only that text', () => {
    expect(escapeGlob('A*[B]?\\')).toBe('A\\*\\[B\\]\\?\\\\');
    expect(triggersFor(keys, { symbols: ['*'] })).toEqual([{ name: 'tq:tick:*:\\*', pattern: true }]);
  });

  it('subscribes to nothing for an empty id list', () => {
    expect(triggersFor(keys, { ids: [] })).toEqual([]);
  });

  it('combines arguments with AND, lists with OR, case-insensitively for exchanges and symbols', () => {
    const btc = makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT' });
    const eth = makeMarket({ exchange: 'kraken', base: 'ETH', quote: 'USD' });
    const match = selectionMatcher({ exchanges: ['BINANCE', 'okx'], symbols: ['btc/usdt', 'ETH/USD'] });
    expect(match(btc)).toBe(true);
    expect(match(eth)).toBe(false);
    expect(selectionMatcher({ ids: ['kraken:ETH/USD'] })(eth)).toBe(true);
    expect(selectionMatcher({ ids: ['kraken:eth/usd'] })(eth)).toBe(false);
    expect(selectionMatcher({})(eth)).toBe(true);
  });
});
