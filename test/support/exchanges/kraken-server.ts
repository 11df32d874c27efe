/**
 * A local server that speaks Kraken's spot WebSocket v2 public protocol (kraken.md) for the
 * ingest tests: HTTP and WebSocket on one port of 127.0.0.1.
 *
 * - WebSocket on `/v2` (any other path: HTTP 404). On connect it sends the `status` banner,
 *   with a `connection_id` above 2^53 written as raw JSON digits, as Kraken does.
 * - `subscribe` / `unsubscribe` for the `ticker` channel: one reply per symbol,
 *   `success:true` with `result` for listed pairs, `success:false` with `error` and `symbol`
 *   for pairs that are not listed or are delisted ("Currency pair not supported ...") or
 *   repeated ones ("Already subscribed"); `req_id` echoed. After each successful subscribe
 *   with `snapshot` (default true) a `ticker` snapshot follows; `push` and ticking
 *   (`startTicking`) send `update`s.
 * - Requests are checked strictly against the documented shape (known keys only, right
 *   types); a request that is not JSON comes back as `method:"error"`. Every problem is
 *   recorded in `violations` so a test can assert the client never sent one.
 * - `ping` -> `pong` (with `req_id` when given); `{"channel":"heartbeat"}` every
 *   `heartbeatMs` to connections with a subscription that were sent nothing else meanwhile.
 * - A connection that sends no request for `idleTimeoutMs` is closed (Kraken: about 1 minute).
 * - `GET /0/public/AssetPairs` lists every pair keyed by its REST name (`XXBTZUSD`) with
 *   `wsname` in legacy codes (`XBT/USD`), `base`, `quote` (REST asset ids: `XXBT`, `ZUSD`) and
 *   `status` (`online`, `delisted` once delisted), plus a dark-pool pair without `wsname` when
 *   BTC/USD is listed.
 *
 * Limits, each breach recorded in `breaches`:
 * - 150 connection attempts per 10 minutes per IP (Kraken's Cloudflare limit): HTTP 429.
 *   Refused attempts count too, so a client that keeps trying stays refused, as with
 *   Kraken's 10-minute ban;
 * - 10 requests per second per connection: the request over it is answered with
 *   `Exceeded msg rate` and not processed. Kraken's limit is dynamic and unpublished; 10 per
 *   second per connection is this server's choice: twice the adapter's own pacing (5), so a
 *   client that paces itself never meets it and one that floods does.
 *
 * Choices where Kraken's behaviour is undocumented: idle closes use code 1000; an unsupported
 * channel or method is refused with `success:false`.
 *
 * Test hooks: `push`, `setSystemStatus`, `setRestMode`, `requests`, `violations`,
 * `subscribers`, `stats`, and those of every local exchange
 * (`src/ingest/sim/local-exchange-server.ts`): the listing (`setListing`, `list`, `delist`,
 * `setListingBody`, `listingRequests`), `startTicking`/`stopTicking`, `breaches`, `sendRaw`,
 * `dropConnections`, `stall`, `setRestAvailable`, `connections`, `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { isRecord } from '../../../src/ingest/json-frame';
import { ArrivalWindow } from '../../../src/ingest/sim/arrival-window';
import { listingFrom, SPELLINGS, syntheticMarkets, type LocalMarket, type ListingOption } from '../../../src/ingest/sim/listing';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type RateLimit, type UpgradeRefusal } from '../../../src/ingest/sim/local-exchange-server';
import { decimalText, moveTicker, startingPrice } from '../../../src/ingest/sim/market-prices';

/** The numeric ticker fields Kraken v2 sends, as JSON numbers. */
export interface KrakenTickerValues {
  readonly bid: number;
  readonly bid_qty: number;
  readonly ask: number;
  readonly ask_qty: number;
  readonly last: number;
  readonly volume: number;
  readonly vwap: number;
  readonly low: number;
  readonly high: number;
  readonly change: number;
  readonly change_pct: number;
}

