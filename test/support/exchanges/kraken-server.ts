/**
 * A local server that speaks Kraken's spot WebSocket v2 public protocol (kraken.md) for the
 * ingest tests: HTTP and WebSocket on one port of 127.0.0.1.
 *
 * - WebSocket on `/v2` (any other path: HTTP 404). On connect it sends the `status` banner,
 *   with a `connection_id` above 2^53 written as raw JSON digits, as Kraken does.
 * - `subscribe` / `unsubscribe` for the `ticker` channel: one reply per symbol,
 *   `success:true` with `result` for listed pairs, `success:false` with `error` and `symbol`
 *   for unlisted ones ("Currency pair not supported ...") or repeated ones ("Already
 *   subscribed"); `req_id` echoed. After each successful subscribe with `snapshot` (default
 *   true) a `ticker` snapshot follows.
 * - Requests are checked strictly against the documented shape (known keys only, right
 *   types); a request that is not JSON comes back as `method:"error"`. Every problem is
 *   recorded in `violations` so a test can assert the client never sent one.
 * - `ping` -> `pong` (with `req_id` when given); `{"channel":"heartbeat"}` every
 *   `heartbeatMs` to connections with a subscription that were sent nothing else meanwhile.
 * - A connection that sends no request for `idleTimeoutMs` is closed (Kraken: about 1 minute).
 * - More than `maxMessagesPerSecond` requests in one second: the extra request is answered
 *   with `Exceeded msg rate` and not processed (Kraken's limit is dynamic; this is a fixed one).
 * - `GET /0/public/AssetPairs` lists every pair with REST-style names (`XXBTZUSD`,
 *   `wsname: "XBT/USD"`), plus one dark-pool pair without `wsname`.
 *
 * Choices where Kraken's behaviour is undocumented: idle closes use code 1000; an unsupported
 * channel or method is refused with `success:false`.
 *
 * Test hooks: `push`, `setSystemStatus`, `setRestMode`, `requests`, `violations`,
 * `subscribers`, `stats`, and those of every local exchange
 * (`src/ingest/sim/local-exchange-server.ts`): `sendRaw`, `dropConnections`, `stall`,
 * `setRestAvailable`, `connections`, `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { isRecord } from '../../../src/ingest/json-frame';
import { ArrivalWindow } from '../../../src/ingest/sim/arrival-window';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type UpgradeRefusal } from '../../../src/ingest/sim/local-exchange-server';

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

/** `count` listed pairs named `C0/USD`, `C1/USD`...; for tests that need many symbols. */
export function syntheticKrakenPairs(count: number): KrakenPair[] {
  return Array.from({ length: count }, (_, i) => ({
    symbol: `C${i}/USD`,
    restKey: `C${i}USD`,
    wsname: `C${i}/USD`,
    ticker: { bid: 10 + i, bid_qty: 1, ask: 10.5 + i, ask_qty: 1, last: 10.5 + i, volume: 1000 + i, vwap: 10.25 + i, low: 9.5 + i, high: 11 + i, change: 0.5, change_pct: Math.round((0.5 / (10 + i)) * 10_000) / 100 },
  }));
}

