import { describe, expect, it } from 'vitest';
import { fastUpdatedAt, updatedAtOf } from '../../bench/lib/next-message';
import { SUBSCRIPTION_ID } from '../../bench/lib/subscriber-plan';

const next = (priceUpdated: unknown, extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ id: SUBSCRIPTION_ID, type: 'next', payload: { data: { priceUpdated }, ...extra } }));

describe('bench subscribers read updatedAt without parsing the whole message', () => {
  it('reads the same number JSON.parse reads, for many event times', () => {
    for (let i = 0; i < 2000; i++) {
      const updatedAt = 1.7e12 + Math.random() * 1e10 + (i % 3 === 0 ? 0 : Math.random());
      const market = { id: 'binance:BTC/USDT', price: 65000.5, bid: null, ask: 1e-7, changePercent24h: -1.5, updatedAt };
      const message = next(market);
      expect(fastUpdatedAt(message)).toBe((JSON.parse(message.toString()) as { payload: { data: { priceUpdated: { updatedAt: number } } } }).payload.data.priceUpdated.updatedAt);
      expect(updatedAtOf(Buffer.from(JSON.stringify({ ...market, receivedAt: 1 })))).toBe(updatedAt);
    }
  });

  it('leaves every other message to a full parse', () => {
    expect(fastUpdatedAt(Buffer.from('{"type":"connection_ack"}'))).toBeNull();
    expect(fastUpdatedAt(next(null, { errors: [{ message: 'Unexpected error.' }] }))).toBeNull();
    expect(fastUpdatedAt(next({ id: 'x', updatedAt: 1 }, { errors: [] }))).toBeNull();
    expect(fastUpdatedAt(next({ id: 'x', updatedAt: 'soon' }))).toBeNull();
    expect(fastUpdatedAt(Buffer.from(JSON.stringify({ id: '2', type: 'next', payload: { data: { priceUpdated: { updatedAt: 1 } } } })))).toBeNull();
    expect(updatedAtOf(Buffer.from('{"id":"x"}'))).toBeNull();
  });
});
