/**
 * Bybit API v5, spot (protocol: docs/exchanges/bybit.md).
 *
 * - Sockets on `/v5/public/spot`. Per symbol two topics: `tickers.<SYM>` (last price, 24 h
 *   window) and `orderbook.1.<SYM>` (top of book), because spot tickers carry no bid or ask.
 *   Both feed the same market; their patches name their stream, so MarketBook orders each
 *   stream's event times separately (the two are stamped independently).
 * - Subscribe requests carry at most 10 args (Bybit answers `args size >10` otherwise), the two
 *   topics of a symbol side by side, and each a `req_id` (increasing across all connections of
 *   the feed) so a rejection can name its args. Symbols the listing does not name go last, in
 *   requests of their own: one bad topic may fail the whole request, and it must not take four
 *   good symbols with it. Until a listing is known (`useListing`), only symbols whose text
 *   cannot be a Bybit symbol are isolated.
 * - Limits: the args of one connection may total 21 000 characters (`capacity`: a symbol costs
 *   the characters its two topics add, counted as `bybitArgsCost` does); 500 new connections
 *   per 5 minutes per IP (`connectionRate`). No inbound message limit is documented for public
 *   sockets; the pacer still spreads the subscribe requests over time.
 * - Keep-alive: the client sends `{"op":"ping"}` every 20 s (Bybit's recommendation; the
 *   server cuts a connection after ~10 min without it). orderbook.1 re-sends its snapshot
 *   every 3 s even when unchanged and the pong answers within a round trip, so 30 s without
 *   any frame means a dead socket.
 * - No rotation: Bybit documents no connection lifetime.
 * - Listing: `GET /v5/market/instruments-info?category=spot` (not paginated for spot), a reply
 *   with `retCode` 0 and `result.list`. A symbol trades iff its `status` is `Trading`. Symbols
 *   the listing does not name are split on the longest known quote suffix (`symbols.ts`), or
 *   get the quote UNKNOWN.
 *
 * Numeric policy (see src/market.ts): decimal strings parsed once and strictly. A ticker snapshot
 * needs a positive `lastPrice` and a numeric `ts`; an order-book level needs a positive price
 * and size. Bybit spells "no value" as "" (documented for `usdIndexPrice`), so an optional
 * field that is "" or absent in a snapshot is null: a snapshot is the whole ticker, and a
 * value it no longer carries must not survive from an older one. A present field that is not
 * a decimal string rejects the whole frame.
 *
 * Ordering: every push is a full snapshot, so a gap in `cs` (the cross sequence, which counts
 * engine events, not pushes) loses nothing, and frames on one socket arrive in order. A late
 * frame from an older socket is dropped by MarketBook, which ignores event times older than
 * the stream's latest. `cs`, `u` and `seq` are therefore not read.
 */
import type { AdapterOptions, ConnectionCapacity, ExchangeAdapter, FrameEvent, ListedMarket, NormalizedSymbols, RateLimit } from '../adapter';
import { parseDecimal } from '../decimal';
import { readDecimalField } from '../decimal-field';
import { ACK, HEARTBEAT, IGNORED, invalid } from '../frame-events';
import { describe, describeKeys, fail, isRecord, parseJson, type Result } from '../json-frame';
import type { SymbolInfo, TickerPatch } from '../../market';
import { fetchJson, listedSymbol, listingUrl, readEntries, restBase, textField } from '../rest-metadata';
import { distinctSymbols } from '../symbol-list';
import { deriveSymbolInfoOrUnknown, rememberDerived } from '../symbols';
import { type TickerFieldValues, type WireFieldTable } from '../ticker-fields';

export const BYBIT_WS_URL = 'wss://stream.bybit.com/v5/public/spot';
export const BYBIT_REST_URL = 'https://api.bybit.com';
/** Spot allows at most this many topics in one subscribe request. */
export const BYBIT_MAX_ARGS_PER_REQUEST = 10;
/** Total length of the args text one public connection may subscribe. */
export const BYBIT_MAX_ARGS_CHARS = 21_000;
/**
 * Bybit documents no inbound message limit for public sockets; the pacer still spreads the
 * subscribe requests so a long symbol list does not arrive as one burst.
 */
