/**
 * The REST side of `loadSymbols`: asking an exchange for its listing of symbols. What a listing
 * looks like is each exchange's business; fetching it, giving up on it and reading the common
 * shape of one entry are the same everywhere and live here.
 *
 * Start-up never depends on a listing (see `ExchangeAdapter.loadSymbols`), so nothing here
 * throws at the adapter: a failure comes back as a reason text for the start-up warning.
 */
import { fail, type Result } from './json-frame';
import type { SymbolInfo } from './market';

/**
 * A configured REST base without trailing slashes (null stays null): request paths are
 * appended with their own leading `/`, and `https://host//api` is a different URL to some servers.
 */
export function restBase(restUrl: string | null): string | null {
  return restUrl === null ? null : restUrl.replace(/\/+$/, '');
}

/** GETs `url` and returns the parsed JSON body; throws `HTTP <status>` for any non-2xx answer. */
export async function fetchJson(fetchImpl: typeof fetch, url: string, signal: AbortSignal): Promise<unknown> {
  const response = await fetchImpl(url, { signal, headers: { accept: 'application/json' } });
  if (!response.ok) {
    // An unread body holds on to its connection until it is garbage collected.
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  return (await response.json()) as unknown;
}

/**
 * Waits for a listing request and turns its failure into a reason text. A listing that arrives
 * after `signal` was aborted counts as failed (reason `aborted`): once the caller has given up
 * waiting, markets may already carry names derived from the symbol text, and a market's names
 * must not change.
 */
export async function awaitListing<T>(request: Promise<T>, signal: AbortSignal): Promise<Result<T>> {
  try {
    const value = await request;
    if (signal.aborted) throw new Error('aborted');
    return { ok: true, value };
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

/** Which fields of a listing entry hold the native symbol and its base and quote asset codes. */
export interface ListingKeys {
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
}

/**
 * The names one listing entry gives, asset codes upper-cased; null when any of the three is
 * not a non-empty string. Such an entry is skipped rather than failing the listing: one odd
 * entry among thousands must not cost every other symbol its metadata.
 */
export function listedSymbol(entry: Readonly<Record<string, unknown>>, keys: ListingKeys): SymbolInfo | null {
  const symbol = entry[keys.symbol];
  const base = entry[keys.base];
  const quote = entry[keys.quote];
  if (typeof symbol !== 'string' || typeof base !== 'string' || typeof quote !== 'string') return null;
  if (symbol === '' || base === '' || quote === '') return null;
  return { nativeSymbol: symbol, base: base.toUpperCase(), quote: quote.toUpperCase() };
}
