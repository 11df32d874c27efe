/**
 * A local exchange that speaks Binance's spot market-stream protocol (binance.md) exactly.
 * It backs `FEEDS=sim` in the product and is the server the ingest tests run against.
 *
 * HTTP + WebSocket on one port (127.0.0.1, port 0 = a free one):
 * - `/stream` (combined: `{"stream":..,"data":..}`), `/stream?streams=a/b`, `/ws` (raw events),
 *   `/ws/<stream>`; any other path is refused with HTTP 404;
 * - control requests SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY
 *   (`combined`), acked `{"result":null,"id":n}`; errors `{"code":n,"msg":"..","id":n}` with
 *   0 unknown property, 1 invalid value type, 2 invalid request, 3 invalid JSON;
 * - like Binance, a subscription to an unknown stream is acked and simply never sends data;
 * - at most 5 inbound frames per second per connection, pings and pongs included: one more
 *   closes the connection with 1008; at most 1024 streams per connection;
 * - a WebSocket ping every 20 s; no pong for 60 s closes the connection; a connection lives
 *   at most 24 h;
 * - a `24hrTicker` per subscribed `<symbol>@ticker` stream whenever its market moves (each
 *   market moves every `tickMs` on average);
 * - `GET /api/v3/exchangeInfo` lists every market with base and quote.
 *
 * Choices where Binance's behaviour is undocumented: a SUBSCRIBE that would pass 1024 streams
 * is refused with code 2 and changes nothing; after `shutdownNotice()` connections are
 * closed with 1001.
 *
 * Test hooks: `push`, `shutdownNotice`, `rejectUpgrades`, `subscribers`, `stats`, and those
 * of every local exchange (`local-exchange-server.ts`): `sendRaw`, `dropConnections`, `stall`,
 * `setRestAvailable` (`exchangeInfo` answers 503), `connections`, `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { isRecord } from '../json-frame';
import { ArrivalWindow } from './arrival-window';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type UpgradeRefusal } from './local-exchange-server';
import { SimMarkets, type BinanceTickerEvent, type SimSymbol } from './sim-markets';

export type { BinanceTickerEvent, SimSymbol } from './sim-markets';
export { simSymbols } from './sim-markets';

export interface BinanceSimOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Markets listed. Default 300. */
  readonly markets?: number;
  /** Average milliseconds between two moves of one market; 0 = markets move only on `push`. Default 1000. */
  readonly tickMs?: number;
  /** Seed of the listing and price paths. Default 1. */
  readonly seed?: number;
  /** Milliseconds between WebSocket pings; 0 = never. Default 20 000. */
  readonly pingIntervalMs?: number;
  /** A connection that has not answered a ping for this long is closed. Default 60 000. */
  readonly pongTimeoutMs?: number;
  /** Inbound frames allowed per second per connection. Default 5. */
  readonly maxMessagesPerSecond?: number;
  /** Default 1024. */
  readonly maxStreamsPerConnection?: number;
  /** Default 24 h. */
  readonly maxConnectionAgeMs?: number;
}

/**
 * Where a feed finds a simulator: what `registry.adapterOptions(config, 'sim', sim)` needs.
 * A running `BinanceSim` is one.
 */
export interface SimEndpoint {
  /** Combined-stream endpoint, `ws://127.0.0.1:<port>/stream`. */
  readonly wsUrl: string;
  /** REST base, `http://127.0.0.1:<port>`. */
  readonly restUrl: string;
  /** Every listed market. */
  readonly symbols: readonly SimSymbol[];
}

export interface SimStats {
  /** WebSocket upgrade requests, refused ones included. */
  readonly upgrades: number;
  readonly refusedUpgrades: number;
  /** Connections closed with 1008 for sending too fast. */
  readonly rateLimitCloses: number;
  readonly pongs: number;
  /** Control requests received (valid or not). */
  readonly requests: number;
  /** Most inbound frames seen on one connection within any one second. */
  readonly peakInboundPerSecond: number;
  readonly exchangeInfoRequests: number;
}

