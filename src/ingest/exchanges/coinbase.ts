/**
 * Coinbase Advanced Trade market data (protocol: /work/shared/exchanges/coinbase.md, part A).
 * The legacy Exchange ws-feed (`ws-feed.exchange.coinbase.com`) is a different protocol and is
 * not read here; its frames are rejected with a reason that says so.
 *
 * - One socket to `wss://advanced-trade-ws.coinbase.com`, no authentication. Coinbase takes
 *   one channel per subscribe message: `heartbeats` first (it is what keeps the other channels
 *   open, and a subscribe must arrive within 5 s of connecting), then `ticker` with the product
 *   ids in batches. Each subscribe is answered by one `subscriptions` message listing everything
 *   the connection is subscribed to; that is the ack. An unknown product id is not an error:
 *   it is simply missing from that list (see `unconfirmedSymbols`).
 * - Keep-alive: no pings either way. `heartbeats` sends one message per second, so 10 s of
 *   silence (ten missed heartbeats) means a dead socket. No documented connection lifetime, so
 *   no planned rotation by age.
 * - Pacing: Coinbase allows 8 unauthenticated messages per second per IP. The adapter declares
 *   5 (the loop then sends at most 4 per 1.1 s), half the budget, because the limit is per IP
 *   and not per socket: a second process on the same host must not push us over.
 * - `sequence_num` counts every message on a connection, all channels together. Every ticker
 *   is a complete state, so a missed message leaves one product at an older (but internally
 *   consistent) state until its next trade; for an illiquid product that can be minutes. A
 *   gap is therefore counted and repaired: the next heartbeat is turned into a `rotate`
 *   event, the loop opens a fresh connection (no gap in data, not a reconnect) and its
 *   snapshots bring every product up to date. At most one such resync per cooldown (60 s),
 *   so an exchange that skips numbers by design cannot make us churn connections.
 *
 * Numeric policy for tickers (see market.ts): decimal strings are parsed once and strictly.
 * `product_id`, `price` and the envelope `timestamp` are required. Every ticker is complete,
 * so a mapped field it does not carry becomes null (never the previous value); a mapped field
 * that is present and not a decimal string rejects the whole frame. A best bid or ask of 0
 * means an empty book side and becomes null. Fields with no Market counterpart
 * (`low_52_w`, `high_52_w`, the best quantities) are not read.
 *
 * Not sent by Coinbase, and left null because no exact derivation exists: `open24h` (the
 * notes' `price / (1 + pct/100)` divides by a rounded percent, and nothing says the percent
 * was computed from this very `price`), hence `change24h`; and `quoteVolume24h` (`volume x
 * price` prices all of a day's volume at the latest trade). `changePercent24h` is Coinbase's
 * own `price_percent_chg_24_h`, already in percent.
 */
import type { AdapterOptions, ExchangeAdapter, FrameEvent } from '../adapter';
import { readDecimalField } from '../decimal-field';
import { ACK, HEARTBEAT, IGNORED, invalid } from '../frame-events';
import { describe, describeKeys, fail, isRecord, parseJson, type Result } from '../json-frame';
import type { SymbolInfo, TickerPatch } from '../market';
import { awaitListing, fetchJson, listedSymbol, restBase } from '../rest-metadata';
import { inBatches, perRequestLimit } from '../subscribe-batches';
import { joinWarnings, listOf, normalizeSymbols } from '../symbol-list';
import { rememberDerived, splitOn, unknownQuote } from '../symbols';
import { readTickerFields } from '../ticker-fields';

export const COINBASE_WS_URL = 'wss://advanced-trade-ws.coinbase.com';
export const COINBASE_REST_URL = 'https://api.coinbase.com';
/** Public (unauthenticated) product listing, relative to the REST base. */
export const COINBASE_PRODUCTS_PATH = '/api/v3/brokerage/market/products';
/** Coinbase's documented limit for unauthenticated messages, per second and per IP. */
export const COINBASE_MAX_MESSAGES_PER_SECOND = 8;
/** How long the loop waits before reconnecting after Coinbase reported a rate limit. */
export const COINBASE_RATE_LIMIT_RETRY_MS = 5_000;

