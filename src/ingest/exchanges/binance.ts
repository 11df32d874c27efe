/**
 * Binance spot (protocol: docs/exchanges/binance.md). Also serves the `sim` feed, whose
 * simulator speaks the same protocol: everything is parameterized by `AdapterOptions`.
 *
 * - Combined-stream sockets (`/stream`, every frame names its stream) with one `<symbol>@ticker`
 *   stream per symbol, subscribed with batched SUBSCRIBE requests. One adapter serves every
 *   connection of the feed, so request ids keep increasing across all of them. `!ticker@arr`
 *   is deprecated and not used; `!miniTicker@arr` frames are understood if someone subscribes
 *   them (no bid/ask/change).
 * - Limits: at most 1024 streams per connection (`capacity`; the pool spreads the listing over
 *   as many connections as that takes), 300 new connections per 5 minutes per IP
 *   (`connectionRate`), and 5 inbound messages per second per connection, pongs included.
 * - Keep-alive: the server pings every 20 s and ws pongs; the ticker stream pushes every
 *   second. 60 s of silence therefore means a dead socket. Connections live at most 24 h, so
 *   the loop rotates at 23 h, and immediately on a `serverShutdown` event.
 * - Listing: `GET /api/v3/exchangeInfo?showPermissionSets=false` (the permission sets are most
 *   of the payload). A symbol trades iff its `status` is `TRADING` (not `BREAK`, `HALT`,
 *   `END_OF_DAY` or `CANCEL_ONLY`); an entry with `isSpotTradingAllowed: false` is not a spot market and
 *   is left out. Symbols the listing does not name are split on the longest known quote suffix
 *   (`symbols.ts`), or get the quote UNKNOWN.
 *
 * Numeric policy for tickers (see src/market.ts): decimal strings are parsed once and strictly.
 * The last price `c` and the event time `E` are required. Every other field may be absent
 * (then the frame says nothing about it and the market keeps its value), but a field that is
 * present and not a decimal string rejects the whole frame: a garbage number means a garbage
 * frame, and keeping its other fields would mix good and bad data. A bid or ask of 0 is
 * Binance's way of saying that side of the book is empty, so it becomes null.
 */
import {
  symbolsPerConnection,
  type AdapterOptions,
  type ExchangeAdapter,
  type FrameEvent,
  type ListedMarket,
  type NormalizedSymbols,
  type RateLimit,
} from '../adapter';
import { readDecimalField } from '../decimal-field';
import { ACK, IGNORED, invalid } from '../frame-events';
import { describe, describeKeys, fail, isRecord, parseJson, type Result } from '../json-frame';
import type { SymbolInfo, TickerPatch } from '../../market';
import { fetchJson, listedSymbol, listingUrl, readEntries, restBase, textField } from '../rest-metadata';
import { inBatches, perRequestLimit } from '../subscribe-batches';
import { distinctSymbols } from '../symbol-list';
import { deriveSymbolInfoOrUnknown, rememberDerived } from '../symbols';
import { readTickerFields, type WireFieldTable } from '../ticker-fields';

export const BINANCE_WS_URL = 'wss://stream.binance.com:9443/stream';
export const BINANCE_REST_URL = 'https://api.binance.com';
export const BINANCE_MAX_STREAMS_PER_CONNECTION = 1024;
/** Binance counts every frame we send (pongs included) and disconnects above this. */
export const BINANCE_MAX_MESSAGES_PER_SECOND = 5;
/** New connections Binance accepts from one IP: 300 per 5 minutes. */
export const BINANCE_CONNECTION_RATE: RateLimit = { limit: 300, windowMs: 5 * 60_000 };
/** The listing, relative to the REST base. */
const BINANCE_LISTING_PATH = '/api/v3/exchangeInfo?showPermissionSets=false';

/** Liquid spot pairs subscribed when `BINANCE_SYMBOLS` is not set. */
export const BINANCE_DEFAULT_SYMBOLS: readonly string[] = [
  'BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'TRXUSDT',
  'AVAXUSDT', 'LINKUSDT', 'DOTUSDT', 'TONUSDT', 'SHIBUSDT', 'LTCUSDT', 'BCHUSDT', 'NEARUSDT',
  'UNIUSDT', 'APTUSDT', 'SUIUSDT', 'PEPEUSDT', 'ARBUSDT', 'OPUSDT', 'ATOMUSDT', 'FILUSDT',
  'ICPUSDT', 'AAVEUSDT', 'ETCUSDT', 'XLMUSDT', 'ETHBTC', 'BNBBTC', 'SOLBTC', 'XRPBTC',
  // What prices other quotes in USD through USDT (src/quote-rates.ts).
  'USDCUSDT', 'EURUSDT', 'USDTTRY',
];