export const BYBIT_MAX_MESSAGES_PER_SECOND = 10;
/** New connections Bybit accepts from one IP: 500 per 5 minutes. */
export const BYBIT_CONNECTION_RATE: RateLimit = { limit: 500, windowMs: 5 * 60_000 };
export const BYBIT_PING_INTERVAL_MS = 20_000;
export const BYBIT_PING_MESSAGE = '{"op":"ping"}';
/** The listing, relative to the REST base. Spot is not paginated: `limit` and `cursor` are ignored. */
const BYBIT_LISTING_PATH = '/v5/market/instruments-info?category=spot';

/** Stream names on patches: the ticker and the book are ordered separately by MarketBook. */
export const BYBIT_TICKER_STREAM = 'tickers';
export const BYBIT_BOOK_STREAM = 'orderbook';

/** Liquid spot pairs subscribed when `BYBIT_SYMBOLS` is not set. */
export const BYBIT_DEFAULT_SYMBOLS: readonly string[] = [
  'BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'TRXUSDT', 'TONUSDT',
  'AVAXUSDT', 'LINKUSDT', 'DOTUSDT', 'LTCUSDT', 'BCHUSDT', 'SUIUSDT', 'NEARUSDT', 'APTUSDT',
  'PEPEUSDT', 'SHIBUSDT', 'UNIUSDT', 'MNTUSDT', 'BTCUSDC', 'ETHUSDC', 'ETHBTC',
];

export interface BybitTuning {
  /** HTTP client for instruments-info. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Milliseconds between client pings. Default 20 000; tests use a short one. */
  readonly pingIntervalMs?: number;
}

export function createBybitAdapter(options: AdapterOptions, tuning: BybitTuning = {}): BybitAdapter {
  return new BybitAdapter(options, tuning);
}

/** Topics of one symbol, in the order they are subscribed. */
export function bybitTopics(symbol: string): readonly [string, string] {
  return [`tickers.${symbol}`, `orderbook.1.${symbol}`];
}

/**
 * The characters one symbol's topics add to a connection's args: each topic as JSON text plus
 * a separator, the most Bybit could count.
 */
export function bybitArgsCost(symbol: string): number {
  return bybitTopics(symbol).reduce((sum, topic) => sum + JSON.stringify(topic).length + 1, 0);
}

/** A connection carries symbols while their topics fit 21 000 characters of args. */
export const BYBIT_CAPACITY: ConnectionCapacity = { perConnection: BYBIT_MAX_ARGS_CHARS, cost: bybitArgsCost };

/** Bybit symbols are upper-case letters and digits; anything else cannot be a listed symbol. */
const SYMBOL_TEXT = /^[A-Z0-9]+$/;

/**
 * Requests remembered for naming a rejection's args; older ones are forgotten. Enough for a
 * few whole subscriptions of the listing (five symbols a request) in flight at once.
 */
const REMEMBERED_REQUESTS = 1024;

export class BybitAdapter implements ExchangeAdapter {
  readonly exchange: string;
  readonly wsUrl: string;
  readonly capacity = BYBIT_CAPACITY;
  readonly connectionRate = BYBIT_CONNECTION_RATE;
  readonly maxMessagesPerSecond = BYBIT_MAX_MESSAGES_PER_SECOND;
  readonly silenceTimeoutMs = 30_000;
  readonly clientHeartbeat: { readonly intervalMs: number; readonly message: string };

  private readonly restUrl: string | null;
  private readonly fetch: typeof fetch;
  private nextRequestId = 1;
  private readonly requests = new Map<string, readonly string[]>();
  /** The latest listing's symbols (`useListing`); until one is known, the symbol text decides what is suspect. */
  private listed: ReadonlySet<string> | null = null;
  private readonly derived = rememberDerived(deriveSymbolInfoOrUnknown);

  constructor(options: AdapterOptions, tuning: BybitTuning = {}) {
    this.exchange = options.exchange;
    this.wsUrl = options.wsUrl;
    this.restUrl = restBase(options.restUrl);
    this.fetch = tuning.fetch ?? fetch;
    this.clientHeartbeat = { intervalMs: tuning.pingIntervalMs ?? BYBIT_PING_INTERVAL_MS, message: BYBIT_PING_MESSAGE };
  }