/**
 * Liquid spot products subscribed when `COINBASE_SYMBOLS` is not set. No `-USDC` products:
 * Coinbase serves them from the `-USD` book and may deliver them under the `-USD` id.
 */
export const COINBASE_DEFAULT_SYMBOLS: readonly string[] = [
  'BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD', 'DOGE-USD', 'ADA-USD', 'AVAX-USD', 'LINK-USD',
  'DOT-USD', 'LTC-USD', 'BCH-USD', 'SHIB-USD', 'UNI-USD', 'XLM-USD', 'AAVE-USD', 'ATOM-USD',
  'NEAR-USD', 'ETH-BTC', 'BTC-EUR', 'ETH-EUR', 'BTC-USDT', 'USDT-USD',
];

export interface CoinbaseTuning {
  /**
   * Product ids per `ticker` subscribe message. Coinbase documents no maximum; 100 keeps
   * each frame a few kilobytes, and the built-in list fits in one message.
   */
  readonly productsPerMessage?: number;
  /** Shortest time between two gap-triggered resyncs. Default 60 000 ms. */
  readonly resyncCooldownMs?: number;
  /** HTTP client for the product listing. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Clock for the resync cooldown and sequence bookkeeping. Default `Date.now`. */
  readonly now?: () => number;
}

export function createCoinbaseAdapter(options: AdapterOptions, tuning: CoinbaseTuning = {}): CoinbaseAdapter {
  return new CoinbaseAdapter(options, tuning);
}

export class CoinbaseAdapter implements ExchangeAdapter {
  readonly exchange: string;
  readonly wsUrl: string;
  /** Product ids subscribed: trimmed, upper case, de-duplicated, in configuration order. */
  readonly symbols: readonly string[];
  /** Below COINBASE_MAX_MESSAGES_PER_SECOND on purpose: that budget is per IP, not per socket. */
  readonly maxMessagesPerSecond = 5;
  /** Ten missed one-second heartbeats. */
  readonly silenceTimeoutMs = 10_000;

  private readonly restUrl: string | null;
  private readonly productsPerMessage: number;
  private readonly resyncCooldownMs: number;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sequences = new SequenceWatch();
  /** Products some `subscriptions` ack has listed under `ticker`. */
  private readonly confirmed = new Set<string>();
  private listed = new Map<string, SymbolInfo>();
  private readonly derived = rememberDerived((productId) => splitProductId(productId) ?? unknownQuote(productId));
  private gapCount = 0;
  private missedCount = 0;
  private lastResyncAt = -Infinity;
  private resyncReason: string | null = null;

  constructor(options: AdapterOptions, tuning: CoinbaseTuning = {}) {
    this.exchange = options.exchange;
    this.wsUrl = options.wsUrl;
    this.restUrl = restBase(options.restUrl);
    this.symbols = normalizeSymbols(options.symbols);
    this.productsPerMessage = perRequestLimit(tuning.productsPerMessage, 100);
    this.resyncCooldownMs = tuning.resyncCooldownMs ?? 60_000;
    this.fetch = tuning.fetch ?? fetch;
    this.now = tuning.now ?? Date.now;
  }

  subscribeMessages(): string[] {
    return [
      JSON.stringify({ type: 'subscribe', channel: 'heartbeats' }),
      ...inBatches(this.symbols, this.productsPerMessage).map((productIds) => JSON.stringify({ type: 'subscribe', product_ids: productIds, channel: 'ticker' })),
    ];
  }

  parse(frame: string): FrameEvent {
    const read = readCoinbaseFrame(frame);
    if (read.tickerSubscriptions !== null) for (const product of read.tickerSubscriptions) this.confirmed.add(product);
    if (read.sequence !== null) this.noteSequence(read.sequence);
    if (read.event.kind === 'heartbeat' && this.resyncReason !== null) {
      // A heartbeat carries no data, so replacing it with the rotation loses nothing.
      const reason = this.resyncReason;
      this.resyncReason = null;
      return { kind: 'rotate', reason };
    }
    return read.event;
  }

