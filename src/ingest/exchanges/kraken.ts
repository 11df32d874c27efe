/**
 * Kraken spot, WebSocket API v2 (protocol and field mapping: docs/exchanges/kraken.md).
 *
 * - Sockets to `/v2`. The `ticker` channel is subscribed with
 *   `{"method":"subscribe","params":{"channel":"ticker","symbol":[...],"event_trigger":"trades","snapshot":true},"req_id":n}`,
 *   up to 100 symbols per request (no cap is documented; batching keeps the request count low
 *   because the message-rate limit is dynamic), req_ids increasing across all connections of
 *   the feed. Kraken answers with one ack per symbol: `success:true` is an `ack`,
 *   `success:false` an `error` naming the symbol (the other symbols of the request are
 *   unaffected).
 * - `event_trigger: "trades"` (Kraken's default, sent explicitly so a default change cannot
 *   alter what `price` means): a ticker is published on every trade, so `last` is always the
 *   latest trade; bid/ask are as of that trade. `bbo` would refresh the book side more often
 *   but publish on every top-of-book change, far more frames for the same `price`.
 * - Keep-alive: once subscribed, the server sends `{"channel":"heartbeat"}` about every second
 *   when it has nothing else to send, so 10 s of silence means a dead socket. Kraken closes
 *   connections after about a minute without a request from us, so we send
 *   `{"method":"ping"}` every 20 s (three chances per minute); its `pong` counts as life too.
 * - No documented connection lifetime: no planned rotation.
 * - Limits: about 150 connection attempts per rolling 10 minutes per IP (`connectionRate`; more
 *   gets the IP banned for 10 minutes); a dynamic, unpublished message rate (see
 *   `KRAKEN_MAX_MESSAGES_PER_SECOND`). No cap on symbols per connection is documented, so
 *   `capacity` is our own (`UNDOCUMENTED_SYMBOLS_PER_CONNECTION`).
 *
 * Symbols: v2 spells pairs `BASE/QUOTE` with ISO-style codes (`BTC/USD`, `DOGE/USD`) and
 * rejects Kraken's legacy codes (`XBT/USD`). Configured symbols are therefore rewritten to v2
 * spelling (`XBT/USD` -> `BTC/USD`, `XDG/USD` -> `DOGE/USD`) by `normalizeSymbols`, which names
 * each rewrite in a warning. Case is kept: tokenized assets are mixed case (`AAPLx/USD`).
 *
 * Listing: `GET /0/public/AssetPairs`, which reports failures in its `error` array (often with
 * HTTP 200). Its `wsname` is in legacy spelling (`XBT/USD`) and becomes the v2 symbol; base and
 * quote come from it in common codes. A pair trades iff its `status` is `online`; any other
 * value (`cancel_only`, `post_only`, `limit_only`, `reduce_only`, `maintenance`, `delisted`,
 * or one not yet known) is not trading. Pairs without a `wsname` (dark-pool `.d` pairs) cannot
 * be streamed and are left out. Symbols the listing does not name are split on `/`.
 *
 * Numeric policy for tickers (see src/market.ts): v2 sends JSON numbers, so a field is accepted
 * only as a finite JSON number; a numeric string, null or anything else rejects the whole
 * frame (a wrong type means the schema changed under us, and mixing good and bad fields of one
 * frame would be worse than skipping it). `last` and `timestamp` are required. A bid or ask of
 * 0 means that side of the book is empty and becomes null.
 *
 * Field meanings: `volume` is base volume; `change_pct` is already percent; `open24h` is
 * derived as `last - change`, computed in decimal so it is the double nearest the exact
 * difference of the two wire values. Quote volume is not sent, but `vwap` is the volume-weighted
 * average price of the same rolling 24 h whose base volume is `volume`, and a VWAP is by
 * definition quote volume over base volume, so `quoteVolume24h` is `vwap * volume` (the double
 * nearest the product of the two wire values); null when either is absent.
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
import { ACK, HEARTBEAT, IGNORED, invalid } from '../frame-events';
import { describe, describeKeys, fail, isRecord, parseJson, type Result } from '../json-frame';
import type { SymbolInfo, TickerPatch } from '../../market';
import { fetchJson, listingUrl, readEntries, restBase, textField } from '../rest-metadata';
import { inBatches, perRequestLimit } from '../subscribe-batches';
import { distinctSymbols, listOf } from '../symbol-list';
import { rememberDerived, unknownQuote } from '../symbols';
import { readTickerFields, type WireFieldTable } from '../ticker-fields';

export const KRAKEN_WS_URL = 'wss://ws.kraken.com/v2';
export const KRAKEN_REST_URL = 'https://api.kraken.com';
/** The listing, relative to the REST base. */
const KRAKEN_LISTING_PATH = '/0/public/AssetPairs';
/**
 * Kraken's limit is dynamic and unpublished; third-party clients report `Exceeded msg rate`
 * from bursts of about 15 requests. We send a handful of subscribe requests and one ping per
 * 20 s, so a low ceiling costs nothing (the loop keeps one slot free: 4 frames per 1.1 s).
 */