  subscribeMessages(symbols: readonly string[]): string[] {
    const batches: string[][] = [];
    // Suspect symbols go last, one request each: the good ones start flowing first.
    const isolated: string[][] = [];
    let current: string[] = [];
    for (const symbol of symbols) {
      const topics = bybitTopics(symbol);
      if (this.isSuspect(symbol)) {
        isolated.push([...topics]);
        continue;
      }
      if (current.length + topics.length > BYBIT_MAX_ARGS_PER_REQUEST) {
        batches.push(current);
        current = [];
      }
      current.push(...topics);
    }
    if (current.length > 0) batches.push(current);
    return [...batches, ...isolated].map((args) => {
      const reqId = `sub-${this.nextRequestId++}`;
      this.remember(reqId, args);
      return JSON.stringify({ req_id: reqId, op: 'subscribe', args });
    });
  }

  parse(frame: string): FrameEvent {
    return parseBybitFrame(frame, (reqId) => this.requests.get(reqId));
  }

  /** Upper case (Bybit symbols are), trimmed, de-duplicated; nothing to warn about. */
  normalizeSymbols(configured: readonly string[]): NormalizedSymbols {
    return { symbols: distinctSymbols(configured), warnings: [] };
  }

  deriveSymbolInfo(nativeSymbol: string): SymbolInfo {
    return this.derived(nativeSymbol);
  }

  async fetchListing(signal: AbortSignal): Promise<ListedMarket[]> {
    const body = await fetchJson(this.fetch, listingUrl(this.restUrl, BYBIT_LISTING_PATH), signal);
    if (!isRecord(body)) throw new Error(`instruments-info: expected a JSON object, got ${describe(body)}`);
    // Bybit reports failures in the body, often with HTTP 200.
    if (body.retCode !== 0) {
      throw new Error(`instruments-info: retCode ${describe(body.retCode)}: ${typeof body.retMsg === 'string' ? body.retMsg : describe(body.retMsg)}`);
    }
    const { result } = body;
    if (!isRecord(result) || !Array.isArray(result.list)) {
      throw new Error(`instruments-info: expected "result.list" as an array, got ${isRecord(result) ? describe(result.list) : `result: ${describe(result)}`}`);
    }
    return readEntries(result.list, readInstrument, 'instruments-info');
  }

  useListing(listed: ReadonlySet<string>): void {
    this.listed = listed;
  }

  /** Whether a symbol's subscription may be rejected, so it goes in a request of its own. */
  private isSuspect(symbol: string): boolean {
    return this.listed === null ? !SYMBOL_TEXT.test(symbol) : !this.listed.has(symbol);
  }

  private remember(reqId: string, args: readonly string[]): void {
    this.requests.set(reqId, args);
    if (this.requests.size <= REMEMBERED_REQUESTS) return;
    const oldest = this.requests.keys().next();
    if (!oldest.done) this.requests.delete(oldest.value);
  }
}

/** One instruments-info entry; null when unreadable. */
function readInstrument(entry: Readonly<Record<string, unknown>>): ListedMarket | null {
  const info = listedSymbol(entry, { symbol: 'symbol', base: 'baseCoin', quote: 'quoteCoin' });
  const status = textField(entry, 'status');
  if (info === null || status === null) return null;
  return { ...info, status, trading: status === 'Trading' };
}

// ---------------------------------------------------------------------------------------------
// Frames

type Message = Readonly<Record<string, unknown>>;

const TICKER_PREFIX = 'tickers.';
const BOOK_PREFIX = 'orderbook.1.';

/** Ticker wire field -> normalized field, with the wire meaning for error messages. */
const TICKER_FIELDS: WireFieldTable = [
  ['prevPrice24h', 'open24h', 'price 24 h ago'],
  ['highPrice24h', 'high24h', '24 h high'],
  ['lowPrice24h', 'low24h', '24 h low'],
  ['volume24h', 'volume24h', '24 h base volume'],
  ['turnover24h', 'quoteVolume24h', '24 h quote turnover'],
];

/**
 * Reads one Bybit spot text frame. Pure and total: anything unexpected is an `invalid` event
 * whose reason names the field, what was expected and what came. `argsOf` names the topics
 * of a request by its `req_id`, so a rejected subscription says which symbols it lost.
 */