  /** Sequence gaps seen (messages Coinbase numbered but we never received), across connections. */
  get sequenceGaps(): { readonly gaps: number; readonly missedMessages: number } {
    return { gaps: this.gapCount, missedMessages: this.missedCount };
  }

  /**
   * Subscribed products no `subscriptions` ack has listed yet. Coinbase does not reject an
   * unknown product id; leaving it out of the ack is the only sign.
   */
  unconfirmedSymbols(): string[] {
    return this.symbols.filter((symbol) => !this.confirmed.has(symbol));
  }

  symbolInfo(nativeSymbol: string): SymbolInfo {
    return this.listed.get(nativeSymbol) ?? this.derived(nativeSymbol);
  }

  async loadSymbols(signal: AbortSignal): Promise<string | null> {
    const warnings: string[] = [];
    const usdc = this.symbols.filter((symbol) => symbol.endsWith('-USDC'));
    if (usdc.length > 0) {
      warnings.push(`Coinbase serves -USDC products from the -USD book and may deliver them as the -USD product id: ${listOf(usdc)}`);
    }
    if (this.restUrl !== null) {
      const fetched = await awaitListing(this.fetchProducts(this.restUrl, signal), signal);
      if (fetched.ok) {
        const listing = fetched.value;
        const mine = new Map<string, SymbolInfo>();
        const notTrading: string[] = [];
        for (const symbol of this.symbols) {
          const product = listing.products.get(symbol);
          if (!product) continue;
          mine.set(symbol, product.info);
          if (!product.trading) notTrading.push(symbol);
        }
        this.listed = mine;
        const missing = this.symbols.filter((symbol) => !mine.has(symbol));
        if (missing.length > 0) {
          warnings.push(
            listing.complete
              ? `the product listing does not include ${missing.length} configured products; Coinbase accepts their subscriptions but never sends data: ${listOf(missing)}`
              : `the product listing was cut short (${listing.products.size} of ${listing.total}); ${missing.length} configured products were not in it and their base and quote are derived from the id: ${listOf(missing)}`,
          );
        }
        if (notTrading.length > 0) warnings.push(`listed but not online or trading disabled: ${listOf(notTrading)}`);
      } else {
        warnings.push(`product listing from ${this.restUrl} failed (${fetched.reason}); base and quote are derived by splitting the product id on "-"`);
      }
    }
    const unsplittable = this.symbols.filter((symbol) => !this.listed.has(symbol) && splitProductId(symbol) === null);
    if (unsplittable.length > 0) {
      warnings.push(`not of the form BASE-QUOTE, so their quote is UNKNOWN: ${listOf(unsplittable)}`);
    }
    return joinWarnings(warnings);
  }

  private noteSequence(sequence: number): void {
    const now = this.now();
    const gap = this.sequences.observe(sequence, now);
    if (gap === null) return;
    this.gapCount++;
    this.missedCount += gap.missed;
    if (now - this.lastResyncAt < this.resyncCooldownMs) return;
    this.lastResyncAt = now;
    this.resyncReason = `sequence_num jumped from ${gap.from} to ${sequence} (${gap.missed} messages missed); resubscribing on a new connection for fresh snapshots`;
  }

  private async fetchProducts(restUrl: string, signal: AbortSignal): Promise<ProductListing> {
    const body = await fetchJson(this.fetch, `${restUrl}${COINBASE_PRODUCTS_PATH}?product_type=SPOT`, signal);
    if (!isRecord(body) || !Array.isArray(body.products)) {
      throw new Error(`expected an object with a "products" array, got ${isRecord(body) ? `products: ${describe(body.products)}` : describe(body)}`);
    }
    const products = new Map<string, ListedProduct>();
    for (const entry of body.products) {
      if (!isRecord(entry)) continue;
      const info = listedSymbol(entry, { symbol: 'product_id', base: 'base_currency_id', quote: 'quote_currency_id' });
      if (!info) continue;
      const trading = entry.status === 'online' && entry.trading_disabled !== true;
      products.set(info.nativeSymbol, { info, trading });
    }
    const total = typeof body.num_products === 'number' ? body.num_products : body.products.length;
    return { products, total, complete: body.products.length >= total };
  }
}