export interface BinanceTuning {
  /**
   * Streams per SUBSCRIBE request. Binance refuses oversized requests ("too many params")
   * at an undocumented size; 200 keeps a full 1024-stream connection at 6 requests.
   */
  readonly streamsPerMessage?: number;
  /** HTTP client for `exchangeInfo`. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

export function createBinanceAdapter(options: AdapterOptions, tuning: BinanceTuning = {}): BinanceAdapter {
  return new BinanceAdapter(options, tuning);
}

export class BinanceAdapter implements ExchangeAdapter {
  readonly exchange: string;
  readonly wsUrl: string;
  readonly capacity = symbolsPerConnection(BINANCE_MAX_STREAMS_PER_CONNECTION);
  readonly connectionRate = BINANCE_CONNECTION_RATE;
  readonly maxMessagesPerSecond = BINANCE_MAX_MESSAGES_PER_SECOND;
  readonly silenceTimeoutMs = 60_000;
  readonly maxConnectionAgeMs = 23 * 60 * 60 * 1000;

  private readonly restUrl: string | null;
  private readonly streamsPerMessage: number;
  private readonly fetch: typeof fetch;
  /** 0.001 when the URL asks for microsecond timestamps, so event times stay in ms. */
  private readonly timeScale: number;
  private nextRequestId = 1;
  private readonly derived = rememberDerived(deriveSymbolInfoOrUnknown);

  constructor(options: AdapterOptions, tuning: BinanceTuning = {}) {
    this.exchange = options.exchange;
    this.wsUrl = options.wsUrl;
    this.restUrl = restBase(options.restUrl);
    this.streamsPerMessage = perRequestLimit(tuning.streamsPerMessage, 200);
    this.fetch = tuning.fetch ?? fetch;
    this.timeScale = usesMicroseconds(options.wsUrl) ? 0.001 : 1;
  }

  subscribeMessages(symbols: readonly string[]): string[] {
    const streams = symbols.map((symbol) => `${symbol.toLowerCase()}@ticker`);
    return inBatches(streams, this.streamsPerMessage).map((params) => JSON.stringify({ method: 'SUBSCRIBE', params, id: this.nextRequestId++ }));
  }

  parse(frame: string): FrameEvent {
    return parseBinanceFrame(frame, this.timeScale);
  }

  /** Upper case (Binance symbols are), trimmed, de-duplicated; nothing to warn about. */
  normalizeSymbols(configured: readonly string[]): NormalizedSymbols {
    return { symbols: distinctSymbols(configured), warnings: [] };
  }

  deriveSymbolInfo(nativeSymbol: string): SymbolInfo {
    return this.derived(nativeSymbol);
  }

  async fetchListing(signal: AbortSignal): Promise<ListedMarket[]> {
    const body = await fetchJson(this.fetch, listingUrl(this.restUrl, BINANCE_LISTING_PATH), signal);
    if (!isRecord(body) || !Array.isArray(body.symbols)) {
      throw new Error(`exchangeInfo: expected an object with a "symbols" array, got ${isRecord(body) ? `symbols: ${describe(body.symbols)}` : describe(body)}`);
    }
    return readEntries(body.symbols, readListedSymbol, 'exchangeInfo');
  }
}

/** One `exchangeInfo` entry; null when unreadable or not a spot market. */
function readListedSymbol(entry: Readonly<Record<string, unknown>>): ListedMarket | null {
  // Absent on some mirrors; only an explicit false says the symbol is not traded on spot.
  if (entry.isSpotTradingAllowed === false) return null;
  const info = listedSymbol(entry, { symbol: 'symbol', base: 'baseAsset', quote: 'quoteAsset' });
  const status = textField(entry, 'status');
  if (info === null || status === null) return null;
  return { ...info, status, trading: status === 'TRADING' };
}

// ---------------------------------------------------------------------------------------------
// Frames

/** Wire field -> normalized field, with the wire meaning for error messages. */
const FULL_TICKER_FIELDS: WireFieldTable = [
  ['b', 'bid', 'best bid'],
  ['a', 'ask', 'best ask'],
  ['o', 'open24h', 'open'],
  ['h', 'high24h', 'high'],
  ['l', 'low24h', 'low'],
  ['v', 'volume24h', 'base volume'],
  ['q', 'quoteVolume24h', 'quote volume'],
  ['p', 'change24h', 'price change'],
  ['P', 'changePercent24h', 'price change percent'],
];
/** `24hrMiniTicker` carries only last price, OHLC and volumes. */
const MINI_WIRE_FIELDS = new Set(['o', 'h', 'l', 'v', 'q']);
const MINI_TICKER_FIELDS = FULL_TICKER_FIELDS.filter(([wire]) => MINI_WIRE_FIELDS.has(wire));

/**
 * Reads one Binance text frame. Pure and total: anything unexpected is an `invalid` event
 * whose reason names the field, what was expected and what came.
 */
