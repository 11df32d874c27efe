import { describe, expect, it } from 'vitest';
import { CorruptMarketError, DecodedMarkets, decodeMarket, encodeMarket } from '../../src/redis/market-codec';
import { makeMarket } from '../support/market-factory';

/** A new string with the same text, as each Redis reply is. */
const copy = (text: string) => Buffer.from(text).toString();

describe('DecodedMarkets', () => {
  it('decodes a text as decodeMarket does, and hands out the same market for the same text again', () => {
    const decoded = new DecodedMarkets();
    const text = encodeMarket(makeMarket({ exchange: 'binance', base: 'BTC', quote: 'USDT', price: 10.5 }));
    const first = decoded.decode(text);
    expect(first).toEqual(decodeMarket(text));
    expect(decoded.decode(copy(text))).toBe(first);
  });

  it('decodes a changed market anew', () => {
    const decoded = new DecodedMarkets();
    const before = decoded.decode(encodeMarket(makeMarket({ exchange: 'binance', price: 1 })));
    const after = decoded.decode(encodeMarket(makeMarket({ exchange: 'binance', price: 2 })));
    expect([before.price, after.price]).toEqual([1, 2]);
  });

  it('throws for a text that is not a market, and remembers nothing of it', () => {
    const decoded = new DecodedMarkets();
    expect(() => decoded.decode('{"id":1}')).toThrow(CorruptMarketError);
    expect(() => decoded.decode('{"id":1}')).toThrow(CorruptMarketError);
  });

  it('keeps at most two generations: a text unused for two of them is decoded anew', () => {
    const decoded = new DecodedMarkets(2);
    const texts = [1, 2, 3, 4, 5, 6].map((price) => encodeMarket(makeMarket({ exchange: 'binance', price })));
    const first = decoded.decode(texts[0]!);
    decoded.decode(texts[1]!); // generation 1 full: [0, 1]
    decoded.decode(texts[2]!); // generation 2: [2]; generation 1 kept as the old one
    expect(decoded.decode(copy(texts[0]!))).toBe(first); // found in the old one, moved to the new: [2, 0]
    decoded.decode(texts[3]!); // [3]; old [2, 0]
    decoded.decode(texts[4]!); // [3, 4]
    decoded.decode(texts[5]!); // [5]; old [3, 4]: 0 is gone
    expect(decoded.decode(copy(texts[0]!))).not.toBe(first);
    expect(decoded.decode(copy(texts[0]!))).toEqual(first);
  });
});
