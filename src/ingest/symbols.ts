/**
 * Fallback derivation of base and quote from an exchange's native symbol text, for symbols the
 * exchange's listing (REST) does not name or while it cannot be fetched (each adapter's
 * `deriveSymbolInfo`). The listing is always preferred: some base assets end in a quote
 * asset's letters, so text splitting is a best effort.
 *
 * - Separated symbols (`BTC-USD`, `BTC/USD`, `BTC_USDT`) split on the separator.
 * - Concatenated symbols (`BTCUSDT`, `1000SATSFDUSD`) match the LONGEST known quote suffix, so
 *   `BTCFDUSD` is BTC/FDUSD, not BTCFD/USD, and `BTCTUSD` is BTC/TUSD. The rule is wrong when
 *   a base ends in the first letters of a longer quote (Binance.US `USDTUSD` reads as USD/TUSD);
 *   that is why the listing comes first.
 *
 * Asset codes come back upper case. Exchange-specific aliases (Kraken's XBT) are the exchange
 * module's business, not this file's.
 */
import type { SymbolInfo } from '../market';

/**
 * Quote assets seen on exchanges that concatenate symbols (Binance, Bybit), as of 2026:
 * stablecoins first, then crypto quotes, then fiat. Order here is for reading; matching always
 * tries longer codes first.
 */
const QUOTE_ASSETS = [
  // USD stablecoins
  'USDT', 'USDC', 'FDUSD', 'TUSD', 'BUSD', 'USDP', 'USD1', 'USDE', 'DAI', 'PAX', 'USD',
  // crypto quotes
  'BTC', 'ETH', 'BNB', 'XRP', 'TRX', 'DOGE', 'DOT', 'SOL',
  // euro stablecoin and fiat. AEUR is left out on purpose: longest-first would read every
  // euro pair of a base ending in A (ADAEUR) as <base>/AEUR.
  'EURI', 'EUR', 'TRY', 'BRL', 'GBP', 'AUD', 'JPY', 'RUB', 'UAH', 'ZAR', 'PLN', 'RON',
  'ARS', 'MXN', 'COP', 'CZK', 'NGN', 'IDR', 'IDRT', 'BIDR', 'BVND',
] as const;

/** Known quote assets, longest first (ties keep the order above). */
export const KNOWN_QUOTE_ASSETS: readonly string[] = [...QUOTE_ASSETS].sort((a, b) => b.length - a.length);

/** Quote used when a symbol cannot be split at all; visible in market ids so it gets noticed. */
export const UNKNOWN_ASSET = 'UNKNOWN';

const SEPARATORS = ['-', '/', '_'] as const;

/**
 * Splits on one given separator (`BTC-USD` on `-`); null unless there is exactly one, with text
 * on both sides. For exchanges that always use the same separator, where any other spelling
 * (`BTC/USD` on Coinbase, `BTC-USDT-SWAP` on OKX) is not a spot symbol at all.
 */
export function splitOn(nativeSymbol: string, separator: string): SymbolInfo | null {
  const parts = nativeSymbol.split(separator);
  if (parts.length !== 2) return null;
  const [base, quote] = parts as [string, string];
  if (base === '' || quote === '') return null;
  return { nativeSymbol, base: base.toUpperCase(), quote: quote.toUpperCase() };
}

/** Splits `BTC-USD`, `BTC/USD` or `BTC_USDT`; null when there is no single separator. */
export function splitSeparated(nativeSymbol: string): SymbolInfo | null {
  for (const separator of SEPARATORS) {
    // The first separator that occurs exactly once decides, even if a side turns out empty.
    if (nativeSymbol.split(separator).length === 2) return splitOn(nativeSymbol, separator);
  }
  return null;
}

/** Splits `BTCUSDT` on the longest known quote suffix; null when none fits. */
export function splitConcatenated(nativeSymbol: string, quotes: readonly string[] = KNOWN_QUOTE_ASSETS): SymbolInfo | null {
  const upper = nativeSymbol.toUpperCase();
  for (const quote of quotes) {
    if (upper.length > quote.length && upper.endsWith(quote)) {
      return { nativeSymbol, base: upper.slice(0, upper.length - quote.length), quote };
    }
  }
  return null;
}

/** Best-effort base/quote from the symbol text alone; null when it cannot be split. */
export function deriveSymbolInfo(nativeSymbol: string): SymbolInfo | null {
  // A symbol with a separator is never concatenated: `-USD` is malformed, not base "-".
  if (SEPARATORS.some((separator) => nativeSymbol.includes(separator))) return splitSeparated(nativeSymbol);
  return splitConcatenated(nativeSymbol);
}

/** Like `deriveSymbolInfo`, but never fails: an unsplittable symbol becomes `<SYMBOL>/UNKNOWN`. */
export function deriveSymbolInfoOrUnknown(nativeSymbol: string): SymbolInfo {
  return deriveSymbolInfo(nativeSymbol) ?? unknownQuote(nativeSymbol);
}

/** `<SYMBOL>/UNKNOWN`, for a symbol no rule could split: the whole symbol stands as the base. */
export function unknownQuote(nativeSymbol: string): SymbolInfo {
  return { nativeSymbol, base: nativeSymbol.toUpperCase(), quote: UNKNOWN_ASSET };
}

/**
 * `derive`, run once per symbol and remembered. A symbol's names may be asked for on every
 * ticker, and the answer cannot change once given (market ids are built from it), so the
 * text is split once, not once per frame.
 */
export function rememberDerived(derive: (nativeSymbol: string) => SymbolInfo): (nativeSymbol: string) => SymbolInfo {
  const derived = new Map<string, SymbolInfo>();
  return (nativeSymbol) => {
    let info = derived.get(nativeSymbol);
    if (!info) {
      info = derive(nativeSymbol);
      derived.set(nativeSymbol, info);
    }
    return info;
  };
}