export function parseBinanceFrame(text: string, timeScale = 1): FrameEvent {
  const json = parseJson(text);
  if (!json.ok) return invalid(json.reason);
  const message = json.value;
  if (Array.isArray(message)) return readTickerArray(message, timeScale); // raw `!miniTicker@arr`
  if (!isRecord(message)) return invalid(`expected a JSON object or array, got ${describe(message)}`);
  // Control replies: SUBSCRIBE/UNSUBSCRIBE acks carry `result: null`, LIST_SUBSCRIPTIONS a list.
  if ('result' in message) return ACK;
  if ('code' in message) return readError(message, message.id);
  // binance.md documents the flat error shape; the nested one is accepted in case the live
  // server wraps it.
  if (isRecord(message.error)) return readError(message.error, message.id);
  if ('stream' in message) {
    if (typeof message.stream !== 'string') return invalid(`expected "stream" as a string, got ${describe(message.stream)}`);
    if (!('data' in message)) return invalid(`combined frame for ${message.stream} has no "data"`);
    const { data } = message;
    if (Array.isArray(data)) return readTickerArray(data, timeScale);
    if (!isRecord(data)) return invalid(`"data" of ${message.stream}: expected an object or array, got ${describe(data)}`);
    return readEvent(data, timeScale);
  }
  if ('e' in message) return readEvent(message, timeScale);
  return invalid(`unrecognized frame: expected an ack, an error, a combined-stream wrapper or an event; keys: ${describeKeys(message)}`);
}

function readEvent(event: Readonly<Record<string, unknown>>, timeScale: number): FrameEvent {
  const type = event.e;
  if (typeof type !== 'string') return invalid(`expected event type "e" as a string, got ${describe(type)}`);
  switch (type) {
    case '24hrTicker':
    case '24hrMiniTicker': {
      const patch = readTicker(event, type, timeScale);
      return patch.ok ? { kind: 'tickers', patches: [patch.value] } : invalid(patch.reason);
    }
    case 'serverShutdown':
      return { kind: 'rotate', reason: `Binance announced serverShutdown (E=${describe(event.E)})` };
    default:
      return IGNORED; // another stream someone subscribed; not ours to read
  }
}

/** A whole array is one frame: one bad element rejects it, like one bad field rejects a ticker. */
function readTickerArray(items: readonly unknown[], timeScale: number): FrameEvent {
  const patches: TickerPatch[] = [];
  for (const [index, item] of items.entries()) {
    if (!isRecord(item)) return invalid(`array item ${index}: expected a ticker object, got ${describe(item)}`);
    const type = item.e;
    if (type !== '24hrMiniTicker' && type !== '24hrTicker') {
      return invalid(`array item ${index}: expected "e" to be 24hrMiniTicker or 24hrTicker, got ${describe(type)}`);
    }
    const patch = readTicker(item, type, timeScale);
    if (!patch.ok) return invalid(`array item ${index}: ${patch.reason}`);
    patches.push(patch.value);
  }
  return { kind: 'tickers', patches };
}

function readTicker(
  event: Readonly<Record<string, unknown>>,
  type: '24hrTicker' | '24hrMiniTicker',
  timeScale: number,
): Result<TickerPatch> {
  const symbol = event.s;
  if (typeof symbol !== 'string' || symbol === '') {
    return fail(`${type}: expected symbol "s" as a non-empty string, got ${describe(symbol)}`);
  }
  const where = `${type} ${symbol}`;
  const time = event.E;
  if (typeof time !== 'number' || !Number.isFinite(time) || time <= 0) {
    return fail(`${where}: expected event time "E" as a positive number, got ${describe(time)}`);
  }
  // Microseconds scaled to milliseconds: a positive time can still underflow to 0 (E=5e-324).
  const eventTime = time * timeScale;
  if (eventTime <= 0) return fail(`${where}: event time "E" ${describe(time)} is 0 in milliseconds`);
  const price = readDecimalField(event, 'c', 'last price', where);
  if (!price.ok) return price;
  if (price.value === undefined) return fail(`${where}: required field "c" (last price) is missing`);
  if (price.value <= 0) return fail(`${where}: field "c" (last price) must be positive, got ${describe(event.c)}`);

  const table = type === '24hrTicker' ? FULL_TICKER_FIELDS : MINI_TICKER_FIELDS;
  const fields = readTickerFields(table, { price: price.value }, (wire, meaning) => readDecimalField(event, wire, meaning, where));
  if (!fields.ok) return fields;
  return { ok: true, value: { nativeSymbol: symbol, eventTime, fields: fields.value } };
}

function readError(body: Readonly<Record<string, unknown>>, id: unknown): FrameEvent {
  const { code, msg } = body;
  if (typeof code !== 'number') return invalid(`error frame: expected a numeric "code", got ${describe(code)}`);
  const request = id === undefined || id === null ? '' : ` (request id ${String(id)})`;
  return { kind: 'error', message: `Binance error ${code}: ${typeof msg === 'string' ? msg : describe(msg)}${request}` };
}

function usesMicroseconds(wsUrl: string): boolean {
  try {
    return new URL(wsUrl).searchParams.get('timeUnit')?.toLowerCase() === 'microsecond';
  } catch {
    return false;
  }
}
