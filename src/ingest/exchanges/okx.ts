/**
 * OKX API v5, public spot tickers (protocol: docs/exchanges/okx.md).
 *
 * - Sockets on `/ws/v5/public`, one `tickers` argument per instId, batched into as few
 *   `{"op":"subscribe","args":[...]}` requests as fit under OKX's 64 KB limit on `args`. OKX
 *   allows 480 subscribe/unsubscribe/login requests per connection per hour, so a request per
 *   symbol would run out after a few reconnect-heavy hours; one batch costs one of them. OKX
 *   acknowledges each argument with its own `{"event":"subscribe","arg":{...}}`, and refuses
 *   an instId it does not list with error 60018.
 * - Keep-alive is ours to drive: OKX closes a connection (code 4004) after 30 s without a push
 *   and sends no protocol pings. We send the text `ping` every 15 s, half the server's limit,
 *   so one delayed ping still lands in time; the server answers the text `pong`. A quiet
 *   market may push nothing for minutes, so the pong is what proves the socket alive: with
 *   a ping every 15 s some frame arrives at least every 15 s plus a round trip, and 20 s of
 *   silence means the socket is dead.
 * - About 60 s before a service upgrade OKX sends `notice` 64008; that becomes a `rotate`
 *   event, and the shared loop opens and subscribes the replacement before closing this one.
 * - Limits: 3 new connections per second per IP (`connectionRate`). That is the only
 *   per-second figure OKX documents, and some clients read it as a subscribe-request rate too,
 *   so our own frames on one connection are paced to it as well (we send one batch and a ping
 *   every 15 s, far below it). No cap on instIds per connection is documented, so `capacity`
 *   is our own (`UNDOCUMENTED_SYMBOLS_PER_CONNECTION`).
 * - Listing: `GET /api/v5/public/instruments?instType=SPOT`, a reply with `code` "0" and a
 *   `data` array. An instrument trades iff its `state` is `live` (`suspend`, `preopen`, `test`
 *   do not). InstIds the listing does not name are split on `-`, or get the quote UNKNOWN.
 *
 * Numeric policy for tickers (see src/market.ts): every ticker field is a decimal STRING, `ts`
 * included. `last` and `ts` are required. Any other field may be absent (the frame says
 * nothing about it) or the empty string, which OKX uses for "no value" (an empty book side, a
 * pair too new for a 24h window): that is a known-missing `null`, never 0. A field that is
 * present and neither "" nor a decimal string rejects the whole frame. A bid or ask of 0 is
 * an empty book side too, so it becomes null rather than a price that would make a 200 % spread.
 *
 * Volumes, verified against the field notes: for SPOT, `vol24h` is in the base currency and
 * `volCcy24h` in the quote currency (for derivatives `volCcy24h` is base, which is why a
 * non-SPOT ticker is rejected rather than mapped). OKX sends no change fields; `open24h` is
 * the open of the same rolling 24 h window, so `deriveMarket` computes change and percent
 * exactly from `last` and `open24h`. `sodUtc0`/`sodUtc8` (UTC-day opens) have no field in
 * `Market` and are not read.
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
import { perRequestLimit } from '../subscribe-batches';
import { distinctSymbols } from '../symbol-list';
import { rememberDerived, splitOn, unknownQuote } from '../symbols';
import { readTickerFields, type WireFieldTable } from '../ticker-fields';

export const OKX_WS_URL = 'wss://ws.okx.com:8443/ws/v5/public';
export const OKX_REST_URL = 'https://www.okx.com';
/** The listing, relative to the REST base. */
const OKX_LISTING_PATH = '/api/v5/public/instruments?instType=SPOT';
/** New connections OKX accepts from one IP: 3 per second. */
export const OKX_CONNECTION_RATE: RateLimit = { limit: 3, windowMs: 1000 };
/** The only per-second limit OKX documents (connections per IP); our own frames stay under it too. */
export const OKX_MAX_MESSAGES_PER_SECOND = 3;
/** OKX closes a connection that has had nothing pushed for this long. */
export const OKX_IDLE_CLOSE_MS = 30_000;
export const OKX_PING_INTERVAL_MS = 15_000;
export const OKX_SILENCE_TIMEOUT_MS = 20_000;
/**
 * Budget for one subscribe request, measured on the whole message in UTF-8 bytes. OKX's limit
 * is 64 KB for the `args`; the whole message is a superset of them, and staying 4 KB under
 * 64 000 leaves room for whichever way OKX counts a kilobyte. About 1 400 instIds per request.
 */
export const OKX_MAX_SUBSCRIBE_BYTES = 60_000;
/**
 * After `60014 Requests too frequent`, connect again no sooner than this. OKX's limits are per
 * second (3 connections per IP) or per connection (480 requests per hour, which a new
 * connection starts afresh), so a couple of seconds clears either; longer only delays recovery.
 */
