/**
 * Coinbase Advanced Trade market data (protocol: docs/exchanges/coinbase.md). The legacy
 * Exchange ws-feed (`ws-feed.exchange.coinbase.com`) is a different protocol and is not read
 * here; its frames are rejected with a reason that says so.
 *
 * - Sockets to `wss://advanced-trade-ws.coinbase.com`, no authentication. Coinbase takes one
 *   channel per subscribe message: `heartbeats` first (it is what keeps the other channels
 *   open, and a first subscribe is reportedly due within 5 s of connecting), then `ticker` with the product
 *   ids in batches. Each subscribe is answered by one `subscriptions` message listing everything
 *   the connection is subscribed to; that is the ack. An unknown product id is not an error:
 *   it is simply missing from that list (see `unconfirmedSymbols`).
 * - `heartbeats` is subscribed by every `subscribeMessages` call, also when the call only adds
 *   products to a live connection: the adapter cannot tell the two apart (it sees symbols, not
 *   connections). Subscribing a channel the connection already has is taken to change nothing:
 *   the ack lists a connection's subscriptions per channel, each product once, so Coinbase
 *   keeps them as a set (the docs do not say so in as many words). The cost is one message
 *   per addition, counted in the per-IP message budget like any other. Remembering per
 *   connection whether it has heartbeats would need a connection identity the contract does
 *   not give the adapter.
 * - Keep-alive: no pings either way. `heartbeats` sends one message per second, so 10 s of
 *   silence (ten missed heartbeats) means a dead socket. No documented connection lifetime, so
 *   no planned rotation by age.
 * - Limits: 8 new connections per second per IP (`connectionRate`) and 8 unauthenticated
 *   messages per second per IP across all connections (`messageRatePerIp`). No cap on products
 *   per connection or per subscription is documented, so `capacity` is our own
 *   (`UNDOCUMENTED_SYMBOLS_PER_CONNECTION`). Per connection we declare 5 messages per second,
 *   below the per-IP figure, so one connection's subscribe burst leaves room for the others.
 * - `sequence_num` counts every message on a connection, all channels together. Every ticker
 *   is a complete state, so a missed message leaves one product at an older (but internally
 *   consistent) state until its next trade; for an illiquid product that can be minutes. A
 *   gap is therefore counted and repaired: the next heartbeat of the same counter is turned
 *   into a `rotate` event, so the connection that lost the message (as far as its numbers tell
 *   it apart from the others) is replaced, and the fresh snapshots bring its products up to
 *   date. At most one such resync per cooldown (60 s) for the whole feed, so an exchange that
 *   skips numbers by design cannot make us churn connections.
 * - Listing: `GET /api/v3/brokerage/market/products?product_type=SPOT`, public, paged with
 *   `limit` and `offset`. A product trades iff its `status` is `online` and neither
 *   `trading_disabled` nor `is_disabled` is true; an entry whose `product_type` is not `SPOT`
 *   is left out. Products the listing does not name are split on `-`, or get the quote UNKNOWN.
 * - `-USDC` products: Coinbase serves them from the `-USD` book and may deliver them under the
 *   `-USD` id; `normalizeSymbols` warns about configured ones.
 *
 * Numeric policy for tickers (see src/market.ts): decimal strings are parsed once and strictly.
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
import {
  symbolsPerConnection,
  UNDOCUMENTED_SYMBOLS_PER_CONNECTION,
  type AdapterOptions,
  type ExchangeAdapter,
  type FrameEvent,
  type ListedMarket,
  type NormalizedSymbols,
  type RateLimit,
} from '../adapter';
import { readDecimalField } from '../decimal-field';
import { ACK, HEARTBEAT, IGNORED, invalid } from '../frame-events';
import { describe, describeKeys, fail, isRecord, parseJson, type Result } from '../json-frame';
import type { SymbolInfo, TickerPatch } from '../../market';
import { fetchJson, listedSymbol, listingUrl, readEntries, restBase, textField } from '../rest-metadata';
import { inBatches, perRequestLimit } from '../subscribe-batches';
import { distinctSymbols, listOf } from '../symbol-list';
import { rememberDerived, splitOn, unknownQuote } from '../symbols';
import { readTickerFields } from '../ticker-fields';

export const COINBASE_WS_URL = 'wss://advanced-trade-ws.coinbase.com';
export const COINBASE_REST_URL = 'https://api.coinbase.com';
/** Public (unauthenticated) product listing, relative to the REST base. */
export const COINBASE_PRODUCTS_PATH = '/api/v3/brokerage/market/products';
/**
 * Products asked for per listing request (`limit`). Coinbase documents the parameter but no
 * maximum; a short page is the last one.
 */
export const COINBASE_PRODUCTS_PER_PAGE = 500;
/** Coinbase's documented limit for unauthenticated messages: 8 per second per IP. */
export const COINBASE_MESSAGE_RATE_PER_IP: RateLimit = { limit: 8, windowMs: 1000 };
/** New connections Coinbase accepts from one IP: 8 per second. */
export const COINBASE_CONNECTION_RATE: RateLimit = { limit: 8, windowMs: 1000 };
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
  /** Products per listing request. Default `COINBASE_PRODUCTS_PER_PAGE`. */
  readonly productsPerPage?: number;
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