export interface KrakenPair {
  /** v2 symbol, `BTC/USD`. */
  readonly symbol: string;
  /** REST `AssetPairs` key, `XXBTZUSD`. */
  readonly restKey: string;
  /** REST `wsname`, in legacy codes: `XBT/USD`. */
  readonly wsname: string;
  /** REST pair status. Default `online`. */
  readonly status?: string;
  readonly ticker: KrakenTickerValues;
}

export interface KrakenServerOptions {
  /** Pairs listed. Default `KRAKEN_TEST_PAIRS`. */
  readonly pairs?: readonly KrakenPair[];
  /** Instead of `pairs`: that many synthetic pairs (`BASE/QUOTE`), or exactly these. */
  readonly listing?: ListingOption;
  /** WebSocket upgrades per IP. Default 150 per 10 minutes. */
  readonly connectionLimit?: RateLimit;
  /** Milliseconds between heartbeats to a quiet subscribed connection; 0 = never. Default 1000. */
  readonly heartbeatMs?: number;
  /** A connection that sends no request for this long is closed; 0 = never. Default 60 000. */
  readonly idleTimeoutMs?: number;
  /** Requests allowed per second per connection. Default 10. */
  readonly maxMessagesPerSecond?: number;
  /** Deprecation notices attached to every successful subscribe ack, as Kraken may. Default none. */
  readonly ackWarnings?: readonly string[];
}

export type RestMode = 'ok' | 'http-error' | 'api-error';

export interface KrakenServerStats {
  readonly upgrades: number;
  /** Inbound text frames (requests), valid or not. */
  readonly requests: number;
  readonly pings: number;
  readonly heartbeats: number;
  readonly rateLimited: number;
  readonly idleCloses: number;
  /** Most requests seen on one connection within any one second. */
  readonly peakInboundPerSecond: number;
  readonly assetPairsRequests: number;
}

/** A pair's ticker values: the fixture's BTC/USD and ETH/USD, plausible ones for the rest. */
export const KRAKEN_TEST_PAIRS: readonly KrakenPair[] = [
  {
    symbol: 'BTC/USD',
    restKey: 'XXBTZUSD',
    wsname: 'XBT/USD',
    ticker: { bid: 96858.4, bid_qty: 0.0185, ask: 96858.5, ask_qty: 1.20311455, last: 96858.5, volume: 1183.51229014, vwap: 96110.7, low: 94950.0, high: 97244.9, change: 1535.7, change_pct: 1.61 },
  },
  {
    symbol: 'ETH/USD',
    restKey: 'XETHZUSD',
    wsname: 'ETH/USD',
    ticker: { bid: 3351.61, bid_qty: 4.5122, ask: 3351.62, ask_qty: 11.0, last: 3351.61, volume: 24418.77401122, vwap: 3369.58, low: 3317.2, high: 3421.0, change: -47.09, change_pct: -1.39 },
  },
  {
    symbol: 'DOGE/USD',
    restKey: 'XDGUSD',
    wsname: 'XDG/USD',
    ticker: { bid: 0.214315, bid_qty: 5000, ask: 0.21432, ask_qty: 1200, last: 0.21432, volume: 91833412.5, vwap: 0.2112, low: 0.2071, high: 0.2166, change: 0.00512, change_pct: 2.45 },
  },
  {
    symbol: 'ETH/BTC',
    restKey: 'XETHXXBT',
    wsname: 'ETH/XBT',
    ticker: { bid: 0.03460, bid_qty: 3.2, ask: 0.03461, ask_qty: 1.1, last: 0.03461, volume: 1520.25, vwap: 0.03472, low: 0.03449, high: 0.03498, change: -0.00021, change_pct: -0.6 },
  },
  {
    symbol: 'SOL/EUR',
    restKey: 'SOLEUR',
    wsname: 'SOL/EUR',
    status: 'cancel_only',
    ticker: { bid: 158.1, bid_qty: 12, ask: 158.12, ask_qty: 3, last: 158.12, volume: 40211.7, vwap: 156.9, low: 154.8, high: 159.4, change: 2.31, change_pct: 1.48 },
  },
];

/** `count` pairs of the shared synthetic listing (`listing.ts`), with their REST names and tickers. */
export function syntheticKrakenPairs(count: number): KrakenPair[] {
  return syntheticMarkets(count, SPELLINGS.kraken).map(({ symbol, base, quote }) => ({ symbol, ...restNames(base, quote), ticker: initialTicker(startingPrice(base, quote)) }));
}

