/**
 * The configured symbol list: how a hand-typed list becomes the symbols an adapter subscribes,
 * and how parts of it are named in a `loadSymbols` warning.
 */

/**
 * Configured symbols trimmed and upper-cased, blanks and repeats dropped, in configuration
 * order. Lists come from environment variables typed by hand (`BTCUSDT, ethusdt,`), and a
 * repeat would subscribe one market twice. Only for exchanges whose symbols are upper case
 * by definition: Kraken's are not (`AAPLx/USD`), so it cleans its own list.
 */
export function normalizeSymbols(configured: readonly string[]): string[] {
  return [...new Set(configured.map((s) => s.trim().toUpperCase()).filter((s) => s !== ''))];
}

/** How many names a warning spells out; the rest are counted, so a long list stays one log line. */
const LISTED_NAMES = 10;

/** `A, B, C`, or the first ten and `(+N more)`. */
export function listOf(names: readonly string[]): string {
  const shown = names.slice(0, LISTED_NAMES).join(', ');
  return names.length > LISTED_NAMES ? `${shown} (+${names.length - LISTED_NAMES} more)` : shown;
}

/**
 * The `loadSymbols` result: its warnings as one log line, or null when nothing needs an
 * operator's attention (the contract in `adapter.ts`).
 */
export function joinWarnings(warnings: readonly string[]): string | null {
  return warnings.length > 0 ? warnings.join('; ') : null;
}