interface Client extends LocalClient {
  readonly symbols: Set<string>;
  /** Requests within the last second. */
  readonly inbound: ArrivalWindow;
}

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

  private readonly pairs = new Map<string, KrakenPair>();
  private readonly tickers = new Map<string, Record<string, number>>();
  /** Set by `setRestMode('api-error')`: AssetPairs answers HTTP 200 with an `error` list. */
  private apiErrors = false;
  private connectionId = 10582265213305127410n;
  private lastMicros = 0;
  private counters = { upgrades: 0, requests: 0, pings: 0, heartbeats: 0, rateLimited: 0, idleCloses: 0, peakInboundPerSecond: 0, assetPairsRequests: 0 };

  static async start(options: KrakenServerOptions = {}): Promise<KrakenServer> {
    return new KrakenServer(await listen(), options);
  }

  private constructor(listening: Listening, private readonly options: KrakenServerOptions) {
    super(listening, 'application/json; charset=utf-8');
    for (const pair of options.pairs ?? KRAKEN_TEST_PAIRS) {
      this.pairs.set(pair.symbol, pair);
      this.tickers.set(pair.symbol, { ...pair.ticker });
    }
    this.wsUrl = this.wsUrlAt('/v2');
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (heartbeatMs > 0) this.timers.interval(heartbeatMs, () => this.heartbeat(heartbeatMs));
  }

  get stats(): KrakenServerStats {
    return { ...this.counters };
  }

  /** Connections subscribed to the symbol's ticker. */
  subscribers(symbol: string): number {
    return this.countClients((client) => client.symbols.has(symbol));
  }

  /**
   * Sends a ticker `update` for the symbol to its subscribers: the current values with
   * `fields` replacing or adding wire fields (a new `last`, a `timestamp`, or a deliberately
   * wrong value). Numeric overrides become the symbol's state. Returns the entry sent and how
   * many connections it reached.
   */
  push(symbol: string, fields: Json = {}): { readonly entry: Json; readonly delivered: number } {
    const state = this.tickers.get(symbol) ?? {};
    const entry = { symbol, ...state, timestamp: this.timestamp(), ...fields };
    for (const [key, value] of Object.entries(fields)) if (typeof value === 'number') state[key] = value;
    const text = JSON.stringify({ channel: 'ticker', type: 'update', data: [entry] });
    return { entry, delivered: this.broadcast(text, (client) => client.symbols.has(symbol)) };
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

  protected override serveHttp(request: IncomingMessage, url: URL, response: ServerResponse): void {
    if (request.method !== 'GET' || url.pathname !== '/0/public/AssetPairs') {
      return this.respondJson(response, 404, { error: ['EGeneral:Unknown method'] });
    }
    this.counters.assetPairsRequests++;
    if (!this.restAvailable) return this.respondJson(response, 503, { error: ['EService:Unavailable'] });
    if (this.apiErrors) return this.respondJson(response, 200, { error: ['EService:Unavailable'], result: {} });
    const result: Record<string, unknown> = {};
    for (const pair of this.pairs.values()) {
      const [base = '', quote = ''] = pair.wsname.split('/');
      result[pair.restKey] = {
        altname: `${base}${quote}`,
        wsname: pair.wsname,
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
        status: pair.status ?? 'online',
      };
    }
    // Dark-pool pairs have no wsname: they cannot be streamed and clients must skip them.
    result.XXBTZUSD_d = { altname: 'XBTUSD.d', aclass_base: 'currency', base: 'XXBT', aclass_quote: 'currency', quote: 'ZUSD', status: 'online' };
    this.respondJson(response, 200, { error: [], result });
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    this.counters.upgrades++;
    return url.pathname === '/v2' ? null : { status: 404 };
  }

  protected override accept(base: LocalClient): Client {
    const client: Client = { ...base, symbols: new Set(), inbound: new ArrivalWindow(1000) };
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
      this.counters.rateLimited++;
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
        if (!client.symbols.delete(symbol)) {
          perSymbolFailure('Subscription Not Found');
          continue;
        }
      } else {
        if (!this.pairs.has(symbol)) {
          perSymbolFailure(`Currency pair not supported ${symbol}`);
          continue;
        }
        if (client.symbols.has(symbol)) {
          perSymbolFailure('Already subscribed');
          continue;
        }
        client.symbols.add(symbol);
      }
      const warnings = this.options.ackWarnings?.length ? { warnings: this.options.ackWarnings } : {};
      this.reply(client, { method, result: { channel: 'ticker', event_trigger: trigger, snapshot, symbol }, ...echo, success: true, ...warnings, time_in: timeIn });
      if (method === 'subscribe' && snapshot) {
        const entry = { symbol, ...this.tickers.get(symbol), timestamp: this.timestamp() };
        this.send(client, JSON.stringify({ channel: 'ticker', type: 'snapshot', data: [entry] }));
      }
    }
  }

  private reply(client: Client, body: Json): void {
    this.send(client, JSON.stringify({ ...body, time_out: this.timestamp() }));
  }

  /** Records one request; true when it is over the per-second limit. */
  private overLimit(client: Client): boolean {
    const inLastSecond = client.inbound.record();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, inLastSecond);
    return inLastSecond > (this.options.maxMessagesPerSecond ?? 10);
  }

  private heartbeat(intervalMs: number): void {
    const now = Date.now();
    for (const client of this.clients) {
      if (client.symbols.size === 0 || now - client.lastSentAt < intervalMs) continue;
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

/** REST asset ids: legacy crypto codes get an X prefix and fiat a Z (`XXBT`, `ZUSD`), newer ones none. */
function restAssetId(code: string): string {
  if (['USD', 'EUR', 'GBP', 'CAD', 'JPY'].includes(code)) return `Z${code}`;
  if (['XBT', 'ETH', 'XDG', 'LTC', 'XRP'].includes(code)) return `X${code}`;
  return code;
}
