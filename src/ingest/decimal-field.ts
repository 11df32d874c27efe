/**
 * Reading one decimal-string field of a wire object: Binance, Coinbase, OKX and Bybit send
 * prices and volumes as text ("96874.12"). The parse is `decimal.ts`'s strict rule; around it
 * goes the frame policy every such adapter follows: an absent field is `undefined` (the frame
 * says nothing about it), and a field that is present but not a decimal string fails, with a
 * reason that names it. What an exchange sends for "no value" ("" on OKX and Bybit) is its own
 * module's business.
 */
import { parseDecimal } from './decimal';
import { describe, fail, type Result } from './json-frame';

/**
 * `record[key]` as a number, or undefined when absent. `meaning` ("best bid") and `where`
 * (which frame, which market) make the failure reason readable without the frame at hand.
 */
export function readDecimalField(
  record: Readonly<Record<string, unknown>>,
  key: string,
  meaning: string,
  where: string,
): Result<number | undefined> {
  const raw = record[key];
  if (raw === undefined) return { ok: true, value: undefined };
  if (typeof raw !== 'string') return fail(`${where}: expected "${key}" (${meaning}) as a decimal string, got ${describe(raw)}`);
  const value = parseDecimal(raw);
  if (value === null) return fail(`${where}: field "${key}" (${meaning}) is not a decimal number: ${describe(raw)}`);
  return { ok: true, value };
}
