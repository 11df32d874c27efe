/**
 * The one strict parser for the decimal text exchanges send ("96874.12000000", "-1.373").
 *
 * `Number()` alone is too forgiving for wire data: it turns "" and "  " into 0, accepts "0x1f",
 * and "Infinity". A garbage number means a garbage frame, so anything that is not a plain
 * decimal (optional sign, digits, optional fraction, optional complete exponent) is rejected,
 * and so is anything that overflows a 64-bit float. The value is parsed once and never rounded.
 */

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The finite number `text` spells, or null when it is not a plain decimal. */
export function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}
