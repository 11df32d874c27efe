import { describe, expect, it } from 'vitest';
import { ConnectionCaps } from '../../src/server/connection-caps';

describe('ConnectionCaps', () => {
  it('refuses past the per-address cap and past the total, and frees a place when released', () => {
    const caps = new ConnectionCaps({ perAddress: 2, total: 3 });
    const a1 = caps.add('a');
    caps.add('a');
    expect(caps.refusal('a')).toBe('address');
    expect(caps.refusal('b')).toBeNull();
    caps.add('b');
    expect(caps.refusal('c')).toBe('total');
    a1();
    a1(); // a second release changes nothing
    expect(caps.total).toBe(2);
    expect(caps.refusal('a')).toBeNull();
    expect(caps.refusal('c')).toBeNull();
  });

  it('keeps no record of an address once its connections are closed', () => {
    const caps = new ConnectionCaps({ perAddress: 1, total: 0 });
    const releases = Array.from({ length: 1000 }, (_, i) => caps.add(`10.0.${i >> 8}.${i & 255}`));
    for (const release of releases) release();
    expect((caps as unknown as { open: Map<string, number> }).open.size).toBe(0);
  });

  it('caps nothing when both limits are 0', () => {
    const caps = new ConnectionCaps({ perAddress: 0, total: 0 });
    for (let i = 0; i < 100; i++) caps.add('a');
    expect(caps.refusal('a')).toBeNull();
  });
});
