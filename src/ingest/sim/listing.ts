/**
 * What a local exchange lists: markets in the exchange's own spelling, and the one generator of
 * synthetic listings of any size that every local exchange uses (`listing: 5000`).
 *
 * Synthetic markets have unique made-up bases (`AAA`, `AAB`, ... then four letters) and a mix of
 * quotes close to a real exchange's (mostly USDT, then USDC, USD, EUR, BTC, ETH, TRY). Bases
 * skip every code with a reference price (`BTC`, `ADA`, `EUR`...) and every known quote code,
 * and any base whose letters, written before its quote, would end in a longer known quote
 * (`AFD` + `USD` reads as `A` + `FDUSD`), so even concatenated symbols (`AAAUSDT`) split back
 * into the same base and quote by their longest quote suffix.
 */
import { KNOWN_QUOTE_ASSETS } from '../symbols';
import { REFERENCE_ASSETS } from './market-prices';

/** One market of a local exchange's listing. */
export interface LocalMarket {
  /** The exchange's native spelling: `BTCUSDT`, `BTC-USD`, `BTC/USD`. */
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  /**
   * False for a delisted or halted market: the listing reports it with the exchange's
   * non-trading status (or leaves it out, where that is what the exchange does), a new
   * subscription to it gets what the exchange answers for such a market, and it moves no more.
   */
  readonly trading: boolean;
  /**
   * The exchange's own status text to report instead of its default for `trading`, for the
   * states in between (Kraken `cancel_only` on a market that still streams).
   */
  readonly status?: string;
}

/** How an exchange writes a market's native symbol. */
export type Spelling = (base: string, quote: string) => string;

const concatenated: Spelling = (base, quote) => `${base}${quote}`;
const dashed: Spelling = (base, quote) => `${base}-${quote}`;
const slashed: Spelling = (base, quote) => `${base}/${quote}`;

/** Each exchange's spelling of a spot symbol. */
export const SPELLINGS = {
  binance: concatenated,
  coinbase: dashed,
  kraken: slashed,
  okx: dashed,
  bybit: concatenated,
} as const satisfies Readonly<Record<string, Spelling>>;

/** A start option of every local exchange: how many synthetic markets to list, or exactly which. */
export type ListingOption = number | readonly LocalMarket[];

/** Quotes of synthetic markets, in the proportions they are used: one slot per market, repeating. */
const QUOTE_MIX: readonly string[] = [
  'USDT', 'USDC', 'USD', 'USDT', 'EUR', 'USDT', 'BTC', 'USDT', 'USDC', 'USD',
  'USDT', 'ETH', 'USDT', 'EUR', 'USDC', 'USDT', 'BTC', 'USD', 'USDT', 'TRY',
];

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const FIRST_LENGTH = 3;

/**
 * `count` trading markets in `spell`'s spelling, the same ones on every call: unique bases
 * `AAA`, `AAB`, ..., the quotes of `QUOTE_MIX` in turn.
 */
export function syntheticMarkets(count: number, spell: Spelling): LocalMarket[] {
  const markets: LocalMarket[] = [];
  let cursor = 0;
  for (let i = 0; i < count; i++) {
    const quote = QUOTE_MIX[i % QUOTE_MIX.length]!;
    let base = baseName(cursor++);
    while (!usableBase(base, quote)) base = baseName(cursor++);
    markets.push({ symbol: spell(base, quote), base, quote, trading: true });
  }
  return markets;
}

/** The listing a start option asks for; `fallback` when it asks for none. */
export function listingFrom(option: ListingOption | undefined, spell: Spelling, fallback: () => readonly LocalMarket[]): LocalMarket[] {
  if (option === undefined) return [...fallback()];
  if (typeof option === 'number') return syntheticMarkets(option, spell);
  return [...option];
}

/** The `index`-th name: `AAA`, `AAB`, ..., `ZZZ`, `AAAA`, ... */
function baseName(index: number): string {
  let length = FIRST_LENGTH;
  let rest = index;
  while (rest >= LETTERS.length ** length) {
    rest -= LETTERS.length ** length;
    length++;
  }
  let name = '';
  for (let i = 0; i < length; i++) {
    name = LETTERS[rest % LETTERS.length] + name;
    rest = Math.floor(rest / LETTERS.length);
  }
  return name;
}

function usableBase(base: string, quote: string): boolean {
  if (REFERENCE_ASSETS.has(base) || KNOWN_QUOTE_ASSETS.includes(base)) return false;
  const symbol = `${base}${quote}`;
  return !KNOWN_QUOTE_ASSETS.some((known) => known.length > quote.length && symbol.endsWith(known));
}
