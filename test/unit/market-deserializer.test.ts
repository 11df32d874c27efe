import { describe, expect, it } from 'vitest';
import { CorruptMarketError, encodeMarket } from '../../src/redis/market-codec';
import { createMarketDeserializer } from '../../src/subscriptions/market-deserializer';
import { makeMarket } from '../support/market-factory';

const bytes = (price: number) => Buffer.from(encodeMarket(makeMarket({ base: 'BTC', price, updatedAt: price })));

describe('the pub/sub market deserializer', () => {
  it('returns the object it just decoded for the same message on the same channel', () => {
    const decode = createMarketDeserializer();
    const first = decode(bytes(1), { channel: 'p:tick:binance:BTC/USDT' });
    expect(first).toMatchObject({ id: 'binance:BTC/USDT', price: 1 });
    expect(decode(bytes(1), { channel: 'p:tick:binance:BTC/USDT' })).toBe(first);
  });

  it('decodes again when the channel or a single byte differs', () => {
    const decode = createMarketDeserializer();
    const first = decode(bytes(1), { channel: 'a' });
    const otherChannel = decode(bytes(1), { channel: 'b' });
    expect(otherChannel).not.toBe(first);
    expect(otherChannel).toEqual(first);
    const moved = decode(bytes(2), { channel: 'b' });
    expect(moved).toMatchObject({ price: 2 });
    expect(decode(bytes(1), { channel: 'b' })).not.toBe(otherChannel);
  });

  it('throws for a message that is not a market, without forgetting what comes next', () => {
    const decode = createMarketDeserializer();
    expect(() => decode(Buffer.from('{"not":"a market"}'), { channel: 'a' })).toThrow(CorruptMarketError);
    expect(() => decode(Buffer.from('{"not":"a market"}'), { channel: 'a' })).toThrow(CorruptMarketError);
    expect(decode(bytes(3), { channel: 'a' })).toMatchObject({ price: 3 });
    expect(decode(encodeMarket(makeMarket({ base: 'ETH', price: 4 })))).toMatchObject({ price: 4 });
  });
});