export const KRAKEN_MAX_MESSAGES_PER_SECOND = 5;
/** Connection attempts Kraken (its Cloudflare front) accepts from one IP: about 150 per 10 minutes. */
export const KRAKEN_CONNECTION_RATE: RateLimit = { limit: 150, windowMs: 10 * 60_000 };
export const KRAKEN_SYMBOLS_PER_MESSAGE = 100;
export const KRAKEN_PING_INTERVAL_MS = 20_000;
/** Heartbeats arrive about every second when nothing else does; 10 s is ten missed beats. */
export const KRAKEN_SILENCE_TIMEOUT_MS = 10_000;
/** Kraken's application-level ping. `req_id` is optional and nothing needs the echo. */
export const KRAKEN_PING_MESSAGE = '{"method":"ping"}';

/** Liquid spot pairs subscribed when `KRAKEN_SYMBOLS` is not set (v2 spelling). */
export const KRAKEN_DEFAULT_SYMBOLS: readonly string[] = [
  'BTC/USD', 'ETH/USD', 'SOL/USD', 'XRP/USD', 'DOGE/USD', 'ADA/USD', 'LINK/USD', 'DOT/USD',
  'LTC/USD', 'BCH/USD', 'AVAX/USD', 'ATOM/USD', 'XLM/USD', 'UNI/USD', 'USDT/USD', 'USDC/USD',
  'BTC/EUR', 'ETH/EUR', 'BTC/USDT', 'ETH/BTC', 'EUR/USD',
];

/**
 * Kraken's legacy asset codes (REST `wsname`/`altname`, WebSocket v1) -> the common code.
 * Exact matches only: X and Z are also ordinary first letters (XRP, XLM, ZEC), so the
 * `XXBT`/`ZUSD` prefixes of REST asset ids are not stripped here; `wsname` does not use them.
 */
export const KRAKEN_ASSET_ALIASES: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };

/** The common code for a Kraken asset code (`XBT` -> `BTC`); other codes are returned as given. */
export function commonAssetCode(code: string): string {
  return KRAKEN_ASSET_ALIASES[code.toUpperCase()] ?? code;
}

/**
 * Base and quote of a `BASE/QUOTE` symbol in common codes, or null when it does not have
 * exactly one `/` with text on both sides. Case is kept: v2 spells tokenized assets in mixed
 * case (`AAPLx/USD`), so upper-casing a native symbol could turn it into another one.
 */
export function splitKrakenSymbol(symbol: string): { readonly base: string; readonly quote: string } | null {
  const parts = symbol.split('/');
  if (parts.length !== 2) return null;
  const [base, quote] = parts as [string, string];
  if (base === '' || quote === '') return null;
  return { base: commonAssetCode(base), quote: commonAssetCode(quote) };
}