/** Sent first on every subscription (see the top of this file). */
const HEARTBEATS_SUBSCRIBE = JSON.stringify({ type: 'subscribe', channel: 'heartbeats' });

/** More listing pages than this means the paging does not end; the listing is not trusted. */
const MAX_LISTING_PAGES = 100;

export class CoinbaseAdapter implements ExchangeAdapter {
  readonly exchange: string;
  readonly wsUrl: string;
  readonly capacity = symbolsPerConnection(UNDOCUMENTED_SYMBOLS_PER_CONNECTION);
  readonly connectionRate = COINBASE_CONNECTION_RATE;
  readonly messageRatePerIp = COINBASE_MESSAGE_RATE_PER_IP;
  /** Per connection, below the per-IP figure that all connections share (`messageRatePerIp`). */
  readonly maxMessagesPerSecond = 5;
  /** Ten missed one-second heartbeats. */
  readonly silenceTimeoutMs = 10_000;

  private readonly restUrl: string | null;
  private readonly productsPerMessage: number;
  private readonly productsPerPage: number;
  private readonly resyncCooldownMs: number;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sequences = new SequenceWatch();
  /** Products some `subscriptions` ack, on any connection, has listed under `ticker`. */
  private readonly confirmed = new Set<string>();
  private readonly derived = rememberDerived((productId) => splitProductId(productId) ?? unknownQuote(productId));
  private gapCount = 0;
  private missedCount = 0;
  private lastResyncAt = -Infinity;
  /** A resync waiting for the next heartbeat of the counter (the connection) that had the gap. */
  private resync: { readonly lane: Lane; readonly reason: string } | null = null;

  constructor(options: AdapterOptions, tuning: CoinbaseTuning = {}) {
    this.exchange = options.exchange;
    this.wsUrl = options.wsUrl;
    this.restUrl = restBase(options.restUrl);
    this.productsPerMessage = perRequestLimit(tuning.productsPerMessage, 100);
    this.productsPerPage = perRequestLimit(tuning.productsPerPage, COINBASE_PRODUCTS_PER_PAGE);
    this.resyncCooldownMs = tuning.resyncCooldownMs ?? 60_000;
    this.fetch = tuning.fetch ?? fetch;
    this.now = tuning.now ?? Date.now;
  }

  subscribeMessages(symbols: readonly string[]): string[] {
    const tickers = inBatches(symbols, this.productsPerMessage).map((productIds) => JSON.stringify({ type: 'subscribe', product_ids: productIds, channel: 'ticker' }));
    return [HEARTBEATS_SUBSCRIBE, ...tickers];
  }

  parse(frame: string): FrameEvent {
    const read = readCoinbaseFrame(frame);
    if (read.tickerSubscriptions !== null) for (const product of read.tickerSubscriptions) this.confirmed.add(product);
    const lane = read.sequence === null ? null : this.noteSequence(read.sequence);
    if (read.event.kind === 'heartbeat' && this.resync !== null && this.resync.lane === lane) {
      // A heartbeat carries no data, so replacing it with the rotation loses nothing.
      const { reason } = this.resync;
      this.resync = null;
      return { kind: 'rotate', reason };
    }
    return read.event;
  }

  /** Sequence gaps seen (messages Coinbase numbered but we never received), across connections. */
  get sequenceGaps(): { readonly gaps: number; readonly missedMessages: number } {
    return { gaps: this.gapCount, missedMessages: this.missedCount };
  }

  /**
   * Those of `symbols` no `subscriptions` ack has listed yet, on any connection. Coinbase does
   * not reject an unknown product id; leaving it out of the ack is the only sign.
   */
  unconfirmedSymbols(symbols: readonly string[]): string[] {
    return symbols.filter((symbol) => !this.confirmed.has(symbol));
  }

  /** Upper case (product ids are), trimmed, de-duplicated; a warning names `-USDC` products. */
  normalizeSymbols(configured: readonly string[]): NormalizedSymbols {
    const symbols = distinctSymbols(configured);
    const usdc = symbols.filter((symbol) => symbol.endsWith('-USDC'));
    const warnings =
      usdc.length > 0 ? [`Coinbase serves -USDC products from the -USD book and may deliver them as the -USD product id: ${listOf(usdc)}`] : [];
    return { symbols, warnings };
  }

  deriveSymbolInfo(nativeSymbol: string): SymbolInfo {
    return this.derived(nativeSymbol);
  }