export function parseBybitFrame(text: string, argsOf: (reqId: string) => readonly string[] | undefined = () => undefined): FrameEvent {
  const json = parseJson(text);
  if (!json.ok) return invalid(json.reason);
  const message = json.value;
  if (!isRecord(message)) return invalid(`expected a JSON object, got ${describe(message)}`);
  if ('topic' in message) return readPush(message);
  if ('op' in message || 'success' in message) return readReply(message, argsOf);
  return invalid(`unrecognized frame: expected a topic push or an op reply; keys: ${describeKeys(message)}`);
}

function readPush(message: Message): FrameEvent {
  const { topic } = message;
  if (typeof topic !== 'string') return invalid(`expected "topic" as a string, got ${describe(topic)}`);
  let read: Result<TickerPatch>;
  if (topic.startsWith(TICKER_PREFIX) && topic.length > TICKER_PREFIX.length) {
    read = readTicker(message, topic, topic.slice(TICKER_PREFIX.length));
  } else if (topic.startsWith(BOOK_PREFIX) && topic.length > BOOK_PREFIX.length) {
    read = readBook(message, topic, topic.slice(BOOK_PREFIX.length));
  } else {
    return IGNORED; // a topic someone else subscribed (trades, deeper books); not ours to read
  }
  return read.ok ? { kind: 'tickers', patches: [read.value] } : invalid(read.reason);
}

/**
 * Replies to our requests. Spot pongs are `{"success":true,"ret_msg":"pong","op":"ping"}`;
 * other categories answer `{"op":"pong"}`, accepted too in case spot follows.
 */
function readReply(message: Message, argsOf: (reqId: string) => readonly string[] | undefined): FrameEvent {
  const { op, success, ret_msg: retMsg, req_id: reqId } = message;
  if (op === 'pong' || retMsg === 'pong') return HEARTBEAT;
  if (typeof op !== 'string') return invalid(`reply: expected "op" as a string, got ${describe(op)}`);
  if (typeof success !== 'boolean') return invalid(`reply to ${op}: expected "success" as a boolean, got ${describe(success)}`);
  if (op === 'ping') return success ? HEARTBEAT : { kind: 'error', message: `Bybit rejected ping: ${text(retMsg)}` };
  if (success) return op === 'subscribe' || op === 'unsubscribe' ? ACK : IGNORED;
  const args = typeof reqId === 'string' ? argsOf(reqId) : undefined;
  const what = args ? ` of ${args.join(', ')}` : '';
  const request = typeof reqId === 'string' && reqId !== '' ? ` (req_id ${reqId})` : '';
  return { kind: 'error', message: `Bybit rejected ${op}${what}${request}: ${text(retMsg)}` };
}

function readTicker(message: Message, topic: string, symbol: string): Result<TickerPatch> {
  const envelope = readEnvelope(message, topic, symbol, 'symbol');
  if (!envelope.ok) return envelope;
  const { eventTime, data, snapshot } = envelope.value;
  const price = readDecimal(data, 'lastPrice', 'last price', topic);
  if (!price.ok) return price;
  const fields: TickerFieldValues = {};
  if (price.value === undefined || price.value === null) {
    // A delta (linear-style; spot sends none) may leave the price out; a snapshot may not.
    if (snapshot) return fail(`${topic}: required field "lastPrice" is ${price.value === null ? 'empty' : 'missing'}`);
  } else if (price.value <= 0) {
    return fail(`${topic}: field "lastPrice" must be positive, got ${describe(data.lastPrice)}`);
  } else {
    fields.price = price.value;
  }
  for (const [wire, field, meaning] of TICKER_FIELDS) {
    const value = readDecimal(data, wire, meaning, topic);
    if (!value.ok) return value;
    if (value.value !== undefined) fields[field] = value.value;
    else if (snapshot) fields[field] = null;
  }
  // A fraction on the wire ("0.0163" = +1.63 %). Only the fallback: open24h is sent, so
  // deriveMarket computes the change from it.
  const pcnt = readPercentFromFraction(data, topic);
  if (!pcnt.ok) return pcnt;
  if (pcnt.value !== undefined) fields.changePercent24h = pcnt.value;
  else if (snapshot) fields.changePercent24h = null;
  return { ok: true, value: { nativeSymbol: symbol, eventTime, fields, stream: BYBIT_TICKER_STREAM } };
}

