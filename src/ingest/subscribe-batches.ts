/**
 * Splitting a subscription into requests. Exchanges cap how much one subscribe request may
 * carry (streams, symbols or bytes); each adapter knows its own cap and message format, and
 * these two helpers are the part that is the same everywhere.
 */

/**
 * A per-request limit from tuning (streams, symbols or bytes per subscribe request), or the
 * exchange's default: a whole number and at least 1, because a limit of 0 would never let a
 * request carry anything and the subscription would never finish.
 */
export function perRequestLimit(requested: number | undefined, fallback: number): number {
  return Math.max(1, Math.floor(requested ?? fallback));
}

/** `items` in order, in consecutive batches of at most `size` (the last may be shorter). */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}
