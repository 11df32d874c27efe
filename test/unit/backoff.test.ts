import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelay, resolveBackoff } from '../../src/ingest/backoff';

describe('reconnect backoff', () => {
  const top = () => 0.999999;

  it('documents its defaults: 500 ms base, 30 s cap, reset after 30 s of health', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 500, capMs: 30_000, healthyAfterMs: 30_000 });
    expect(resolveBackoff({ baseMs: 10 })).toEqual({ baseMs: 10, capMs: 30_000, healthyAfterMs: 30_000 });
  });

  it('doubles the window with each attempt up to the cap', () => {
    const windows = [0, 1, 2, 3, 4, 5, 6, 7, 50, 5000].map((attempt) => backoffDelay(attempt, top, DEFAULT_BACKOFF) + 1);
    expect(windows).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it('draws the delay uniformly from the whole window (full jitter)', () => {
    expect(backoffDelay(3, () => 0, DEFAULT_BACKOFF)).toBe(0);
    expect(backoffDelay(3, () => 0.5, DEFAULT_BACKOFF)).toBe(2000);
  });

  it('never goes below zero or above the cap', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const delay = backoffDelay(attempt, () => r, DEFAULT_BACKOFF);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(DEFAULT_BACKOFF.capMs);
      }),
    );
  });
});
