import { describe, expect, it } from 'vitest';
import { readDecimalField } from '../../src/ingest/decimal-field';

describe('readDecimalField', () => {
  const frame = { b: '96874.12000000', c: '-1.5e2', n: 5, blank: '', word: 'abc' };

  it('reads a decimal string once, strictly', () => {
    expect(readDecimalField(frame, 'b', 'best bid', 'BTCUSDT')).toEqual({ ok: true, value: 96874.12 });
    expect(readDecimalField(frame, 'c', 'change', 'BTCUSDT')).toEqual({ ok: true, value: -150 });
  });

  it('reports an absent field as undefined: the frame says nothing about it', () => {
    expect(readDecimalField(frame, 'a', 'best ask', 'BTCUSDT')).toEqual({ ok: true, value: undefined });
  });

  it('names the field, its meaning and what came when it is not a decimal string', () => {
    expect(readDecimalField(frame, 'n', 'volume', 'ticker BTCUSDT')).toEqual({
      ok: false,
      reason: 'ticker BTCUSDT: expected "n" (volume) as a decimal string, got number 5',
    });
    expect(readDecimalField(frame, 'word', 'high', 'ticker BTCUSDT')).toEqual({
      ok: false,
      reason: 'ticker BTCUSDT: field "word" (high) is not a decimal number: string "abc"',
    });
  });

  it('rejects the empty string: an exchange that means "no value" by it says so in its own module', () => {
    expect(readDecimalField(frame, 'blank', 'low', 'X').ok).toBe(false);
  });
});