interface Client extends LocalClient {
  /** Requests within the last second. */
  readonly inbound: ArrivalWindow;
}

/** Kraken: about 150 connection attempts per rolling 10 minutes per IP. */
const CONNECTION_LIMIT: RateLimit = { max: 150, windowMs: 600_000 };
/** This server's stand-in for Kraken's dynamic message rate limit, per connection. */
const MAX_MESSAGES_PER_SECOND = 10;
/** Kraken's legacy codes (REST `wsname`) for the v2 codes that have one. */
const LEGACY_CODES: Readonly<Record<string, string>> = { BTC: 'XBT', DOGE: 'XDG' };

type Json = Readonly<Record<string, unknown>>;

const SUBSCRIBE_PARAM_KEYS = new Set(['channel', 'symbol', 'event_trigger', 'snapshot']);
const REQUEST_KEYS = new Set(['method', 'params', 'req_id']);

export class KrakenServer extends LocalExchangeServer<Client> {
  /** `ws://127.0.0.1:<port>/v2`. */
  readonly wsUrl: string;
  /** Every request received, parsed (non-JSON ones as their text). */
  readonly requests: unknown[] = [];
  /** Every way a request departed from the documented shape. */
  readonly violations: string[] = [];

  protected readonly listingPath = '/0/public/AssetPairs';
  /** REST names of pairs the `pairs` option named; others are derived (`restNames`). */
  private readonly givenRestNames = new Map<string, { readonly restKey: string; readonly wsname: string }>();
  /** Current ticker values per pair, made when first needed. */
  private readonly tickers = new Map<string, Record<string, number>>();
  /** Set by `setRestMode('api-error')`: AssetPairs answers HTTP 200 with an `error` list. */
  private apiErrors = false;
  private connectionId = 10582265213305127410n;
  private lastMicros = 0;
  private counters = { requests: 0, pings: 0, heartbeats: 0, rateLimited: 0, idleCloses: 0, peakInboundPerSecond: 0 };

  static async start(options: KrakenServerOptions = {}): Promise<KrakenServer> {
    return new KrakenServer(await listen(), options);
  }

  private constructor(listening: Listening, private readonly options: KrakenServerOptions) {
    if (options.pairs !== undefined && options.listing !== undefined) throw new Error('give either pairs or listing, not both');
    const pairs = options.pairs ?? (options.listing === undefined ? KRAKEN_TEST_PAIRS : []);
    const listing = listingFrom(options.listing, SPELLINGS.kraken, () => pairs.map(pairMarket));
    super(listening, { jsonContentType: 'application/json; charset=utf-8', listing, connectionLimit: options.connectionLimit ?? CONNECTION_LIMIT });
    for (const pair of pairs) {
      this.givenRestNames.set(pair.symbol, { restKey: pair.restKey, wsname: pair.wsname });
      this.tickers.set(pair.symbol, { ...pair.ticker });
    }
    this.wsUrl = this.wsUrlAt('/v2');
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (heartbeatMs > 0) this.timers.interval(heartbeatMs, () => this.heartbeat(heartbeatMs));
  }

  get stats(): KrakenServerStats {
    return { upgrades: this.upgradeStats.upgrades, ...this.counters, assetPairsRequests: this.listingRequests };
  }

  /** Connections subscribed to the symbol's ticker. */
  subscribers(symbol: string): number {
    return this.tickerSubscribers(symbol).size;
  }

  /**
   * Sends a ticker `update` for the symbol to its subscribers: the current values with
   * `fields` replacing or adding wire fields (a new `last`, a `timestamp`, or a deliberately
   * wrong value). Numeric overrides become the symbol's state. Returns the entry sent and how
   * many connections it reached.
   */
  push(symbol: string, fields: Json = {}): { readonly entry: Json; readonly delivered: number } {
    const state = this.tickerOf(symbol);
    const entry = { symbol, ...state, timestamp: this.timestamp(), ...fields };
    for (const [key, value] of Object.entries(fields)) if (typeof value === 'number') state[key] = value;
    return { entry, delivered: this.sendUpdate(entry, this.tickerSubscribers(symbol)) };
  }

