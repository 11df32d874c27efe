/**
 * The REST side of `fetchListing`: asking an exchange for its whole spot listing. What a
 * listing looks like is each exchange's business; building the URL, fetching the body, reading
 * the common fields of one entry, and telling one odd entry from a changed format are the same
 * everywhere and live here.
 *
 * Everything here throws with a message for the log: what a failed listing means (keep the
 * last good one, or name markets from their symbol text) is the feed's decision.
 */
import type { ListedMarket } from './adapter';
import { isRecord, parseJson } from './json-frame';
import type { SymbolInfo } from '../market';

/**
 * A configured REST base without trailing slashes (null stays null): request paths are
 * appended with their own leading `/`, and `https://host//api` is a different URL to some servers.
 */
export function restBase(restUrl: string | null): string | null {
  return restUrl === null ? null : restUrl.replace(/\/+$/, '');
}

/** `path` (with its query) on the REST base; throws when the feed was configured without one. */
export function listingUrl(base: string | null, path: string): string {
  if (base === null) throw new Error('no REST URL is configured');
  return `${base}${path}`;
}

/**
 * GETs `url` and returns the parsed JSON body. Throws `GET <url>: HTTP <status>` for any non-2xx
 * answer, and `GET <url>: not JSON (...)` with the start of the body for anything that does not
 * parse (an HTML error page from a proxy or a geo-block).
 */
export async function fetchJson(fetchImpl: typeof fetch, url: string, signal: AbortSignal): Promise<unknown> {
  const response = await fetchImpl(url, { signal, headers: { accept: 'application/json' } });
  if (!response.ok) {
    // An unread body holds on to its connection until it is garbage collected.
    await response.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  const body = parseJson(await response.text());
  if (!body.ok) throw new Error(`GET ${url}: ${body.reason}`);
  return body.value;
}

/** A field that is a non-empty string, or null. */
export function textField(entry: Readonly<Record<string, unknown>>, key: string): string | null {
  const value = entry[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Which fields of a listing entry hold the native symbol and its base and quote asset codes. */
export interface ListingKeys {
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
}

/**
 * The names one listing entry gives, asset codes upper-cased and the symbol as sent; null when
 * any of the three is not a non-empty string.
 */
export function listedSymbol(entry: Readonly<Record<string, unknown>>, keys: ListingKeys): SymbolInfo | null {
  const symbol = textField(entry, keys.symbol);
  const base = textField(entry, keys.base);
  const quote = textField(entry, keys.quote);
  if (symbol === null || base === null || quote === null) return null;
  return { nativeSymbol: symbol, base: base.toUpperCase(), quote: quote.toUpperCase() };
}

/**
 * The markets of a listing's entries, in order. An entry that is not an object, or that `read`
 * answers null for (unreadable, or not a spot market), is skipped: one odd entry among
 * thousands must not cost every other market its listing. But when there were entries and not
 * one could be read, the format has changed rather than one entry, and an empty listing would
 * read as "nothing is listed": that throws, naming `what` (the endpoint) for the log.
 */
export function readEntries(
  entries: readonly unknown[],
  read: (entry: Readonly<Record<string, unknown>>) => ListedMarket | null,
  what: string,
): ListedMarket[] {
  const markets: ListedMarket[] = [];
  for (const entry of entries) {
    const market = isRecord(entry) ? read(entry) : null;
    if (market !== null) markets.push(market);
  }
  if (entries.length > 0 && markets.length === 0) {
    throw new Error(`${what}: none of its ${entries.length} entries could be read as a spot market; has the format changed?`);
  }
  return markets;
}