export const OKX_RATE_LIMIT_RETRY_MS = 2_000;

/** Liquid spot pairs subscribed when `OKX_SYMBOLS` is not set. */
export const OKX_DEFAULT_SYMBOLS: readonly string[] = [
  'BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT', 'DOGE-USDT', 'OKB-USDT', 'ADA-USDT', 'TRX-USDT',
  'TON-USDT', 'AVAX-USDT', 'LINK-USDT', 'DOT-USDT', 'LTC-USDT', 'BCH-USDT', 'SHIB-USDT', 'PEPE-USDT',
  'SUI-USDT', 'NEAR-USDT', 'UNI-USDT', 'ETH-BTC', 'BTC-USDC', 'ETH-USDC',
];

export interface OkxTuning {
  /** Byte budget of one subscribe request. Default `OKX_MAX_SUBSCRIBE_BYTES`. */
  readonly maxSubscribeBytes?: number;
  /** Milliseconds between two text pings. Default 15 000; tests use a short one. */
  readonly pingIntervalMs?: number;
  /** HTTP client for the instruments list. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

export function createOkxAdapter(options: AdapterOptions, tuning: OkxTuning = {}): OkxAdapter {
  return new OkxAdapter(options, tuning);
}

export class OkxAdapter implements ExchangeAdapter {
  readonly exchange: string;
  readonly wsUrl: string;
  readonly capacity = symbolsPerConnection(UNDOCUMENTED_SYMBOLS_PER_CONNECTION);
  readonly connectionRate = OKX_CONNECTION_RATE;
  readonly maxMessagesPerSecond = OKX_MAX_MESSAGES_PER_SECOND;
  readonly silenceTimeoutMs = OKX_SILENCE_TIMEOUT_MS;
  readonly clientHeartbeat: { readonly intervalMs: number; readonly message: string };

  private readonly restUrl: string | null;
  private readonly maxSubscribeBytes: number;
  private readonly fetch: typeof fetch;
  private readonly derived = rememberDerived((instId) => splitInstId(instId) ?? unknownQuote(instId));
  /** The latest listing's instIds (`useListing`); null until one is known. */
  private listed: ReadonlySet<string> | null = null;

  constructor(options: AdapterOptions, tuning: OkxTuning = {}) {
    this.exchange = options.exchange;
    this.wsUrl = options.wsUrl;
    this.restUrl = restBase(options.restUrl);
    this.maxSubscribeBytes = perRequestLimit(tuning.maxSubscribeBytes, OKX_MAX_SUBSCRIBE_BYTES);
    this.clientHeartbeat = { intervalMs: tuning.pingIntervalMs ?? OKX_PING_INTERVAL_MS, message: 'ping' };
    this.fetch = tuning.fetch ?? fetch;
  }

  /**
   * Listed instIds in as few requests as fit; an instId the latest listing does not name goes
   * last, in a request of its own: OKX refuses it with 60018, and whether that also sinks the
   * other arguments of its request is undocumented.
   */
  subscribeMessages(symbols: readonly string[]): string[] {
    const listed = this.listed;
    const unlisted = listed === null ? [] : symbols.filter((instId) => !listed.has(instId));
    const good = unlisted.length === 0 ? symbols : symbols.filter((instId) => listed!.has(instId));
    return [...this.batchedRequests(good), ...unlisted.map((instId) => subscribeText([JSON.stringify({ channel: 'tickers', instId })]))];
  }

  useListing(listed: ReadonlySet<string>): void {
    this.listed = listed;
  }

  private batchedRequests(symbols: readonly string[]): string[] {
    const messages: string[] = [];
    let batch: string[] = [];
    let bytes = SUBSCRIBE_FRAME_BYTES;
    for (const instId of symbols) {
      const arg = JSON.stringify({ channel: 'tickers', instId });
      const cost = Buffer.byteLength(arg) + (batch.length > 0 ? 1 : 0); // the comma
      if (batch.length > 0 && bytes + cost > this.maxSubscribeBytes) {
        messages.push(subscribeText(batch));
        batch = [];
        bytes = SUBSCRIBE_FRAME_BYTES;
      }
      bytes += Buffer.byteLength(arg) + (batch.length > 0 ? 1 : 0);
      batch.push(arg);
    }
    if (batch.length > 0) messages.push(subscribeText(batch));
    return messages;
  }

  parse(frame: string): FrameEvent {
    return parseOkxFrame(frame);
  }

  /** Upper case (OKX instIds are), trimmed, de-duplicated; nothing to warn about. */
  normalizeSymbols(configured: readonly string[]): NormalizedSymbols {
    return { symbols: distinctSymbols(configured), warnings: [] };
  }

