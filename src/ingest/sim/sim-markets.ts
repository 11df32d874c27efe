/**
 * The simulated exchange's listing and price paths. Markets start from plausible reference
 * prices (real pairs such as BTCUSDT, ETHBTC first, then generated tickers quoted in USDT)
 * and move on a bounded random walk driven by a seeded generator, so a seed reproduces the run.
 *
 * Every event is internally consistent, as Binance's are: p = c - o, P = p / o * 100 (three
 * decimals), l <= c <= h, 0 < b < a with c between or at them, q grows with v at about c,
 * w = q / v. The 24h window is not modelled as rolling: `o` stays at its start value.
 */
import { createPrng, type Prng } from './prng';

export interface SimSymbol {
  /** Native symbol, e.g. `BTCUSDT`. */
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
}

/** A `24hrTicker` event exactly as Binance sends it: decimals as strings, times and counts as numbers. */
export interface BinanceTickerEvent {
  readonly e: '24hrTicker';
  readonly E: number;
  readonly s: string;
  readonly p: string;
  readonly P: string;
  readonly w: string;
  readonly x: string;
  readonly c: string;
  readonly Q: string;
  readonly b: string;
  readonly B: string;
  readonly a: string;
  readonly A: string;
  readonly o: string;
  readonly h: string;
  readonly l: string;
  readonly v: string;
  readonly q: string;
  readonly O: number;
  readonly C: number;
  readonly F: number;
  readonly L: number;
  readonly n: number;
}

/** Base assets with illustrative USD prices. */
const BASES: ReadonlyArray<readonly [string, number]> = [
  ['BTC', 97000], ['ETH', 3400], ['BNB', 650], ['SOL', 185], ['XRP', 2.3], ['DOGE', 0.32],
  ['ADA', 0.95], ['TRX', 0.25], ['AVAX', 36], ['LINK', 22], ['DOT', 7.2], ['TON', 5.4],
  ['SHIB', 0.000022], ['LTC', 105], ['BCH', 450], ['NEAR', 5.1], ['UNI', 12], ['APT', 9.5],
  ['ICP', 11], ['FIL', 5.6], ['ATOM', 8.1], ['ARB', 0.85], ['OP', 2.1], ['SUI', 3.9],
  ['PEPE', 0.000018], ['INJ', 24], ['AAVE', 310], ['ETC', 27], ['XLM', 0.42], ['HBAR', 0.28],
  ['VET', 0.045], ['ALGO', 0.38], ['SAND', 0.55], ['MANA', 0.5], ['GRT', 0.22], ['EGLD', 32],
  ['RUNE', 5.2], ['FET', 1.4], ['RENDER', 7.3], ['TIA', 6.2],
];

/** Quote assets with illustrative USD prices, in listing order. */
const QUOTES: ReadonlyArray<readonly [string, number]> = [
  ['USDT', 1], ['BTC', 97000], ['USDC', 1], ['FDUSD', 1], ['ETH', 3400], ['BNB', 650], ['EUR', 1.08], ['TRY', 0.029],
];

const CRYPTO_QUOTES = new Set(['BTC', 'ETH', 'BNB']);

/** Below this price eight decimals no longer give four significant digits. */
const MIN_PRICE = 0.00001;
const DAY_MS = 86_400_000;

interface MarketState {
  readonly info: SimSymbol;
  readonly tick: number;
  c: number;
  readonly o: number;
  h: number;
  l: number;
  v: number;
  q: number;
  b: number;
  a: number;
  lastQty: number;
  bidQty: number;
  askQty: number;
  trades: number;
  lastTradeId: number;
}

/** The symbols a simulator with this many markets and this seed lists, in listing order. */
export function simSymbols(count: number, seed = 1): SimSymbol[] {
  return new SimMarkets(count, seed).list.slice();
}

export class SimMarkets {
  readonly list: readonly SimSymbol[];
  private readonly random: Prng;
  private readonly states = new Map<string, MarketState>();
  private readonly order: MarketState[] = [];

  constructor(count: number, seed: number) {
    this.random = createPrng(seed);
    for (const [info, usdPrice, quoteUsd] of listing(count, this.random)) {
      const state = initialState(info, usdPrice / quoteUsd, usdPrice, this.random);
      this.states.set(info.symbol, state);
      this.order.push(state);
    }
    this.list = this.order.map((state) => state.info);
  }

  has(symbol: string): boolean {
    return this.states.has(symbol);
  }

  tickSize(symbol: string): number {
    return this.get(symbol).tick;
  }

  /** Advances `count` randomly chosen markets one step; returns their symbols. */
  stepRandom(count: number): string[] {
    const moved: string[] = [];
    for (let i = 0; i < count && this.order.length > 0; i++) {
      const state = this.order[Math.floor(this.random() * this.order.length)]!;
      this.stepState(state);
      moved.push(state.info.symbol);
    }
    return moved;
  }

  /** The market's current ticker event at time `now`. */
  event(symbol: string, now: number): BinanceTickerEvent {
    const s = this.get(symbol);
    const c = fixed(s.c);
    const o = fixed(s.o);
    const change = Number(c) - Number(o);
    const percent = Number(o) === 0 ? 0 : (change / Number(o)) * 100;
    return {
      e: '24hrTicker',
      E: now,
      s: s.info.symbol,
      p: fixed(Math.abs(change) < s.tick / 2 ? 0 : change),
      P: noNegativeZero(percent.toFixed(3)),
      w: fixed(s.v > 0 ? s.q / s.v : s.c),
      x: fixed(Math.max(s.o - s.tick, s.tick)),
      c,
      Q: fixed(s.lastQty),
      b: fixed(s.b),
      B: fixed(s.bidQty),
      a: fixed(s.a),
      A: fixed(s.askQty),
      o,
      h: fixed(s.h),
      l: fixed(s.l),
      v: fixed(s.v),
      q: fixed(s.q),
      O: now - DAY_MS,
      C: now - 1,
      F: s.lastTradeId - s.trades + 1,
      L: s.lastTradeId,
      n: s.trades,
    };
  }

