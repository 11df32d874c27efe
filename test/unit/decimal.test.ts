import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDecimal } from '../../src/ingest/decimal';

describe('strict decimal parsing', () => {
  it.each([
    ['96874.12000000', 96874.12],
    ['-46.67000000', -46.67],
    ['+1.5', 1.5],
    ['0', 0],
    ['.5', 0.5],
    ['5.', 5],
    ['1e-8', 1e-8],
    ['1.5E+3', 1500],
    ['1752380578.16168097', 1752380578.16168097],
  ])('reads %j as %d', (text, value) => {
    expect(parseDecimal(text)).toBe(value);
  });

  it.each(['', ' ', ' 1', '1 ', 'abc', '1e', 'e5', '1.2.3', '--1', 'NaN', 'Infinity', '-Infinity', '0x1f', '1_000', '1,5', '1e999', '.', '+'])(
    'rejects %j',
    (text) => {
      expect(parseDecimal(text)).toBeNull();
    },
  );

  it('reads back every finite double from its shortest decimal text', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        expect(parseDecimal(String(value)) === value).toBe(true);
      }),
    );
  });
});
