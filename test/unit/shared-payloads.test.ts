import { parse } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { sharedSelectionKey } from '../../src/delivery/shared-subscriptions';
import { SharedPayloads } from '../../src/delivery/shared-payloads';

const key = (query: string, operationName?: string) => sharedSelectionKey(parse(query), operationName);

describe('sharedSelectionKey', () => {
  it('gives subscriptions that differ only in the markets they choose the same key', () => {
    const byVariable = key('subscription P($ids: [ID!]) { priceUpdated(ids: $ids) { id price } }');
    const byLiteral = key('subscription { priceUpdated(exchanges: ["binance"], symbols: ["BTC/USDT"]) { id price } }');
    const everything = key('subscription Other { priceUpdated { id price } }');
    expect(byVariable).not.toBeNull();
    expect(byLiteral).toBe(byVariable);
    expect(everything).toBe(byVariable);
  });

  it('tells different selections, aliases and fragments apart', () => {
    const base = key('subscription { priceUpdated { id price } }');
    expect(key('subscription { priceUpdated { id price bid } }')).not.toBe(base);
    expect(key('subscription { p: priceUpdated { id price } }')).not.toBe(base);
    const viaFragment = key('subscription { priceUpdated { ...F } } fragment F on Market { id price }');
    expect(viaFragment).not.toBe(base);
    expect(key('subscription { priceUpdated { ...F } } fragment F on Market { id }')).not.toBe(viaFragment);
  });

  it('refuses a selection whose result would depend on variables or directives', () => {
    expect(key('subscription S($b: Boolean!) { priceUpdated { id bid @include(if: $b) } }')).toBeNull();
    expect(key('subscription S($b: Boolean!) { priceUpdated { ...F } } fragment F on Market { bid @skip(if: $b) }')).toBeNull();
    expect(key('subscription S($b: Boolean!) { priceUpdated @include(if: $b) { id } }')).toBeNull();
  });

  it('refuses queries and operations it cannot pick', () => {
    expect(key('{ markets { total } }')).toBeNull();
    expect(key('subscription A { priceUpdated { id } } subscription B { priceUpdated { price } }')).toBeNull();
    expect(key('subscription A { priceUpdated { id } } subscription B { priceUpdated { price } }', 'B')).toBe(key('subscription { priceUpdated { price } }'));
  });
});

describe('SharedPayloads', () => {
  it('computes a payload once per event and selection, and hands the same text to everyone else', () => {
    const payloads = new SharedPayloads();
    const compute = vi.fn((e: { price: number }) => JSON.stringify(e));
    const first = { price: 1 };
    const second = { price: 2 };
    expect(payloads.get(first, 'a', compute)).toBe('{"price":1}');
    expect(payloads.get(first, 'a', compute)).toBe('{"price":1}');
    expect(payloads.get(first, 'b', compute)).toBe('{"price":1}');
    expect(payloads.get(second, 'a', compute)).toBe('{"price":2}');
    expect(compute).toHaveBeenCalledTimes(3);
    expect(payloads.stats).toEqual({ computed: 3, shared: 1 });
  });

  it('does not keep a computation that failed, so the next subscriber tries again', async () => {
    const payloads = new SharedPayloads();
    const event = {};
    await expect(payloads.get(event, 'a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(payloads.get(event, 'a', () => { throw new Error('sync boom'); })).rejects.toThrow('sync boom');
    expect(await payloads.get(event, 'a', () => Promise.resolve('ok'))).toBe('ok');
  });
});