interface ListedProduct {
  readonly info: SymbolInfo;
  readonly trading: boolean;
}

interface ProductListing {
  readonly products: ReadonlyMap<string, ListedProduct>;
  readonly total: number;
  /** False when `num_products` says there are more than the response carried. */
  readonly complete: boolean;
}

/** `BTC-USD` -> BTC / USD; null unless there is exactly one `-` with text on both sides. */
export function splitProductId(productId: string): SymbolInfo | null {
  return splitOn(productId, '-');
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers

/**
 * Follows `sequence_num` per connection without knowing which connection a frame came from
 * (the adapter sees text only). Each connection counts up from 0, so a number that continues
 * no known counter and is below all of them starts a new one (a new connection); a number
 * above a counter's next value is a gap in the closest counter below it. Two counters are
 * kept, because during a rotation the old and the new socket deliver interleaved, and a
 * counter that has not moved for 10 s (ten heartbeats) belongs to a socket that is gone.
 */
class SequenceWatch {
  private lanes: Array<{ last: number; at: number }> = [];

  /** Records one number; returns the gap it reveals, or null. */
  observe(sequence: number, now: number): { readonly from: number; readonly missed: number } | null {
    this.lanes = this.lanes.filter((lane) => now - lane.at <= LANE_IDLE_MS);
    const next = this.lanes.find((lane) => lane.last === sequence - 1);
    if (next) {
      next.last = sequence;
      next.at = now;
      return null;
    }
    let below: { last: number; at: number } | undefined;
    for (const lane of this.lanes) if (lane.last < sequence && (below === undefined || lane.last > below.last)) below = lane;
    if (below === undefined) {
      this.lanes.unshift({ last: sequence, at: now });
      this.lanes.length = Math.min(this.lanes.length, MAX_LANES);
      return null;
    }
    const from = below.last;
    below.last = sequence;
    below.at = now;
    return { from, missed: sequence - from - 1 };
  }
}

const MAX_LANES = 2;
const LANE_IDLE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Frames

/** One frame read: what it means, its `sequence_num`, and the ticker products an ack lists. */
export interface CoinbaseFrame {
  readonly event: FrameEvent;
  /** `sequence_num`, when the envelope carried a valid one (even if the rest was invalid). */
  readonly sequence: number | null;
  /** For a `subscriptions` ack: the product ids listed under `ticker`; otherwise null. */
  readonly tickerSubscriptions: readonly string[] | null;
}

/** Wire field -> normalized field, with the wire meaning for error messages. */
const TICKER_FIELDS: ReadonlyArray<readonly [string, 'bid' | 'ask' | 'high24h' | 'low24h' | 'volume24h' | 'changePercent24h', string]> = [
  ['best_bid', 'bid', 'best bid'],
  ['best_ask', 'ask', 'best ask'],
  ['high_24_h', 'high24h', '24h high'],
  ['low_24_h', 'low24h', '24h low'],
  ['volume_24_h', 'volume24h', '24h base volume'],
  ['price_percent_chg_24_h', 'changePercent24h', '24h change percent'],
];

/** Reads one frame to its meaning. Pure and total, like `readCoinbaseFrame`. */
export function parseCoinbaseFrame(text: string): FrameEvent {
  return readCoinbaseFrame(text).event;
}

/**
 * Reads one Advanced Trade text frame. Pure and total: anything unexpected is an `invalid`
 * event whose reason names the field, what was expected and what came.
 */
export function readCoinbaseFrame(text: string): CoinbaseFrame {
  const json = parseJson(text);
  if (!json.ok) return only(invalid(json.reason));
  const message = json.value;
  if (!isRecord(message)) return only(invalid(`expected a JSON object, got ${describe(message)}`));
  // Errors have no channel: {"type":"error","message":"..."}.
  if (message.type === 'error') return only(readError(message));
  const { channel } = message;
  if (channel === undefined) {
    if (typeof message.type === 'string') {
      return only(invalid(`frame of type ${describe(message.type)} without "channel": this looks like the legacy Exchange ws-feed, which this adapter does not speak (check COINBASE_WS_URL)`));
    }
    return only(invalid(`unrecognized frame: expected "channel" or an error; keys: ${describeKeys(message)}`));
  }
  if (typeof channel !== 'string') return only(invalid(`expected "channel" as a string, got ${describe(channel)}`));
  const sequence = readSequence(message.sequence_num);
  if (!sequence.ok) return only(invalid(`${channel}: ${sequence.reason}`));
  const withSequence = (event: FrameEvent, tickerSubscriptions: readonly string[] | null = null): CoinbaseFrame => ({
    event,
    sequence: sequence.value,
    tickerSubscriptions,
  });
  const { events } = message;
  if (channel !== 'ticker' && channel !== 'subscriptions' && channel !== 'heartbeats') {
    return withSequence(IGNORED); // status, level2, market_trades, ticker_batch...: not subscribed by us
  }
  if (!Array.isArray(events)) return withSequence(invalid(`${channel}: expected "events" as an array, got ${describe(events)}`));
  switch (channel) {
    case 'ticker': {
      const patches = readTickerEvents(message.timestamp, events);
      return withSequence(patches.ok ? { kind: 'tickers', patches: patches.value } : invalid(`ticker: ${patches.reason}`));
    }
    case 'subscriptions': {
      const products = readSubscriptions(events);
      return products.ok ? withSequence(ACK, products.value) : withSequence(invalid(`subscriptions: ${products.reason}`));
    }
    case 'heartbeats': {
      const checked = readHeartbeats(events);
      return withSequence(checked === null ? HEARTBEAT : invalid(`heartbeats: ${checked}`));
    }
  }
}

function readSequence(raw: unknown): Result<number | null> {
  // Some captures omit optional envelope fields; a missing counter only disables gap detection.
  if (raw === undefined) return { ok: true, value: null };
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) {
    return fail(`expected "sequence_num" as a non-negative integer, got ${describe(raw)}`);
  }
  return { ok: true, value: raw };
}