interface Client extends LocalClient {
  combined: boolean;
  readonly streams: Set<string>;
  /** Inbound frames within the last second, pings and pongs included. */
  readonly inbound: ArrivalWindow;
  lastPongAt: number;
}

const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'] as const;
type Method = (typeof METHODS)[number];
type Reply = { readonly result: unknown; readonly id: unknown } | { readonly code: number; readonly msg: string; readonly id?: unknown };

export class BinanceSim extends LocalExchangeServer<Client> implements SimEndpoint {
  /** Combined-stream endpoint. */
  readonly wsUrl: string;
  /** Raw-stream endpoint. */
  readonly rawWsUrl: string;
  readonly symbols: readonly SimSymbol[];

  private readonly markets: SimMarkets;
  private readonly byStream = new Map<string, Set<Client>>();
  private refusal: { readonly status: number; readonly retryAfterSeconds: number | null } | null = null;
  private counters = { upgrades: 0, refusedUpgrades: 0, rateLimitCloses: 0, pongs: 0, requests: 0, peakInboundPerSecond: 0, exchangeInfoRequests: 0 };

  /** Starts a simulator and resolves once it listens. */
  static async start(options: BinanceSimOptions = {}): Promise<BinanceSim> {
    return new BinanceSim(await listen(options), options);
  }

  private constructor(listening: Listening, private readonly options: BinanceSimOptions) {
    super(listening, 'application/json;charset=UTF-8');
    this.markets = new SimMarkets(options.markets ?? 300, options.seed ?? 1);
    this.symbols = this.markets.list;
    this.wsUrl = this.wsUrlAt('/stream');
    this.rawWsUrl = this.wsUrlAt('/ws');
    const tickMs = options.tickMs ?? 1000;
    if (tickMs > 0) this.startTicking(tickMs);
    const pingMs = options.pingIntervalMs ?? 20_000;
    if (pingMs > 0) this.timers.interval(pingMs, () => this.pingAll());
  }

  get stats(): SimStats {
    return { ...this.counters };
  }

  /** Connections subscribed to the symbol's `@ticker` stream. */
  subscribers(symbol: string): number {
    return this.byStream.get(tickerStream(symbol))?.size ?? 0;
  }

  /**
   * Sends the market's current ticker, with `fields` replacing wire fields (`c`, `E`, or a
   * deliberately wrong value), to every connection subscribed to it. Returns the event sent
   * and how many connections it reached.
   */
  push(symbol: string, fields: Readonly<Record<string, unknown>> = {}): { readonly event: Readonly<Record<string, unknown>>; readonly delivered: number } {
    const event = { ...this.markets.event(symbol, Date.now()), ...fields };
    return { event, delivered: this.deliver(tickerStream(symbol), event) };
  }

  /**
   * Sends `serverShutdown` to every connection and closes them (1001) after `closeAfterMs`
   * (default 1000; null leaves them open).
   */
  shutdownNotice(options: { readonly closeAfterMs?: number | null } = {}): void {
    const event = { e: 'serverShutdown', E: Date.now() };
    const notice = (client: Client): string => (client.combined ? JSON.stringify({ stream: '!serverShutdown', data: event }) : JSON.stringify(event));
    this.noticeThenClose(notice, 'server shutdown', options.closeAfterMs);
  }

