import { describe, expect, it } from 'vitest';
import { inBatches, perRequestLimit } from '../../src/ingest/subscribe-batches';

describe('perRequestLimit', () => {
  it('takes the tuned value, else the exchange default', () => {
    expect(perRequestLimit(50, 200)).toBe(50);
    expect(perRequestLimit(undefined, 200)).toBe(200);
  });

  it('rounds down to a whole count, and never goes below 1', () => {
    expect(perRequestLimit(2.9, 200)).toBe(2);
    expect(perRequestLimit(0, 200)).toBe(1);
    expect(perRequestLimit(-5, 200)).toBe(1);
  });
});

describe('inBatches', () => {
  it('keeps order and fills every batch but the last', () => {
    expect(inBatches(['a', 'b', 'c', 'd', 'e'], 2)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(inBatches(['a', 'b'], 2)).toEqual([['a', 'b']]);
  });

  it('makes no batch of nothing', () => {
    expect(inBatches([], 3)).toEqual([]);
  });
});