/** The v2 spelling of a symbol: legacy codes replaced (`XBT/USD` -> `BTC/USD`). */
export function toV2Symbol(symbol: string): string {
  const split = splitKrakenSymbol(symbol);
  return split === null ? symbol : `${split.base}/${split.quote}`;
}

export interface KrakenTuning {
  /** Symbols per subscribe request. Default 100. */
  readonly symbolsPerMessage?: number;
  /** How often we send `{"method":"ping"}`. Default 20 000 ms. */
  readonly pingIntervalMs?: number;
  /** HTTP client for `AssetPairs`. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

export function createKrakenAdapter(options: AdapterOptions, tuning: KrakenTuning = {}): KrakenAdapter {
  return new KrakenAdapter(options, tuning);
}

export class KrakenAdapter implements ExchangeAdapter {
  readonly exchange: string;
  readonly wsUrl: string;
  readonly capacity = symbolsPerConnection(UNDOCUMENTED_SYMBOLS_PER_CONNECTION);
  readonly connectionRate = KRAKEN_CONNECTION_RATE;
  readonly maxMessagesPerSecond = KRAKEN_MAX_MESSAGES_PER_SECOND;
  readonly silenceTimeoutMs = KRAKEN_SILENCE_TIMEOUT_MS;
  readonly clientHeartbeat: { readonly intervalMs: number; readonly message: string };

  private readonly restUrl: string | null;
  private readonly symbolsPerMessage: number;
  private readonly fetch: typeof fetch;
  private nextRequestId = 1;
  private readonly derived = rememberDerived(deriveKrakenSymbolInfo);

  constructor(options: AdapterOptions, tuning: KrakenTuning = {}) {
    this.exchange = options.exchange;
    this.wsUrl = options.wsUrl;
    this.restUrl = restBase(options.restUrl);
    this.symbolsPerMessage = perRequestLimit(tuning.symbolsPerMessage, KRAKEN_SYMBOLS_PER_MESSAGE);
    this.clientHeartbeat = { intervalMs: tuning.pingIntervalMs ?? KRAKEN_PING_INTERVAL_MS, message: KRAKEN_PING_MESSAGE };
    this.fetch = tuning.fetch ?? fetch;
  }

  subscribeMessages(symbols: readonly string[]): string[] {
    return inBatches(symbols, this.symbolsPerMessage).map((symbol) => {
      const params = { channel: 'ticker', symbol, event_trigger: 'trades', snapshot: true };
      return JSON.stringify({ method: 'subscribe', params, req_id: this.nextRequestId++ });
    });
  }

  parse(frame: string): FrameEvent {
    return parseKrakenFrame(frame);
  }

  /** Trimmed, in v2 spelling (case kept), de-duplicated; a warning names the rewrites. */
  normalizeSymbols(configured: readonly string[]): NormalizedSymbols {
    const rewrites = distinctSymbols(configured, (symbol) => symbol)
      .filter((symbol) => toV2Symbol(symbol) !== symbol)
      .map((symbol) => `${symbol} -> ${toV2Symbol(symbol)}`);
    const warnings =
      rewrites.length > 0 ? [`Kraken v2 rejects legacy asset codes, so these configured symbols are subscribed in v2 spelling: ${listOf(rewrites)}`] : [];
    return { symbols: distinctSymbols(configured, toV2Symbol), warnings };
  }

  deriveSymbolInfo(nativeSymbol: string): SymbolInfo {
    return this.derived(nativeSymbol);
  }

  async fetchListing(signal: AbortSignal): Promise<ListedMarket[]> {
    const body = await fetchJson(this.fetch, listingUrl(this.restUrl, KRAKEN_LISTING_PATH), signal);
    if (!isRecord(body)) throw new Error(`AssetPairs: expected a JSON object, got ${describe(body)}`);
    // Kraken reports failures in the body (often with HTTP 200): {"error":["EService:Unavailable"]}.
    const { error, result } = body;
    if (!Array.isArray(error)) throw new Error(`AssetPairs: expected "error" as an array, got ${describe(error)}`);
    if (error.length > 0) throw new Error(`AssetPairs: Kraken answered ${error.map((e) => (typeof e === 'string' ? e : describe(e))).join(', ')}`);
    if (!isRecord(result)) throw new Error(`AssetPairs: expected "result" as an object, got ${describe(result)}`);
    return readEntries(Object.values(result), readAssetPair, 'AssetPairs');
  }
}