  /** Refuses new WebSocket upgrades with this HTTP status (and Retry-After); null accepts again. */
  rejectUpgrades(status: number | null, retryAfterSeconds: number | null = null): void {
    this.refusal = status === null ? null : { status, retryAfterSeconds };
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  protected override serveHttp(request: IncomingMessage, url: URL, response: ServerResponse): void {
    if (request.method === 'GET' && url.pathname === '/api/v3/exchangeInfo') {
      this.counters.exchangeInfoRequests++;
      if (!this.restAvailable) return this.respondJson(response, 503, { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' });
      return this.respondJson(response, 200, this.exchangeInfo());
    }
    if (request.method === 'GET' && url.pathname === '/api/v3/ping') return this.respondJson(response, 200, {});
    this.respondJson(response, 404, { code: -1, msg: `Unknown path ${url.pathname}` });
  }

  private exchangeInfo(): unknown {
    return {
      timezone: 'UTC',
      serverTime: Date.now(),
      rateLimits: [],
      exchangeFilters: [],
      symbols: this.symbols.map((s) => ({
        symbol: s.symbol,
        status: 'TRADING',
        baseAsset: s.base,
        baseAssetPrecision: 8,
        quoteAsset: s.quote,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [{ filterType: 'PRICE_FILTER', minPrice: this.markets.tickSize(s.symbol).toFixed(8), maxPrice: '1000000.00000000', tickSize: this.markets.tickSize(s.symbol).toFixed(8) }],
        permissions: [],
      })),
    };
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    this.counters.upgrades++;
    if (this.refusal !== null) {
      this.counters.refusedUpgrades++;
      const { status, retryAfterSeconds } = this.refusal;
      return { status, headers: retryAfterSeconds === null ? {} : { 'Retry-After': String(retryAfterSeconds) } };
    }
    return routeOf(url) === null ? { status: 404 } : null;
  }

  protected override accept(base: LocalClient, url: URL): Client {
    const route = routeOf(url)!; // admit() refused every path without one
    const client: Client = { ...base, combined: route.combined, streams: new Set(), inbound: new ArrivalWindow(1000), lastPongAt: Date.now() };
    for (const stream of route.streams.slice(0, this.maxStreams)) this.addStream(client, stream);
    this.setDeadline(client, this.options.maxConnectionAgeMs ?? 86_400_000, () => client.ws.close(1000, 'connection age limit'));
    client.ws.on('ping', () => this.countInbound(client));
    client.ws.on('pong', () => {
      this.counters.pongs++;
      client.lastPongAt = Date.now();
      this.countInbound(client);
    });
    return client;
  }

  protected override disconnected(client: Client): void {
    for (const stream of client.streams) this.byStream.get(stream)?.delete(client);
  }

  private get maxStreams(): number {
    return this.options.maxStreamsPerConnection ?? 1024;
  }

  /** Records one inbound frame; closes the connection (1008) and returns true when over the limit. */
  private countInbound(client: Client): boolean {
    if (client.ws.readyState !== WebSocket.OPEN) return true;
    const inLastSecond = client.inbound.record();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, inLastSecond);
    if (inLastSecond <= (this.options.maxMessagesPerSecond ?? 5)) return false;
    this.counters.rateLimitCloses++;
    client.ws.close(1008, 'Too many messages');
    return true;
  }

  protected override receive(client: Client, text: string, isBinary: boolean): void {
    if (this.countInbound(client) || client.stalled) return;
    this.counters.requests++;
    this.send(client, JSON.stringify(this.reply(client, isBinary ? null : text)));
  }

  private reply(client: Client, text: string | null): Reply {
    if (text === null) return { code: 3, msg: 'Invalid JSON: expected a text frame' };
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch (err) {
      return { code: 3, msg: `Invalid JSON: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!isRecord(request)) return { code: 2, msg: 'Invalid request: expected a JSON object' };
    const { id, method, params } = request;
    if (id === undefined) return { code: 2, msg: 'Invalid request: missing field `id`' };
    if (!validId(id)) return { code: 2, msg: 'Invalid request: request ID must be an unsigned integer, an alphanumeric string of at most 36 characters, or null' };
    if (method === undefined) return { code: 2, msg: 'Invalid request: missing field `method`', id };
    if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
      return { code: 2, msg: `Invalid request: unknown variant \`${String(method)}\`, expected one of ${METHODS.map((m) => `\`${m}\``).join(', ')}`, id };
    }
    return this.control(client, method as Method, params, id);
  }

  private control(client: Client, method: Method, params: unknown, id: unknown): Reply {
    switch (method) {
      case 'LIST_SUBSCRIPTIONS':
        return { result: [...client.streams], id };
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params) || !params.every((p): p is string => typeof p === 'string')) {
          return { code: 2, msg: 'Invalid request: `params` must be an array of stream names', id };
        }
        if (method === 'UNSUBSCRIBE') {
          for (const stream of params) this.removeStream(client, stream);
          return { result: null, id };
        }
        const added = new Set(params.filter((stream) => !client.streams.has(stream)));
        if (client.streams.size + added.size > this.maxStreams) {
          return { code: 2, msg: `Invalid request: too many streams; at most ${this.maxStreams} per connection`, id };
        }
        for (const stream of added) this.addStream(client, stream);
        return { result: null, id };
      }
      case 'SET_PROPERTY':
      case 'GET_PROPERTY': {
        if (!Array.isArray(params) || typeof params[0] !== 'string') return { code: 2, msg: 'Invalid request: property name must be a string', id };
        if (params[0] !== 'combined') return { code: 0, msg: 'Unknown property', id };
        if (method === 'GET_PROPERTY') return { result: client.combined, id };
        if (typeof params[1] !== 'boolean') return { code: 1, msg: 'Invalid value type: expected Boolean', id };
        client.combined = params[1];
        return { result: null, id };
      }
    }
  }

  private addStream(client: Client, stream: string): void {
    client.streams.add(stream);
    let set = this.byStream.get(stream);
    if (!set) {
      set = new Set();
      this.byStream.set(stream, set);
    }
    set.add(client);
  }

  private removeStream(client: Client, stream: string): void {
    client.streams.delete(stream);
    this.byStream.get(stream)?.delete(client);
  }

  private deliver(stream: string, event: unknown): number {
    const clients = this.byStream.get(stream);
    if (!clients || clients.size === 0) return 0;
    const raw = JSON.stringify(event);
    const combined = `{"stream":${JSON.stringify(stream)},"data":${raw}}`;
    let sent = 0;
    for (const client of clients) if (this.send(client, client.combined ? combined : raw)) sent++;
    return sent;
  }

  private pingAll(): void {
    const now = Date.now();
    const timeout = this.options.pongTimeoutMs ?? 60_000;
    for (const client of this.clients) {
      if (!this.isWritable(client)) continue;
      if (now - client.lastPongAt > timeout) client.ws.terminate();
      else client.ws.ping();
    }
  }

  private startTicking(tickMs: number): void {
    // Every step moves the expected number of markets (count * step / tickMs), so each market
    // moves every tickMs on average whatever the listing size.
    const stepMs = Math.min(100, tickMs);
    const perStep = (this.symbols.length * stepMs) / tickMs;
    let carry = 0;
    this.timers.interval(stepMs, () => {
      carry += perStep;
      const count = Math.floor(carry);
      carry -= count;
      const now = Date.now();
      for (const symbol of this.markets.stepRandom(count)) {
        const stream = tickerStream(symbol);
        if ((this.byStream.get(stream)?.size ?? 0) > 0) this.deliver(stream, this.markets.event(symbol, now));
      }
    });
  }
}

function tickerStream(symbol: string): string {
  return `${symbol.toLowerCase()}@ticker`;
}

function routeOf(url: URL): { readonly combined: boolean; readonly streams: readonly string[] } | null {
  if (url.pathname === '/stream') {
    const streams = url.searchParams.get('streams');
    return { combined: true, streams: streams ? streams.split('/').filter((s) => s !== '') : [] };
  }
  if (url.pathname === '/ws') return { combined: false, streams: [] };
  if (url.pathname.startsWith('/ws/')) {
    return { combined: false, streams: url.pathname.slice(4).split('/').filter((s) => s !== '').map(decodeURIComponent) };
  }
  return null;
}

/** Binance request ids: an unsigned 64-bit integer, an alphanumeric string up to 36 characters, or null. */
function validId(id: unknown): boolean {
  if (id === null) return true;
  if (typeof id === 'number') return Number.isInteger(id) && id >= 0;
  return typeof id === 'string' && /^[A-Za-z0-9]{1,36}$/.test(id);
}
