/**
 * Filling a ticker's optional fields from a wire object, through an exchange's table of
 * wire field -> normalized field. How one field is read (decimal string or JSON number, what
 * "no value" looks like) is the exchange's reader; the walk and the empty-book-side rule are
 * the same for every exchange that maps fields one to one, and live here.
 */
import type { Result } from './json-frame';
import type { TickerField } from '../market';

/** A ticker's fields while an adapter fills them in; it becomes `TickerPatch.fields`. */
export type TickerFieldValues = { -readonly [K in TickerField]?: number | null };

/** Wire field -> normalized field, with the wire meaning for error messages. */
export type WireFieldTable = ReadonlyArray<readonly [wire: string, field: TickerField, meaning: string]>;

/**
 * Reads each field `table` names with `read` into `fields` (which holds what the caller has
 * read already, such as the price) and returns it, or the first failure: a garbage number means
 * a garbage frame, and keeping its other fields would mix good and bad data. A field `read`
 * reports as undefined is not carried by the frame and is left out, so the market keeps its
 * value. A best bid or ask of 0 becomes null: exchanges send 0 for an empty side of the book,
 * and taken as a price it would make a 100 % spread.
 */
export function readTickerFields(
  table: WireFieldTable,
  fields: TickerFieldValues,
  read: (wire: string, meaning: string) => Result<number | null | undefined>,
): Result<TickerFieldValues> {
  for (const [wire, field, meaning] of table) {
    const value = read(wire, meaning);
    if (!value.ok) return value;
    if (value.value === undefined) continue;
    fields[field] = (field === 'bid' || field === 'ask') && value.value === 0 ? null : value.value;
  }
  return { ok: true, value: fields };
}
