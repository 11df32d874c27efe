/**
 * Configured symbol lists (`<EXCHANGE>_SYMBOLS`, typed by hand): how one becomes the symbols an
 * adapter's `normalizeSymbols` returns, and how a long list is named in one warning.
 */

/** Upper case: the spelling of every exchange here but Kraken, whose symbols mix case (`AAPLx/USD`). */
const upperCase = (symbol: string): string => symbol.toUpperCase();

/**
 * Configured symbols trimmed and put in the exchange's spelling (`spell`, upper case unless
 * said otherwise), blanks and repeats dropped, in configuration order. Lists are typed by hand
 * (`BTCUSDT, ethusdt,`), and a repeat would subscribe one market twice.
 */
export function distinctSymbols(configured: readonly string[], spell: (trimmed: string) => string = upperCase): string[] {
  const symbols = new Set<string>();
  for (const entry of configured) {
    const trimmed = entry.trim();
    if (trimmed !== '') symbols.add(spell(trimmed));
  }
  return [...symbols];
}

/** How many names a warning spells out; the rest are counted, so a long list stays one log line. */
const LISTED_NAMES = 10;

/** `A, B, C`, or the first ten and `(+N more)`. */
export function listOf(names: readonly string[]): string {
  const shown = names.slice(0, LISTED_NAMES).join(', ');
  return names.length > LISTED_NAMES ? `${shown} (+${names.length - LISTED_NAMES} more)` : shown;
}