function readTickerEvents(timestamp: unknown, events: readonly unknown[]): Result<TickerPatch[]> {
  if (typeof timestamp !== 'string') return fail(`expected "timestamp" as an RFC 3339 string, got ${describe(timestamp)}`);
  const eventTime = parseRfc3339Millis(timestamp);
  if (eventTime === null) return fail(`"timestamp" is not an RFC 3339 time: ${describe(timestamp)}`);
  const patches: TickerPatch[] = [];
  for (const [e, event] of events.entries()) {
    const at = `events[${e}]`;
    if (!isRecord(event)) return fail(`${at}: expected an object, got ${describe(event)}`);
    if (event.type !== 'snapshot' && event.type !== 'update') {
      return fail(`${at}: expected "type" to be "snapshot" or "update", got ${describe(event.type)}`);
    }
    const { tickers } = event;
    if (!Array.isArray(tickers)) return fail(`${at}: expected "tickers" as an array, got ${describe(tickers)}`);
    for (const [t, ticker] of tickers.entries()) {
      const patch = readTicker(ticker, eventTime, `${at}.tickers[${t}]`);
      if (!patch.ok) return patch;
      patches.push(patch.value);
    }
  }
  return { ok: true, value: patches };
}

function readTicker(ticker: unknown, eventTime: number, at: string): Result<TickerPatch> {
  if (!isRecord(ticker)) return fail(`${at}: expected a ticker object, got ${describe(ticker)}`);
  if (ticker.type !== undefined && ticker.type !== 'ticker') return fail(`${at}: expected "type" "ticker", got ${describe(ticker.type)}`);
  const product = ticker.product_id;
  if (typeof product !== 'string' || product === '') {
    return fail(`${at}: expected "product_id" as a non-empty string, got ${describe(product)}`);
  }
  const where = `${at} ${product}`;
  const price = readDecimal(ticker, 'price', 'last price', where);
  if (!price.ok) return price;
  if (price.value === null) return fail(`${where}: required field "price" (last price) is missing`);
  if (price.value <= 0) return fail(`${where}: field "price" (last price) must be positive, got ${describe(ticker.price)}`);

  // open24h, quoteVolume24h and change24h are never sent (see the top of this file); an absent
  // mapped field reads as null (see readDecimal), so every field of the patch is set.
  const known = { price: price.value, open24h: null, quoteVolume24h: null, change24h: null };
  const fields = readTickerFields(TICKER_FIELDS, known, (wire, meaning) => readDecimal(ticker, wire, meaning, where));
  if (!fields.ok) return fields;
  return { ok: true, value: { nativeSymbol: product, eventTime, fields: fields.value } };
}