  /**
   * Every spot product, page by page. A short page is the last one, unless `num_products` says
   * there are more entries than were read (a server may cap `limit` below what was asked). A
   * page that adds no product means the paging does not advance (a server that ignores
   * `offset`): a listing that stops short is not trusted, so that throws.
   */
  async fetchListing(signal: AbortSignal): Promise<ListedMarket[]> {
    const base = listingUrl(this.restUrl, COINBASE_PRODUCTS_PATH);
    const products = new Map<string, ListedMarket>();
    let offset = 0;
    for (let page = 0; page < MAX_LISTING_PAGES; page++) {
      const url = `${base}?product_type=SPOT&limit=${this.productsPerPage}&offset=${offset}`;
      const body = await fetchJson(this.fetch, url, signal);
      if (!isRecord(body) || !Array.isArray(body.products)) {
        throw new Error(`products: expected an object with a "products" array, got ${isRecord(body) ? `products: ${describe(body.products)}` : describe(body)}`);
      }
      offset += body.products.length;
      const before = products.size;
      for (const product of readEntries(body.products, readProduct, 'products')) {
        if (!products.has(product.nativeSymbol)) products.set(product.nativeSymbol, product);
      }
      const total = typeof body.num_products === 'number' ? body.num_products : null;
      const more = body.products.length >= this.productsPerPage || (total !== null && offset < total);
      if (!more) return [...products.values()];
      if (products.size === before) {
        throw new Error(`products: paging stopped advancing after ${offset} entries${total === null ? '' : ` of ${total}`}`);
      }
    }
    throw new Error(`products: more than ${MAX_LISTING_PAGES} pages of ${this.productsPerPage}`);
  }

  /** Follows one sequence number; returns the counter (connection) it belongs to. */
  private noteSequence(sequence: number): Lane {
    const now = this.now();
    const { lane, gap } = this.sequences.observe(sequence, now);
    if (this.resync !== null && !this.sequences.follows(this.resync.lane)) this.resync = null; // its socket is gone
    if (gap === null) return lane;
    this.gapCount++;
    this.missedCount += gap.missed;
    if (now - this.lastResyncAt < this.resyncCooldownMs) return lane;
    this.lastResyncAt = now;
    this.resync = {
      lane,
      reason: `sequence_num jumped from ${gap.from} to ${sequence} (${gap.missed} messages missed); resubscribing on a new connection for fresh snapshots`,
    };
    return lane;
  }
}

/** One products entry; null when unreadable or not a spot product. */
function readProduct(entry: Readonly<Record<string, unknown>>): ListedMarket | null {
  if (entry.product_type !== undefined && entry.product_type !== 'SPOT') return null;
  const info = listedSymbol(entry, { symbol: 'product_id', base: 'base_currency_id', quote: 'quote_currency_id' });
  const status = textField(entry, 'status');
  if (info === null || status === null) return null;
  // `is_disabled` is the product switched off altogether; `trading_disabled` only its trading.
  const disabled = entry.trading_disabled === true ? 'trading disabled' : entry.is_disabled === true ? 'disabled' : null;
  return { ...info, status: disabled === null ? status : `${status}, ${disabled}`, trading: status === 'online' && disabled === null };
}

/** `BTC-USD` -> BTC / USD; null unless there is exactly one `-` with text on both sides. */
export function splitProductId(productId: string): SymbolInfo | null {
  return splitOn(productId, '-');
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers

/** One connection's counter: the last number seen and when. */
interface Lane {
  last: number;
  at: number;
}

/**
 * Follows `sequence_num` per connection without knowing which connection a frame came from
 * (the adapter sees text only). Each connection counts up from 0, so a number that continues
 * no known counter and is below all of them starts a new one (a new connection); a number
 * above a counter's next value is a gap in the closest counter below it. A feed has several
 * connections, and during a rotation the old and the new socket deliver interleaved, so one
 * counter is kept per connection; a counter that has not moved for 10 s (ten heartbeats)
 * belongs to a socket that is gone and is forgotten.
 */
class SequenceWatch {
  private lanes: Lane[] = [];

  /** Records one number; returns its counter and the gap it reveals, or null. */
  observe(sequence: number, now: number): { readonly lane: Lane; readonly gap: { readonly from: number; readonly missed: number } | null } {
    this.lanes = this.lanes.filter((lane) => now - lane.at <= LANE_IDLE_MS);
    const next = this.lanes.find((lane) => lane.last === sequence - 1);
    if (next) {
      next.last = sequence;
      next.at = now;
      return { lane: next, gap: null };
    }
    let below: Lane | undefined;
    for (const lane of this.lanes) if (lane.last < sequence && (below === undefined || lane.last > below.last)) below = lane;
    if (below === undefined) {
      const lane = { last: sequence, at: now };
      this.lanes.push(lane);
      if (this.lanes.length > MAX_LANES) this.forgetLeastRecent();
      return { lane, gap: null };
    }
    const from = below.last;
    below.last = sequence;
    below.at = now;
    return { lane: below, gap: { from, missed: sequence - from - 1 } };
  }

  /** Whether `lane` is still followed (its socket has not gone quiet). */
  follows(lane: Lane): boolean {
    return this.lanes.includes(lane);
  }

  private forgetLeastRecent(): void {
    let oldest = 0;
    for (let i = 1; i < this.lanes.length; i++) if (this.lanes[i]!.at < this.lanes[oldest]!.at) oldest = i;
    this.lanes.splice(oldest, 1);
  }
}

/** Far more connections than one feed opens; only a bound against numbers that never continue. */
const MAX_LANES = 64;
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