/** Base and quote in common codes, upper case, from the symbol text: `BASE/QUOTE`, else `<SYMBOL>/UNKNOWN`. */
function deriveKrakenSymbolInfo(nativeSymbol: string): SymbolInfo {
  const split = splitKrakenSymbol(nativeSymbol);
  if (split === null) return unknownQuote(nativeSymbol);
  return { nativeSymbol, base: split.base.toUpperCase(), quote: split.quote.toUpperCase() };
}

/** One AssetPairs entry under its v2 symbol; null without a readable `wsname` or `status`. */
function readAssetPair(pair: Readonly<Record<string, unknown>>): ListedMarket | null {
  const wsname = textField(pair, 'wsname');
  const split = wsname === null ? null : splitKrakenSymbol(wsname);
  const status = textField(pair, 'status');
  if (split === null || status === null) return null;
  return {
    nativeSymbol: `${split.base}/${split.quote}`,
    base: split.base.toUpperCase(),
    quote: split.quote.toUpperCase(),
    status,
    trading: status === 'online',
  };
}

// ---------------------------------------------------------------------------------------------
// Frames

/** Optional wire fields -> normalized fields, with the wire meaning for error messages. */
const TICKER_FIELDS: WireFieldTable = [
  ['bid', 'bid', 'best bid'],
  ['ask', 'ask', 'best ask'],
  ['high', 'high24h', '24h high'],
  ['low', 'low24h', '24h low'],
  ['volume', 'volume24h', '24h base volume'],
  ['change', 'change24h', '24h change'],
  ['change_pct', 'changePercent24h', '24h change percent'],
];

/**
 * Reads one Kraken v2 text frame. Pure and total: anything unexpected is an `invalid` event
 * whose reason names the field, what was expected and what came.
 *
 * `connection_id` in the status banner is larger than 2^53 and `JSON.parse` rounds it; it is
 * never read, so the rounding is harmless (and a number of any size parses).
 */
export function parseKrakenFrame(text: string): FrameEvent {
  const json = parseJson(text);
  if (!json.ok) return invalid(json.reason);
  const message = json.value;
  if (!isRecord(message)) return invalid(`expected a JSON object, got ${describe(message)}`);
  if ('channel' in message) return readChannel(message);
  if ('method' in message) return readMethod(message);
  return invalid(`unrecognized frame: expected "channel" or "method"; keys: ${describeKeys(message) || 'none'}`);
}

function readChannel(message: Readonly<Record<string, unknown>>): FrameEvent {
  const { channel } = message;
  if (typeof channel !== 'string') return invalid(`expected "channel" as a string, got ${describe(channel)}`);
  switch (channel) {
    case 'heartbeat':
      return HEARTBEAT;
    case 'status':
      return readStatus(message);
    case 'ticker':
      return readTickers(message);
    default:
      return IGNORED; // book, trade, instrument...: someone else's subscription
  }
}

/** The banner on connect and on every system status change. Only `online` is quiet. */
function readStatus(message: Readonly<Record<string, unknown>>): FrameEvent {
  const { data } = message;
  if (!Array.isArray(data) || data.length === 0) return invalid(`status: expected "data" as a non-empty array, got ${describe(data)}`);
  const entry: unknown = data[0];
  if (!isRecord(entry) || typeof entry.system !== 'string') {
    return invalid(`status: expected data[0].system as a string, got ${isRecord(entry) ? describe(entry.system) : describe(entry)}`);
  }
  if (entry.system === 'online') return IGNORED;
  // maintenance, cancel_only, post_only: data may stop or thin out; say so where operators look.
  return { kind: 'error', message: `Kraken reports system status "${entry.system}"` };
}