  /** Broadcasts a `status` update with this `system` value (`maintenance`, `online`...). */
  setSystemStatus(system: string): void {
    for (const client of this.clients) this.send(client, this.statusFrame(system));
  }

  /**
   * `http-error`: AssetPairs answers 503, as after `setRestAvailable(false)`; `api-error`: HTTP
   * 200 with Kraken's `error` list; `ok` undoes both.
   */
  setRestMode(mode: RestMode): void {
    this.setRestAvailable(mode !== 'http-error');
    this.apiErrors = mode === 'api-error';
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  protected override serveListing(_url: URL, response: ServerResponse): void {
    if (this.apiErrors) return this.respondJson(response, 200, { error: ['EService:Unavailable'], result: {} });
    const result: Record<string, unknown> = {};
    for (const market of this.listing) {
      const { restKey, wsname } = this.givenRestNames.get(market.symbol) ?? restNames(market.base, market.quote);
      const [base = '', quote = ''] = wsname.split('/');
      result[restKey] = {
        altname: `${base}${quote}`,
        wsname,
        aclass_base: 'currency',
        base: restAssetId(base),
        aclass_quote: 'currency',
        quote: restAssetId(quote),
        pair_decimals: 5,
        cost_decimals: 5,
        lot_decimals: 8,
        lot_multiplier: 1,
        tick_size: '0.00001',
        ordermin: '0.0001',
        costmin: '0.5',
        status: market.status ?? (market.trading ? 'online' : 'delisted'),
      };
    }
    // Dark-pool pairs have no wsname: they cannot be streamed and clients must skip them.
    if (this.listed('BTC/USD')) result.XXBTZUSD_d = { altname: 'XBTUSD.d', aclass_base: 'currency', base: 'XXBT', aclass_quote: 'currency', quote: 'ZUSD', status: 'online' };
    this.respondJson(response, 200, { error: [], result });
  }

  protected override listingUnavailable(response: ServerResponse): void {
    this.respondJson(response, 503, { error: ['EService:Unavailable'] });
  }

  protected override serveHttp(_request: IncomingMessage, _url: URL, response: ServerResponse): void {
    this.respondJson(response, 404, { error: ['EGeneral:Unknown method'] });
  }

  /** The pair's current ticker values, made from its starting price the first time. */
  private tickerOf(symbol: string): Record<string, number> {
    let ticker = this.tickers.get(symbol);
    if (!ticker) {
      const market = this.listed(symbol);
      ticker = { ...initialTicker(market ? startingPrice(market.base, market.quote) : 100) };
      this.tickers.set(symbol, ticker);
    }
    return ticker;
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    return url.pathname === '/v2' ? null : { status: 404 };
  }

  protected override accept(base: LocalClient): Client {
    const client: Client = { ...base, inbound: new ArrivalWindow(1000) };
    this.armIdle(client);
    this.send(client, this.statusFrame('online'));
    return client;
  }

  private statusFrame(system: string): string {
    // Written by hand: JSON.stringify cannot produce an integer above 2^53 exactly.
    const id = this.connectionId++;
    return `{"channel":"status","data":[{"api_version":"v2","connection_id":${id},"system":${JSON.stringify(system)},"version":"2.0.10"}],"type":"update"}`;
  }

  private armIdle(client: Client): void {
    const idleMs = this.options.idleTimeoutMs ?? 60_000;
    if (idleMs <= 0) return;
    this.setDeadline(client, idleMs, () => {
      this.counters.idleCloses++;
      client.ws.close(1000, 'idle');
    });
  }

  protected override receive(client: Client, data: string, isBinary: boolean): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    const timeIn = this.timestamp();
    this.counters.requests++;
    this.armIdle(client);
    const text = isBinary ? null : data;
    let request: unknown = text;
    if (text !== null) {
      try {
        request = JSON.parse(text);
      } catch {
        // kept as text
      }
    }
    this.requests.push(request);
    if (this.overLimit(client)) {
      const method = isRecord(request) && typeof request.method === 'string' ? request.method : 'error';
      return this.reply(client, { error: 'Exceeded msg rate', method, success: false, time_in: timeIn });
    }
    if (client.stalled) return;
    if (!isRecord(request)) {
      this.violations.push(`not a JSON object: ${String(text ?? '<binary>').slice(0, 80)}`);
      return this.reply(client, { error: 'Malformed request', method: 'error', success: false, time_in: timeIn });
    }
    this.handle(client, request, timeIn);
  }

