/**
 * The simulated exchange's listing and price paths. Markets start from plausible reference
 * prices (real pairs such as BTCUSDT, ETHBTC first, then the synthetic markets of `listing.ts`)
 * and move on the bounded random walk of `market-prices.ts` driven by a seeded generator, so a
 * seed reproduces the run. Markets listed later (`add`) start at `startingPrice`.
 *
 * Every event is internally consistent, as Binance's are: p = c - o, P = p / o * 100 (three
 * decimals), l <= c <= h, 0 < b < a with c between or at them, q grows with v at about c,
 * w = q / v. The 24h window is not modelled as rolling: `o` stays at its start value.
 */
import { SPELLINGS, syntheticMarkets } from './listing';
import { REFERENCE_BASES, REFERENCE_QUOTES, startingPrice, usdPrice, walkPrice } from './market-prices';
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

const CRYPTO_QUOTES = new Set(['BTC', 'ETH', 'BNB']);

/**
 * Markets that price the reference quotes against USDT, as Binance lists them, so that every
 * quote of the simulator has a USD rate (src/quote-rates.ts): listed after the USDT markets.
 */
const BRIDGE_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['USDC', 'USDT'],
  ['FDUSD', 'USDT'],
  ['EUR', 'USDT'],
  ['USDT', 'TRY'],
];

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
  private readonly random: Prng;
  private readonly states = new Map<string, MarketState>();
  private readonly order: MarketState[] = [];

  /** `count` markets of the real-looking listing, then `add` any others. */
  constructor(count: number, seed: number) {
    this.random = createPrng(seed);
    for (const info of listing(count)) this.add(info);
  }

  /** Every market, in the order they were listed. */
  get list(): readonly SimSymbol[] {
    return this.order.map((state) => state.info);
  }

  has(symbol: string): boolean {
    return this.states.has(symbol);
  }

  /** Starts a price path for a market not yet known (at `startingPrice`); one already known is left as it is. */
  add(info: SimSymbol): void {
    if (this.states.has(info.symbol)) return;
    const price = startingPrice(info.base, info.quote);
    const state = initialState({ symbol: info.symbol, base: info.base, quote: info.quote }, price, price * (usdPrice(info.quote) ?? 1), this.random);
    this.states.set(info.symbol, state);
    this.order.push(state);
  }

  tickSize(symbol: string): number {
    return this.get(symbol).tick;
  }

  /** Advances one market one step. */
  step(symbol: string): void {
    this.stepState(this.get(symbol));
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
    const next = roundTo(walkPrice(s.c, s.o, random), s.tick);
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

/**
 * Real pairs of the reference assets first (ETHBTC, not BTCETH), the bridge pairs after the
 * USDT ones, then synthetic markets: `count` in all.
 */
function listing(count: number): SimSymbol[] {
  const out: SimSymbol[] = [];
  for (const [quote, quoteUsd] of REFERENCE_QUOTES) {
    for (const [base, usd] of REFERENCE_BASES) {
      if (out.length >= count) return out;
      if (base === quote || usd / quoteUsd < MIN_PRICE) continue;
      if (CRYPTO_QUOTES.has(quote) && usd > quoteUsd) continue; // ETHBTC is listed, BTCETH is not
      out.push({ symbol: `${base}${quote}`, base, quote });
    }
    if (quote === 'USDT') {
      for (const [base, bridged] of BRIDGE_PAIRS) {
        if (out.length >= count) return out;
        out.push({ symbol: `${base}${bridged}`, base, quote: bridged });
      }
    }
  }
  for (const { symbol, base, quote } of syntheticMarkets(count - out.length, SPELLINGS.binance)) out.push({ symbol, base, quote });
  return out;
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