/** A decimal string, or null when the field is absent: every ticker is complete, so absent is known-missing. */
function readDecimal(ticker: Readonly<Record<string, unknown>>, key: string, meaning: string, where: string): Result<number | null> {
  const read = readDecimalField(ticker, key, meaning, where);
  return read.ok ? { ok: true, value: read.value ?? null } : read;
}

/** The product ids an ack lists under `ticker` (the last event wins: each lists everything). */
function readSubscriptions(events: readonly unknown[]): Result<readonly string[]> {
  let products: readonly string[] = [];
  for (const [e, event] of events.entries()) {
    if (!isRecord(event) || !isRecord(event.subscriptions)) {
      return fail(`events[${e}]: expected an object with a "subscriptions" object, got ${describe(isRecord(event) ? event.subscriptions : event)}`);
    }
    for (const [name, list] of Object.entries(event.subscriptions)) {
      if (!Array.isArray(list) || !list.every((item): item is string => typeof item === 'string')) {
        return fail(`events[${e}].subscriptions.${name}: expected an array of strings, got ${describe(list)}`);
      }
      if (name === 'ticker') products = list;
    }
  }
  return { ok: true, value: products };
}

/** Null when well-formed, else the reason. `current_time` is a Go time string and is not read. */
function readHeartbeats(events: readonly unknown[]): string | null {
  for (const [e, event] of events.entries()) {
    if (!isRecord(event)) return `events[${e}]: expected an object, got ${describe(event)}`;
    // The docs show the counter as a string, live captures as a number.
    const counter = event.heartbeat_counter;
    if (counter !== undefined && typeof counter !== 'number' && typeof counter !== 'string') {
      return `events[${e}]: expected "heartbeat_counter" as a number or string, got ${describe(counter)}`;
    }
  }
  return null;
}

function readError(message: Readonly<Record<string, unknown>>): FrameEvent {
  const text = typeof message.message === 'string' && message.message !== '' ? message.message : `(no message; frame keys: ${Object.keys(message).join(', ')})`;
  const reason = typeof message.reason === 'string' && message.reason !== '' ? `: ${message.reason}` : '';
  // Coinbase also answers an unknown channel name with "authentication failure".
  const hint = /authentication failure/i.test(text) ? ' (Coinbase also sends this for an unknown channel name)' : '';
  const full = `Coinbase error: ${text}${reason}${hint}`;
  return /rate.?limit|too many/i.test(text + reason)
    ? { kind: 'error', message: full, retryAfterMs: COINBASE_RATE_LIMIT_RETRY_MS }
    : { kind: 'error', message: full };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch milliseconds of an RFC 3339 time, keeping the digits below the millisecond as a
 * fraction (`...00.333418553Z` -> `...333.418553`). `Date.parse` would drop them, and some
 * engines reject nine fractional digits outright. Null for anything else, or an impossible date.
 */
export function parseRfc3339Millis(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  // Date.UTC rolls 31 February over into March; a real day keeps its month.
  const midnight = new Date(Date.UTC(year, month - 1, day));
  if (midnight.getUTCMonth() !== month - 1 || midnight.getUTCFullYear() !== year) return null;
  let offsetMs = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 23 || offsetMinutes > 59) return null;
    offsetMs = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const fraction = m[7] ?? '';
  const wholeMs = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const subMs = fraction.length > 3 ? Number(`0.${fraction.slice(3)}`) : 0;
  // Integers first (exact), the sub-millisecond part last: one rounding at most.
  const millis = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMs + wholeMs + subMs;
  return millis > 0 ? millis : null;
}

function only(event: FrameEvent): CoinbaseFrame {
  return { event, sequence: null, tickerSubscriptions: null };
}