  private get(symbol: string): MarketState {
    const state = this.states.get(symbol);
    if (!state) throw new Error(`the simulator does not list ${symbol}`);
    return state;
  }

  private stepState(s: MarketState): void {
    const random = this.random;
    // +-0.15 % per step, pulled back toward the open so prices stay plausible over long runs.
    const pull = ((s.o - s.c) / s.o) * 0.01;
    const next = roundTo(s.c * (1 + (random() - 0.5) * 0.003 + pull), s.tick);
    s.c = Math.max(next, s.tick);
    s.h = Math.max(s.h, s.c);
    s.l = Math.min(s.l, s.c);
    const trades = 1 + Math.floor(random() * 20);
    s.trades += trades;
    s.lastTradeId += trades;
    s.lastQty = roundTo((s.v / 50_000) * (0.1 + random()), 1e-8) || 1e-8;
    const traded = s.lastQty * trades;
    s.v += traded;
    s.q += traded * s.c;
    setBook(s, random);
  }
}

function listing(count: number, random: Prng): Array<readonly [SimSymbol, number, number]> {
  const out: Array<readonly [SimSymbol, number, number]> = [];
  for (const [quote, quoteUsd] of QUOTES) {
    for (const [base, usd] of BASES) {
      if (out.length >= count) return out;
      if (base === quote || usd / quoteUsd < MIN_PRICE) continue;
      if (CRYPTO_QUOTES.has(quote) && usd > quoteUsd) continue; // ETHBTC is listed, BTCETH is not
      out.push([{ symbol: `${base}${quote}`, base, quote }, usd, quoteUsd]);
    }
  }
  const taken = new Set<string>([...BASES.map(([b]) => b), ...QUOTES.map(([q]) => q)]);
  while (out.length < count) {
    const base = syntheticName(random, taken);
    taken.add(base);
    // log-uniform between 0.001 and 500 USDT
    const usd = 10 ** (-3 + random() * Math.log10(500_000));
    out.push([{ symbol: `${base}USDT`, base, quote: 'USDT' }, usd, 1]);
  }
  return out;
}

const CONSONANTS = 'BCDFGHJKLMNPRSTVXZ';
const VOWELS = 'AEIOU';

/** Pronounceable 3-5 letter tickers (KAVO, ZUREL) that no real listing here uses. */
function syntheticName(random: Prng, taken: ReadonlySet<string>): string {
  for (;;) {
    const length = 3 + Math.floor(random() * 3);
    let name = '';
    for (let i = 0; i < length; i++) {
      const letters = i % 2 === 0 ? CONSONANTS : VOWELS;
      name += letters[Math.floor(random() * letters.length)];
    }
    if (!taken.has(name)) return name;
  }
}

function initialState(info: SimSymbol, price: number, usdPrice: number, random: Prng): MarketState {
  const tick = Math.max(1e-8, 10 ** (Math.floor(Math.log10(price)) - 4));
  const o = roundTo(price * (1 + (random() - 0.5) * 0.1), tick);
  const c = roundTo(price, tick);
  // 24h quote volume between 100k and 2bn USD, log-uniform.
  const usdVolume = 10 ** (5 + random() * 4.3);
  const v = roundTo(usdVolume / usdPrice, 1e-8);
  const trades = 1000 + Math.floor(random() * 2_000_000);
  const state: MarketState = {
    info,
    tick,
    c,
    o,
    h: roundTo(Math.max(o, c) * (1 + random() * 0.03), tick),
    l: Math.max(roundTo(Math.min(o, c) * (1 - random() * 0.03), tick), tick),
    v,
    q: v * ((o + c) / 2),
    b: c,
    a: c,
    lastQty: 0,
    bidQty: 0,
    askQty: 0,
    trades,
    lastTradeId: 1_000_000_000 + Math.floor(random() * 4_000_000_000),
  };
  state.lastQty = roundTo((v / 50_000) * (0.1 + random()), 1e-8) || 1e-8;
  setBook(state, random);
  return state;
}

/** The last trade hit the bid or lifted the ask, so c sits at one side of a 1-3 tick spread. */
function setBook(s: MarketState, random: Prng): void {
  const spread = s.tick * (1 + Math.floor(random() * 3));
  if (random() < 0.5 || s.c - spread < s.tick) {
    s.b = s.c;
    s.a = s.c + spread;
  } else {
    s.b = s.c - spread;
    s.a = s.c;
  }
  s.bidQty = roundTo(random() * 20, 1e-5) + 1e-5;
  s.askQty = roundTo(random() * 20, 1e-5) + 1e-5;
}

function roundTo(value: number, step: number): number {
  return Math.round(value / step) * step;
}

/** Binance prints every price and quantity with eight decimals. */
function fixed(value: number): string {
  return value.toFixed(8);
}

function noNegativeZero(text: string): string {
  return /^-0\.0+$/.test(text) ? text.slice(1) : text;
}