  deriveSymbolInfo(nativeSymbol: string): SymbolInfo {
    return this.derived(nativeSymbol);
  }

  async fetchListing(signal: AbortSignal): Promise<ListedMarket[]> {
    const body = await fetchJson(this.fetch, listingUrl(this.restUrl, OKX_LISTING_PATH), signal);
    if (!isRecord(body)) throw new Error(`instruments: expected a JSON object, got ${describe(body)}`);
    // OKX reports failures in the body too: `code` is "0" only on success.
    if (body.code !== '0') throw new Error(`instruments: OKX code ${describe(body.code)}: ${typeof body.msg === 'string' ? body.msg : describe(body.msg)}`);
    if (!Array.isArray(body.data)) throw new Error(`instruments: expected "data" as an array, got ${describe(body.data)}`);
    return readEntries(body.data, readInstrument, 'instruments');
  }
}

/** One instruments entry; null when unreadable. */
function readInstrument(entry: Readonly<Record<string, unknown>>): ListedMarket | null {
  const info = listedSymbol(entry, { symbol: 'instId', base: 'baseCcy', quote: 'quoteCcy' });
  const state = textField(entry, 'state');
  if (info === null || state === null) return null;
  return { ...info, status: state, trading: state === 'live' };
}

/** `{"op":"subscribe","args":[` and `]}`, around the comma-separated args. */
const SUBSCRIBE_FRAME_BYTES = Buffer.byteLength('{"op":"subscribe","args":[]}');

function subscribeText(args: readonly string[]): string {
  return `{"op":"subscribe","args":[${args.join(',')}]}`;
}

/**
 * Spot instIds are `BASE-QUOTE` (`BTC-USDT`, `ETH-BTC`); anything else (`BTC-USDT-SWAP`,
 * `BTC/USDT`) is not a spot instId and gets null. Only used for instIds the listing does not name.
 */
export function splitInstId(instId: string): SymbolInfo | null {
  return splitOn(instId, '-');
}

// ---------------------------------------------------------------------------------------------
// Frames

/** Error codes that mean "slow down". */
const RATE_LIMIT_CODES = new Set(['60014']);
/** `notice` code announcing that the server will close this connection for an upgrade. */
const SERVICE_UPGRADE_NOTICE = '64008';

/** Wire field -> normalized field, with the wire meaning for error messages. */
const TICKER_FIELDS: WireFieldTable = [
  ['bidPx', 'bid', 'best bid'],
  ['askPx', 'ask', 'best ask'],
  ['open24h', 'open24h', '24h open'],
  ['high24h', 'high24h', '24h high'],
  ['low24h', 'low24h', '24h low'],
  ['vol24h', 'volume24h', '24h base volume'],
  ['volCcy24h', 'quoteVolume24h', '24h quote volume'],
];

/**
 * Reads one OKX public text frame. Pure and total: anything unexpected is an `invalid` event
 * whose reason names the field, what was expected and what came.
 *
 * Three kinds of frame: the bare text `pong` (not JSON); JSON with `event` (acks, errors,
 * notices); JSON with `arg` and `data` (pushes).
 */
export function parseOkxFrame(text: string): FrameEvent {
  if (text === 'pong') return HEARTBEAT;
  const json = parseJson(text);
  if (!json.ok) return invalid(`${json.reason} (the only non-JSON frame OKX sends is the text "pong")`);
  const message = json.value;
  if (!isRecord(message)) return invalid(`expected a JSON object, got ${describe(message)}`);
  if ('event' in message) return readEvent(message);
  if ('arg' in message) return readPush(message);
  return invalid(`unrecognized frame: expected an "event" or an "arg" with "data"; keys: ${describeKeys(message)}`);
}

function readEvent(message: Readonly<Record<string, unknown>>): FrameEvent {
  const { event } = message;
  if (typeof event !== 'string') return invalid(`expected "event" as a string, got ${describe(event)}`);
  switch (event) {
    case 'subscribe':
    case 'unsubscribe':
      return ACK;
    case 'error':
    case 'channel-conn-count-error':
      return readError(event, message);
    case 'notice': {
      const code = readCode(message.code);
      if (!code.ok) return invalid(`notice: ${code.reason}`);
      if (code.value === SERVICE_UPGRADE_NOTICE) {
        return { kind: 'rotate', reason: `OKX notice ${code.value}: ${textOf(message.msg)}${connIdOf(message)}` };
      }
      return IGNORED; // no other notice is documented; none asks anything of a public client
    }
    default:
      return IGNORED; // `channel-conn-count`, `login`, and events of other products
  }
}

