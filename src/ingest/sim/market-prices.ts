/**
 * Prices for the local exchanges: where a market's price starts, how it moves, and how a price
 * is written as decimal text. Every local exchange uses these, so all five move their markets
 * the same way; each only spells the result in its own wire fields.
 */
import type { Prng } from './prng';

/** Base assets with illustrative USD prices, in the order the simulator lists real-looking pairs. */
export const REFERENCE_BASES: ReadonlyArray<readonly [string, number]> = [
  ['BTC', 97000], ['ETH', 3400], ['BNB', 650], ['SOL', 185], ['XRP', 2.3], ['DOGE', 0.32],
  ['ADA', 0.95], ['TRX', 0.25], ['AVAX', 36], ['LINK', 22], ['DOT', 7.2], ['TON', 5.4],
  ['SHIB', 0.000022], ['LTC', 105], ['BCH', 450], ['NEAR', 5.1], ['UNI', 12], ['APT', 9.5],
  ['ICP', 11], ['FIL', 5.6], ['ATOM', 8.1], ['ARB', 0.85], ['OP', 2.1], ['SUI', 3.9],
  ['PEPE', 0.000018], ['INJ', 24], ['AAVE', 310], ['ETC', 27], ['XLM', 0.42], ['HBAR', 0.28],
  ['VET', 0.045], ['ALGO', 0.38], ['SAND', 0.55], ['MANA', 0.5], ['GRT', 0.22], ['EGLD', 32],
  ['RUNE', 5.2], ['FET', 1.4], ['RENDER', 7.3], ['TIA', 6.2],
];

/** Quote assets with illustrative USD prices, in the order the simulator lists real-looking pairs. */
export const REFERENCE_QUOTES: ReadonlyArray<readonly [string, number]> = [
  ['USDT', 1], ['BTC', 97000], ['USDC', 1], ['FDUSD', 1], ['ETH', 3400], ['BNB', 650], ['EUR', 1.08], ['TRY', 0.029],
];

const USD_PRICES: ReadonlyMap<string, number> = new Map([...REFERENCE_BASES, ...REFERENCE_QUOTES, ['USD', 1], ['GBP', 1.27], ['CAD', 0.73], ['CHF', 1.13], ['JPY', 0.0067], ['XBT', 97000], ['XDG', 0.32]]);

/** Asset codes with a reference price: synthetic listings never use them as bases. */
export const REFERENCE_ASSETS: ReadonlySet<string> = new Set(USD_PRICES.keys());

/** The illustrative USD price of an asset, or undefined for one this module does not know. */
export function usdPrice(asset: string): number | undefined {
  return USD_PRICES.get(asset);
}

/** Synthetic markets never start below this price in their quote, so eight decimals still show four digits. */
const MIN_SYNTHETIC_PRICE = 0.0001;

/**
 * Where a market's last price starts, in quote units: the reference prices when both assets
 * have one, else a USD price between 0.001 and 500 (log-uniform) fixed by the base's name, so
 * the same market starts at the same price on every server and in every run.
 */
export function startingPrice(base: string, quote: string): number {
  const known = usdPrice(base);
  const usd = known ?? 10 ** (-3 + unitHash(base) * Math.log10(500_000));
  const price = usd / (usdPrice(quote) ?? 1);
  return known === undefined ? Math.max(price, MIN_SYNTHETIC_PRICE) : price;
}

/**
 * One step of a random walk: +-0.15 % at most, pulled back toward `open` so that prices stay
 * plausible over long runs. Not rounded; callers round to their tick or their digits.
 */
export function walkPrice(last: number, open: number, random: Prng): number {
  const pull = open > 0 ? ((open - last) / open) * 0.01 : 0;
  return last * (1 + (random() - 0.5) * 0.003 + pull);
}

/** The numbers of a 24 h ticker that a move reads. */
export interface TickerNumbers {
  readonly last: number;
  /** The 24 h open; a move keeps it. */
  readonly open: number;
  readonly high: number;
  readonly low: number;
  /** 24 h volume in the base asset. */
  readonly volume: number;
}

/** A ticker after one move: a trade at `last` of `lastQty`, with the book around it. */
export interface MovedTicker extends TickerNumbers {
  readonly bid: number;
  readonly ask: number;
  readonly lastQty: number;
  /** What the trade added to the 24 h quote volume. */
  readonly tradedQuote: number;
}

/**
 * Moves a ticker one step, as one trade would: a new last price from `walkPrice`, high and
 * low widened to it, a trade added to the volume, and a one-basis-point book around the price.
 */
export function moveTicker(ticker: TickerNumbers, random: Prng): MovedTicker {
  const floor = ticker.last / 1000;
  const last = Math.max(walkPrice(ticker.last, ticker.open, random), floor);
  const lastQty = Math.max((ticker.volume / 50_000) * (0.1 + random()), 1e-8);
  return {
    last,
    open: ticker.open,
    high: Math.max(ticker.high, last),
    low: Math.min(ticker.low, last),
    volume: ticker.volume + lastQty,
    bid: last * 0.9999,
    ask: last * 1.0001,
    lastQty,
    tradedQuote: lastQty * last,
  };
}

/**
 * `value` as plain decimal text (never an exponent) with `significant` significant digits and
 * no trailing zeros: `96871.3`, `0.000022`, `-1.37`. Exchanges that send strings send this shape.
 */
export function decimalText(value: number, significant = 8): string {
  if (!Number.isFinite(value) || value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.min(Math.max(significant - 1 - magnitude, 0), 16);
  const text = value.toFixed(decimals);
  const trimmed = text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  return trimmed === '-0' ? '0' : trimmed;
}

/** A number in [0, 1) fixed by `text` (FNV-1a), for values that must not depend on a seed. */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0) / 4294967296;
}

/** The number a wire value (a number or decimal text) spells, or `fallback` when it spells none. */
export function numberOr(value: unknown, fallback: number): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  return Number.isFinite(number) ? number : fallback;
}
