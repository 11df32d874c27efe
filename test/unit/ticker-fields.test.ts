import { describe, expect, it } from 'vitest';
import { fail, type Result } from '../../src/ingest/json-frame';
import { readTickerFields, type WireFieldTable } from '../../src/ingest/ticker-fields';

const TABLE: WireFieldTable = [
  ['b', 'bid', 'best bid'],
  ['a', 'ask', 'best ask'],
  ['h', 'high24h', '24h high'],
  ['l', 'low24h', '24h low'],
];

/** A reader over plain numbers: absent is undefined, a string is a failure. */
const reader =
  (wire: Readonly<Record<string, unknown>>) =>
  (key: string, meaning: string): Result<number | null | undefined> => {
    const raw = wire[key];
    if (raw === undefined || raw === null || typeof raw === 'number') return { ok: true, value: raw };
    return fail(`"${key}" (${meaning}) is not a number`);
  };

describe('readTickerFields', () => {
  it('maps wire fields to ticker fields, next to what the caller already read', () => {
    expect(readTickerFields(TABLE, { price: 10 }, reader({ b: 9.5, a: 10.5, h: 11, l: 9 }))).toEqual({
      ok: true,
      value: { price: 10, bid: 9.5, ask: 10.5, high24h: 11, low24h: 9 },
    });
  });

  it('leaves out a field the frame does not carry, and keeps one the reader calls known-missing', () => {
    expect(readTickerFields(TABLE, { price: 10 }, reader({ b: 9.5, h: null }))).toEqual({ ok: true, value: { price: 10, bid: 9.5, high24h: null } });
  });

  it('turns a best bid or ask of 0 into an empty book side, and no other field', () => {
    expect(readTickerFields(TABLE, {}, reader({ b: 0, a: 0, l: 0 }))).toEqual({ ok: true, value: { bid: null, ask: null, low24h: 0 } });
  });

  it('fails with the first bad field, so no half-read ticker escapes', () => {
    expect(readTickerFields(TABLE, { price: 10 }, reader({ b: 9.5, a: 'x', h: 'y' }))).toEqual({ ok: false, reason: '"a" (best ask) is not a number' });
  });
});