  private handle(client: Client, request: Json, timeIn: string): void {
    const { method, params, req_id: requestId } = request;
    const echo = requestId === undefined ? {} : { req_id: requestId };
    const refuse = (error: string): void => {
      this.violations.push(`${String(method)}: ${error}`);
      this.reply(client, { error, method: typeof method === 'string' ? method : 'error', success: false, time_in: timeIn, ...echo });
    };
    const unknownKeys = Object.keys(request).filter((key) => !REQUEST_KEYS.has(key));
    if (unknownKeys.length > 0) return refuse(`Unknown field(s) ${unknownKeys.join(', ')}`);
    if (requestId !== undefined && !(Number.isInteger(requestId) && (requestId as number) >= 0)) return refuse('req_id must be a non-negative integer');
    if (method === 'ping') {
      if (params !== undefined) return refuse('ping takes no params');
      this.counters.pings++;
      return this.reply(client, { method: 'pong', ...echo, time_in: timeIn });
    }
    if (method !== 'subscribe' && method !== 'unsubscribe') return refuse(`Unsupported method ${JSON.stringify(method)}`);
    if (!isRecord(params)) return refuse('params must be an object');
    const extra = Object.keys(params).filter((key) => !SUBSCRIBE_PARAM_KEYS.has(key));
    if (extra.length > 0) return refuse(`Unknown param(s) ${extra.join(', ')}`);
    if (params.channel !== 'ticker') return refuse(`Channel ${JSON.stringify(params.channel)} not supported by this server`);
    const { symbol: symbols, event_trigger: trigger = 'trades', snapshot = true } = params;
    if (!Array.isArray(symbols) || symbols.length === 0 || !symbols.every((s): s is string => typeof s === 'string')) {
      return refuse('symbol must be a non-empty array of strings');
    }
    if (trigger !== 'trades' && trigger !== 'bbo') return refuse('event_trigger must be trades or bbo');
    if (typeof snapshot !== 'boolean') return refuse('snapshot must be a boolean');

    for (const symbol of symbols) {
      const perSymbolFailure = (error: string): void =>
        this.reply(client, { error, method, success: false, symbol, time_in: timeIn, ...echo });
      if (method === 'unsubscribe') {
        if (!this.unsubscribeTicker(client, symbol)) {
          perSymbolFailure('Subscription Not Found');
          continue;
        }
      } else {
        if (!this.isTrading(symbol)) {
          perSymbolFailure(`Currency pair not supported ${symbol}`);
          continue;
        }
        if (!this.subscribeTicker(client, symbol)) {
          perSymbolFailure('Already subscribed');
          continue;
        }
      }
      const warnings = this.options.ackWarnings?.length ? { warnings: this.options.ackWarnings } : {};
      this.reply(client, { method, result: { channel: 'ticker', event_trigger: trigger, snapshot, symbol }, ...echo, success: true, ...warnings, time_in: timeIn });
      if (method === 'subscribe' && snapshot) {
        const entry = { symbol, ...this.tickerOf(symbol), timestamp: this.timestamp() };
        this.send(client, JSON.stringify({ channel: 'ticker', type: 'snapshot', data: [entry] }));
      }
    }
  }

  private reply(client: Client, body: Json): void {
    this.send(client, JSON.stringify({ ...body, time_out: this.timestamp() }));
  }