/** `orderbook.1`: spot level 1 is snapshot-only; `b`/`a` hold at most one `[price, size]`. */
function readBook(message: Message, topic: string, symbol: string): Result<TickerPatch> {
  const envelope = readEnvelope(message, topic, symbol, 's');
  if (!envelope.ok) return envelope;
  const { eventTime, data, snapshot } = envelope.value;
  // A delta would have to be merged into a book we do not keep; Bybit documents none for
  // level 1, so one means the protocol changed and should be noticed, not guessed at.
  if (!snapshot) return fail(`${topic}: expected type "snapshot" (level 1 is snapshot-only), got "delta"`);
  const bid = readBestLevel(data, 'b', 'bids', topic);
  if (!bid.ok) return bid;
  const ask = readBestLevel(data, 'a', 'asks', topic);
  if (!ask.ok) return ask;
  return { ok: true, value: { nativeSymbol: symbol, eventTime, fields: { bid: bid.value, ask: ask.value }, stream: BYBIT_BOOK_STREAM } };
}

function readEnvelope(
  message: Message,
  topic: string,
  symbol: string,
  symbolKey: string,
): Result<{ readonly eventTime: number; readonly data: Message; readonly snapshot: boolean }> {
  const { type, ts, data } = message;
  if (type !== 'snapshot' && type !== 'delta') return fail(`${topic}: expected "type" to be "snapshot" or "delta", got ${describe(type)}`);
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts <= 0) return fail(`${topic}: expected "ts" as a positive number (ms), got ${describe(ts)}`);
  // The docs' table says "array" but every push carries one object.
  if (!isRecord(data)) return fail(`${topic}: expected "data" as an object, got ${describe(data)}`);
  const named = data[symbolKey];
  if (named !== symbol) return fail(`${topic}: expected "data.${symbolKey}" to be "${symbol}", got ${describe(named)}`);
  return { ok: true, value: { eventTime: ts, data, snapshot: type === 'snapshot' } };
}

/** The best price of one book side: the first level (Bybit sorts best first); null when the side is empty. */
function readBestLevel(data: Message, key: 'b' | 'a', meaning: string, topic: string): Result<number | null> {
  const levels = data[key];
  if (!Array.isArray(levels)) return fail(`${topic}: expected "${key}" (${meaning}) as an array of [price, size], got ${describe(levels)}`);
  let best: number | null = null;
  for (const [index, level] of levels.entries()) {
    const where = `${topic}: "${key}[${index}]"`;
    if (!Array.isArray(level) || level.length < 2) return fail(`${where}: expected [price, size], got ${describe(level)}`);
    const [priceText, sizeText] = level as [unknown, unknown];
    if (typeof priceText !== 'string' || typeof sizeText !== 'string') {
      return fail(`${where}: expected price and size as decimal strings, got ${describe(priceText)} and ${describe(sizeText)}`);
    }
    const price = parseDecimal(priceText);
    if (price === null || price <= 0) return fail(`${where}: price must be a positive decimal, got ${describe(priceText)}`);
    const size = parseDecimal(sizeText);
    if (size === null || size <= 0) return fail(`${where}: size must be a positive decimal, got ${describe(sizeText)}`);
    best ??= price;
  }
  return { ok: true, value: best };
}

/** undefined: absent; null: sent as "" (Bybit's "no value"); else the number. */
function readDecimal(data: Message, key: string, meaning: string, topic: string): Result<number | null | undefined> {
  return data[key] === '' ? { ok: true, value: null } : readDecimalField(data, key, meaning, topic);
}

/**
 * `price24hPcnt` as a percent. The decimal point is moved in the text (an exponent two
 * higher) rather than multiplying by 100, so "0.0163" becomes exactly 1.63, not
 * 1.6300000000000001.
 */
function readPercentFromFraction(data: Message, topic: string): Result<number | null | undefined> {
  const fraction = readDecimal(data, 'price24hPcnt', '24 h change as a fraction', topic);
  if (!fraction.ok || fraction.value === undefined || fraction.value === null) return fraction;
  const raw = data.price24hPcnt as string; // a valid decimal string, checked just above
  const [mantissa = raw, exponent = '0'] = raw.split(/[eE]/);
  const percent = Number(`${mantissa}e${Number(exponent) + 2}`);
  if (!Number.isFinite(percent)) return fail(`${topic}: field "price24hPcnt" overflows as a percent: ${describe(raw)}`);
  return { ok: true, value: percent };
}

function text(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : describe(value);
}
