/**
 * Which markets a feed subscribes, and what each is called.
 *
 * `<EXCHANGE>_SYMBOLS` unset (or `*`) means the exchange's whole listing: every spot market it
 * lists as trading (`ListedMarket.trading`, decided by each adapter from the exchange's own
 * status field), narrowed to `<EXCHANGE>_QUOTES` when set, in the listing's order, at most
 * `maxSymbols`. A list of symbols means exactly those symbols. The built-in list of major
 * pairs stands in for the listing only while it cannot be read.
 */
import type { ListedMarket } from './adapter';
import type { SymbolInfo } from '../market';

/** What a feed subscribes: the exchange's listing, or a configured list. */
export type SymbolChoice =
  | {
      readonly kind: 'listing';
      /** Quote assets to keep (upper case); null keeps every quote. */
      readonly quotes: readonly string[] | null;
      /** Subscribed while the listing cannot be read (the registry's built-in pairs). */
      readonly fallback: readonly string[];
    }
  | { readonly kind: 'configured'; readonly symbols: readonly string[] };

/**
 * Most markets one feed subscribes from a listing. The real exchanges list at most a few
 * thousand spot markets (docs/exchanges/README.md); a listing far larger is an exchange (or a
 * proxy) answering nonsense, and taking it whole would open a connection per thousand of it.
 */
export const DEFAULT_MAX_LISTED_SYMBOLS = 10_000;

export interface Selection {
  /** Native symbols to subscribe, in listing order. */
  readonly symbols: string[];
  /** Trading markets left out because the listing holds more than `maxSymbols`. */
  readonly overLimit: number;
}

/** The trading markets of `listing` whose quote is one of `quotes` (all when null), at most `maxSymbols`. */
export function selectListed(listing: readonly ListedMarket[], quotes: readonly string[] | null, maxSymbols: number): Selection {
  const wanted = quotes === null ? null : new Set(quotes.map((q) => q.toUpperCase()));
  const symbols: string[] = [];
  const seen = new Set<string>();
  let overLimit = 0;
  for (const market of listing) {
    if (!market.trading || seen.has(market.nativeSymbol)) continue;
    if (wanted !== null && !wanted.has(market.quote)) continue;
    seen.add(market.nativeSymbol);
    if (symbols.length >= maxSymbols) overLimit++;
    else symbols.push(market.nativeSymbol);
  }
  return { symbols, overLimit };
}

/**
 * A feed's names for its native symbols: from the listing where it names the symbol, else
 * derived from the symbol text. A market's id is built from these names, so the first answer
 * for a symbol is kept for the life of the process: a later listing can add names, never
 * change one that is in use.
 */
export class SymbolDirectory {
  private readonly listed = new Map<string, SymbolInfo>();
  private readonly answered = new Map<string, SymbolInfo>();

  constructor(private readonly derive: (nativeSymbol: string) => SymbolInfo) {}

  /** Remembers the names a listing gives. */
  learn(listing: readonly ListedMarket[]): void {
    for (const { nativeSymbol, base, quote } of listing) this.listed.set(nativeSymbol, { nativeSymbol, base, quote });
  }

  /** Whether the last listings named `nativeSymbol`. */
  isListed(nativeSymbol: string): boolean {
    return this.listed.has(nativeSymbol);
  }

  info(nativeSymbol: string): SymbolInfo {
    let info = this.answered.get(nativeSymbol);
    if (info === undefined) {
      info = this.listed.get(nativeSymbol) ?? this.derive(nativeSymbol);
      this.answered.set(nativeSymbol, info);
    }
    return info;
  }
}