  /** Records one request; true (and a breach) when it is over the per-second limit. */
  private overLimit(client: Client): boolean {
    const inLastSecond = client.inbound.record();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, inLastSecond);
    const max = this.options.maxMessagesPerSecond ?? MAX_MESSAGES_PER_SECOND;
    if (inLastSecond <= max) return false;
    this.counters.rateLimited++;
    this.breach('messages per second', `${inLastSecond} requests within 1000 ms on one connection; at most ${max}`);
    return true;
  }

  protected override sendTick(symbol: string, subscribers: ReadonlySet<Client>): void {
    const state = this.tickerOf(symbol);
    const open = state.last! - state.change!;
    const moved = moveTicker({ last: state.last!, open, high: state.high!, low: state.low!, volume: state.volume! }, this.random);
    const vwap = (state.vwap! * state.volume! + moved.tradedQuote) / moved.volume;
    const round = (value: number): number => Number(decimalText(value));
    Object.assign(state, {
      bid: round(moved.bid),
      ask: round(moved.ask),
      last: round(moved.last),
      volume: round(moved.volume),
      vwap: round(vwap),
      low: round(moved.low),
      high: round(moved.high),
      change: round(moved.last - open),
      change_pct: Number((((moved.last - open) / open) * 100).toFixed(2)),
    });
    this.sendUpdate({ symbol, ...state, timestamp: this.timestamp() }, subscribers);
  }

  /** Sends a ticker `update` with this entry to `clients`; the frame is serialized once. */
  private sendUpdate(entry: Json, clients: Iterable<Client>): number {
    return this.sendEach(clients, JSON.stringify({ channel: 'ticker', type: 'update', data: [entry] }));
  }

  private heartbeat(intervalMs: number): void {
    const now = Date.now();
    for (const client of this.clients) {
      if (this.tickerSymbols(client).size === 0 || now - client.lastSentAt < intervalMs) continue;
      if (this.send(client, '{"channel":"heartbeat"}')) this.counters.heartbeats++;
    }
  }

  /** RFC 3339 with microseconds, strictly increasing, like Kraken's `timestamp` and `time_in`. */
  private timestamp(): string {
    this.lastMicros = Math.max(this.lastMicros + 1, Date.now() * 1000);
    const ms = Math.floor(this.lastMicros / 1000);
    const micros = String(this.lastMicros % 1000).padStart(3, '0');
    return new Date(ms).toISOString().replace('Z', `${micros}Z`);
  }
}

function pairMarket(pair: KrakenPair): LocalMarket {
  const [base = pair.symbol, quote = ''] = pair.symbol.split('/');
  const status = pair.status ?? 'online';
  return { symbol: pair.symbol, base, quote, trading: status !== 'delisted', status };
}

/**
 * A pair's REST names from its v2 codes: `wsname` in legacy codes (`XBT/USD`), keyed by the
 * X/Z-prefixed ids when both assets have one (`XXBTZUSD`), else by the altname (`SOLEUR`).
 */
function restNames(base: string, quote: string): { readonly restKey: string; readonly wsname: string } {
  const [legacyBase, legacyQuote] = [LEGACY_CODES[base] ?? base, LEGACY_CODES[quote] ?? quote];
  const [baseId, quoteId] = [restAssetId(legacyBase), restAssetId(legacyQuote)];
  const prefixed = baseId !== legacyBase && quoteId !== legacyQuote;
  return { restKey: prefixed ? `${baseId}${quoteId}` : `${legacyBase}${legacyQuote}`, wsname: `${legacyBase}/${legacyQuote}` };
}

/** A pair's first ticker values around `price`: a 1.25 % gain on the day. */
function initialTicker(price: number): KrakenTickerValues {
  const at = (factor: number): number => Number(decimalText(price * factor));
  const open = price / 1.0125;
  return { bid: at(0.9999), bid_qty: 1.5, ask: at(1.0001), ask_qty: 2.5, last: at(1), volume: 1000, vwap: at(0.995), low: at(0.97), high: at(1.02), change: Number(decimalText(price - open)), change_pct: 1.25 };
}

/** REST asset ids: legacy crypto codes get an X prefix and fiat a Z (`XXBT`, `ZUSD`), newer ones none. */
function restAssetId(code: string): string {
  if (['USD', 'EUR', 'GBP', 'CAD', 'JPY'].includes(code)) return `Z${code}`;
  if (['XBT', 'ETH', 'XDG', 'LTC', 'XRP'].includes(code)) return `X${code}`;
  return code;
}