function readError(event: string, message: Readonly<Record<string, unknown>>): FrameEvent {
  const code = readCode(message.code);
  if (!code.ok) return invalid(`${event}: ${code.reason}`);
  const detail = event === 'error' ? textOf(message.msg) : `${event} on channel ${textOf(message.channel)}, ${textOf(message.connCount)} connections`;
  const label = code.value === null ? 'OKX error' : `OKX error ${code.value}`;
  const text = `${label}: ${detail}${connIdOf(message)}`;
  return code.value !== null && RATE_LIMIT_CODES.has(code.value)
    ? { kind: 'error', message: text, retryAfterMs: OKX_RATE_LIMIT_RETRY_MS }
    : { kind: 'error', message: text };
}

/** OKX codes are strings ("60018"); a number is read the same way, absence as no code. */
function readCode(code: unknown): Result<string | null> {
  if (code === undefined) return { ok: true, value: null };
  if (typeof code === 'string') return { ok: true, value: code };
  if (typeof code === 'number' && Number.isFinite(code)) return { ok: true, value: String(code) };
  return fail(`expected "code" as a string, got ${describe(code)}`);
}

function readPush(message: Readonly<Record<string, unknown>>): FrameEvent {
  const { arg } = message;
  if (!isRecord(arg)) return invalid(`expected "arg" as an object, got ${describe(arg)}`);
  const { channel } = arg;
  if (typeof channel !== 'string') return invalid(`expected "arg.channel" as a string, got ${describe(channel)}`);
  if (channel !== 'tickers') return IGNORED; // another channel someone subscribed; not ours to read
  const subscribedId = typeof arg.instId === 'string' ? arg.instId : null;
  const where = `tickers ${subscribedId ?? '(no instId)'}`;
  if (!('data' in message)) return invalid(`${where}: push has no "data"`);
  const { data } = message;
  if (!Array.isArray(data)) return invalid(`${where}: expected "data" as an array, got ${describe(data)}`);
  const patches: TickerPatch[] = [];
  // One push is one frame: one bad element rejects it, like one bad field rejects a ticker.
  for (const [index, item] of data.entries()) {
    const patch = readTicker(item, subscribedId, `${where} data[${index}]`);
    if (!patch.ok) return invalid(patch.reason);
    patches.push(patch.value);
  }
  return { kind: 'tickers', patches };
}

function readTicker(item: unknown, subscribedId: string | null, where: string): Result<TickerPatch> {
  if (!isRecord(item)) return fail(`${where}: expected a ticker object, got ${describe(item)}`);
  const { instType, instId, ts } = item;
  if (typeof instId !== 'string' || instId === '') return fail(`${where}: expected "instId" as a non-empty string, got ${describe(instId)}`);
  if (subscribedId !== null && instId !== subscribedId) return fail(`${where}: ticker is for ${instId}, not the subscribed ${subscribedId}`);
  // For derivatives `volCcy24h` is a base amount: mapping it as quote volume would be wrong.
  if (instType !== undefined && instType !== 'SPOT') {
    return fail(`${where}: expected "instType" SPOT, got ${describe(instType)}; only spot tickers are read`);
  }
  // 15 digits at most keeps the value exact in a double (milliseconds need 13 until 2286).
  if (typeof ts !== 'string' || !/^\d{1,15}$/.test(ts) || Number(ts) <= 0) {
    return fail(`${where}: expected "ts" as a string of epoch milliseconds, got ${describe(ts)}`);
  }
  const last = readDecimal(item, 'last', 'last price', where);
  if (!last.ok) return last;
  if (last.value === undefined) return fail(`${where}: required field "last" (last price) is missing`);
  if (last.value === null) return fail(`${where}: required field "last" (last price) is empty`);
  if (last.value <= 0) return fail(`${where}: field "last" (last price) must be positive, got ${describe(item.last)}`);

  const fields = readTickerFields(TICKER_FIELDS, { price: last.value }, (wire, meaning) => readDecimal(item, wire, meaning, where));
  if (!fields.ok) return fields;
  return { ok: true, value: { nativeSymbol: instId, eventTime: Number(ts), fields: fields.value } };
}

/** undefined: absent; null: the empty string OKX sends for "no value"; else the number. */
function readDecimal(item: Readonly<Record<string, unknown>>, key: string, meaning: string, where: string): Result<number | null | undefined> {
  return item[key] === '' ? { ok: true, value: null } : readDecimalField(item, key, meaning, where);
}

/** Error texts can echo a whole request (60012 does); keep enough to name the instId, not all of it. */
const MESSAGE_CHARS = 300;

function textOf(value: unknown): string {
  if (typeof value !== 'string') return describe(value);
  return value.length <= MESSAGE_CHARS ? value : `${value.slice(0, MESSAGE_CHARS)}... (${value.length} chars)`;
}

function connIdOf(message: Readonly<Record<string, unknown>>): string {
  return typeof message.connId === 'string' ? ` (connId ${message.connId})` : '';
}