function readMethod(message: Readonly<Record<string, unknown>>): FrameEvent {
  const { method, success } = message;
  if (typeof method !== 'string') return invalid(`expected "method" as a string, got ${describe(method)}`);
  if (method === 'pong') return HEARTBEAT;
  if (method === 'error') return { kind: 'error', message: `Kraken refused a request: ${errorText(message)}` };
  if (success === true) {
    // Kraken announces deprecations in `warnings` on acks; its notes ask clients to log them.
    const warnings = Array.isArray(message.warnings) ? message.warnings.filter((w): w is string => typeof w === 'string') : [];
    return warnings.length > 0 ? { kind: 'ack', warnings } : ACK;
  }
  if (success === false) return { kind: 'error', message: rejectionText(method, message) };
  return invalid(`reply to "${method}": expected "success" as a boolean, got ${describe(success)}`);
}

/** `Kraken rejected subscribe ticker XBT/USD: Currency pair not supported XBT/USD (req_id 42)`. */
function rejectionText(method: string, message: Readonly<Record<string, unknown>>): string {
  const { symbol, req_id: requestId } = message;
  const result = isRecord(message.result) ? message.result : {};
  const channel = typeof result.channel === 'string' ? ` ${result.channel}` : '';
  const target = typeof symbol === 'string' ? ` ${symbol}` : Array.isArray(symbol) ? ` ${symbol.filter((s) => typeof s === 'string').join(', ')}` : '';
  const request = typeof requestId === 'number' ? ` (req_id ${requestId})` : '';
  return `Kraken rejected ${method}${channel}${target}: ${errorText(message)}${request}`;
}

function errorText(message: Readonly<Record<string, unknown>>): string {
  return typeof message.error === 'string' ? message.error : `no error text (error: ${describe(message.error)})`;
}

/** A ticker frame: every element must be good, or the frame is rejected as a whole. */
function readTickers(message: Readonly<Record<string, unknown>>): FrameEvent {
  const { type, data } = message;
  if (type !== 'snapshot' && type !== 'update') return invalid(`ticker: expected "type" to be snapshot or update, got ${describe(type)}`);
  if (!Array.isArray(data)) return invalid(`ticker ${type}: expected "data" as an array, got ${describe(data)}`);
  const patches: TickerPatch[] = [];
  for (const [index, item] of data.entries()) {
    const patch = readTicker(item);
    if (!patch.ok) return invalid(`ticker ${type} data[${index}]: ${patch.reason}`);
    patches.push(patch.value);
  }
  return { kind: 'tickers', patches };
}

function readTicker(item: unknown): Result<TickerPatch> {
  if (!isRecord(item)) return fail(`expected a ticker object, got ${describe(item)}`);
  const { symbol, timestamp } = item;
  if (typeof symbol !== 'string' || symbol === '') return fail(`expected "symbol" as a non-empty string, got ${describe(symbol)}`);
  if (typeof timestamp !== 'string') return fail(`${symbol}: expected "timestamp" as an RFC 3339 string, got ${describe(timestamp)}`);
  const eventTime = parseKrakenTimestamp(timestamp);
  // Epoch 0 (or earlier) is a placeholder, not a time: tardis-dev skips such entries too.
  if (eventTime === null || eventTime <= 0) return fail(`${symbol}: "timestamp" is not a valid RFC 3339 time after 1970: ${describe(timestamp)}`);

  const last = readNumber(item, 'last', 'last trade price', symbol);
  if (!last.ok) return last;
  if (last.value === undefined) return fail(`${symbol}: required field "last" (last trade price) is missing`);
  if (last.value <= 0) return fail(`${symbol}: "last" (last trade price) must be positive, got ${describe(item.last)}`);

  const vwap = readNumber(item, 'vwap', '24h volume-weighted average price', symbol);
  if (!vwap.ok) return vwap;
  // Quote volume is never sent and each ticker is complete: null unless derived below.
  const read = readTickerFields(TICKER_FIELDS, { price: last.value, quoteVolume24h: null }, (wire, meaning) => readNumber(item, wire, meaning, symbol));
  if (!read.ok) return read;
  const fields = read.value;
  const volume = fields.volume24h;
  if (vwap.value !== undefined && volume !== undefined && volume !== null) {
    const quoteVolume = vwap.value * volume;
    if (!Number.isFinite(quoteVolume)) return fail(`${symbol}: "vwap" ${vwap.value} times "volume" ${volume} overflows, so the 24h quote volume would not be finite`);
    fields.quoteVolume24h = quoteVolume;
  }
  const change = fields.change24h;
  if (change !== undefined && change !== null) {
    const open = decimalDifference(last.value, change);
    if (!(open > 0)) return fail(`${symbol}: "change" ${change} is not below "last" ${last.value}, so the 24h open would not be positive`);
    // Two finite numbers can have an infinite difference (last 1.7e308, change -1.7e308).
    if (!Number.isFinite(open)) return fail(`${symbol}: "last" ${last.value} minus "change" ${change} overflows, so the 24h open would not be finite`);
    fields.open24h = open;
  }
  return { ok: true, value: { nativeSymbol: symbol, eventTime, fields } };
}

function readNumber(item: Readonly<Record<string, unknown>>, key: string, meaning: string, symbol: string): Result<number | undefined> {
  const raw = item[key];
  if (raw === undefined) return { ok: true, value: undefined };
  // JSON.parse gives Infinity for an overflowing literal like 1e999.
  if (typeof raw !== 'number' || !Number.isFinite(raw)) return fail(`${symbol}: expected "${key}" (${meaning}) as a finite JSON number, got ${describe(raw)}`);
  return { ok: true, value: raw };
}

// ---------------------------------------------------------------------------------------------
// Time and decimals

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 time (`2026-07-29T04:40:01.434882Z`) as epoch milliseconds, keeping digits below
 * the millisecond as a fraction (`1785300001434.882`); null when the text is not a valid time.
 * `Date.parse` would drop the microseconds, so the integer milliseconds and the sub-millisecond
 * digits are joined as decimal text and converted once (a single rounding, to about 0.25 µs
 * at today's epoch). Leap seconds (`:60`) are rejected rather than guessed.
 */
export function parseKrakenTimestamp(text: string): number | null {
  const m = RFC3339.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return null; // 2026-02-30 would roll into March
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 23 || offsetMinutes > 59) return null;
    ms -= (m[9] === '+' ? 1 : -1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const fraction = m[7] ?? '';
  ms += Number(fraction.slice(0, 3).padEnd(3, '0'));
  const below = fraction.slice(3).replace(/0+$/, '');
  if (below === '') return ms;
  return ms >= 0 ? Number(`${ms}.${below}`) : null;
}

/**
 * `a - b` computed on the decimal values the doubles stand for (their shortest round-trip text,
 * which for wire values is the wire text), then converted once. Plain float subtraction would
 * turn 96859.9 - 1537.1 into 95322.79999999999; this gives 95322.8.
 */
export function decimalDifference(a: number, b: number): number {
  const x = scaledDecimal(a);
  const y = scaledDecimal(b);
  if (x === null || y === null) return a - b;
  const scale = Math.max(x.scale, y.scale);
  const diff = x.digits * 10n ** BigInt(scale - x.scale) - y.digits * 10n ** BigInt(scale - y.scale);
  const negative = diff < 0n;
  const digits = (negative ? -diff : diff).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return Number(negative ? `-${text}` : text);
}

/** A finite double as an integer and a power-of-ten scale: 1535.7 -> 15357 / 10^1. */
function scaledDecimal(value: number): { readonly digits: bigint; readonly scale: number } | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  if (m === null) return null; // NaN, Infinity
  const fraction = m[3] ?? '';
  const exponent = Number(m[4] ?? '0');
  let digits = BigInt(`${m[1]}${m[2]}${fraction}`);
  let scale = fraction.length - exponent;
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { digits, scale };
}
