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
 * - like Binance, a subscription to a stream of a market that is not listed, or not trading,
 *   is acked and simply never sends data;
 * - a `24hrTicker` per subscribed `<symbol>@ticker` stream whenever its market moves: each
 *   subscribed market every `tickMs` on average, or at the total rate `startTicking` sets; with
 *   `snapshotOnSubscribe`, a newly subscribed trading market's current ticker right after the
 *   ack (Binance's ticker stream pushes within a second);
 * - a WebSocket ping every 20 s; no pong for 60 s closes the connection; a connection lives
 *   at most 24 h;
 * - `GET /api/v3/exchangeInfo` lists every market in `symbols[]` with `status` (`TRADING`, or
 *   `BREAK` once delisted), `baseAsset` and `quoteAsset`; `symbolStatus=` filters by status and
 *   `showPermissionSets=false` leaves out `permissionSets`, as on Binance.
 *
 * Limits, Binance's values by default, each breach recorded in `breaches`:
 * - 300 connection attempts per 5 minutes per IP: HTTP 429 with `Retry-After` (seconds);
 * - 5 inbound frames per second per connection, pings and pongs included: one more closes the
 *   connection with 1008;
 * - 1024 streams per connection: a SUBSCRIBE that would pass it is refused with code 2 and
 *   changes nothing; streams named in the URL beyond it are left out.
 *
 * Choices where Binance's behaviour is undocumented: the refusal of a SUBSCRIBE over 1024
 * streams (code 2) and the truncation of URL streams; after `shutdownNotice()` connections
 * are closed with 1001.
 *
 * Test hooks: `push`, `shutdownNotice`, `rejectUpgrades`, `subscribers`, `stats`, and those
 * of every local exchange (`local-exchange-server.ts`): the listing (`setListing`, `list`,
 * `delist`, `setListingBody`, `listingRequests`), `startTicking`/`stopTicking`, `breaches`,
 * `sendRaw`, `dropConnections`, `stall`, `setRestAvailable` (`exchangeInfo` answers 503),
 * `connections`, `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { isRecord } from '../json-frame';
import { ArrivalWindow } from './arrival-window';
import { listingFrom, SPELLINGS, type LocalMarket, type ListingOption } from './listing';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type RateLimit, type UpgradeRefusal } from './local-exchange-server';
import { SimMarkets, type BinanceTickerEvent, type SimSymbol } from './sim-markets';

export type { BinanceTickerEvent, SimSymbol } from './sim-markets';
export { simSymbols } from './sim-markets';

export interface BinanceSimOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** This many markets of the simulator's real-looking listing (BTCUSDT, ETHBTC, ... then synthetic ones). Default 300. */
  readonly markets?: number;
  /** Instead of `markets`: that many synthetic markets (`listing.ts`), or exactly these. */
  readonly listing?: ListingOption;
  /** Average milliseconds between two moves of one subscribed market; 0 = markets move only on `push` or `startTicking`. Default 1000. */
  readonly tickMs?: number;
  /** Send a newly subscribed trading market's current ticker right after the ack. Default false: only moves send data. */
  readonly snapshotOnSubscribe?: boolean;
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
  /** WebSocket upgrades per IP. Default 300 per 5 minutes. */
  readonly connectionLimit?: RateLimit;
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
  /** Every trading market. */
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

const DEFAULT_MARKETS = 300;
/** Binance: 300 connections per 5 minutes per IP. */
const CONNECTION_LIMIT: RateLimit = { max: 300, windowMs: 300_000 };

export class BinanceSim extends LocalExchangeServer<Client> implements SimEndpoint {
  /** Combined-stream endpoint. */
  readonly wsUrl: string;
  /** Raw-stream endpoint. */
  readonly rawWsUrl: string;

  protected readonly listingPath = '/api/v3/exchangeInfo';
  private readonly markets: SimMarkets;
  private refusal: { readonly status: number; readonly retryAfterSeconds: number | null } | null = null;
  private counters = { rateLimitCloses: 0, pongs: 0, requests: 0, peakInboundPerSecond: 0 };

  /** Starts a simulator and resolves once it listens. */
  static async start(options: BinanceSimOptions = {}): Promise<BinanceSim> {
    return new BinanceSim(await listen(options), options);
  }

  private constructor(listening: Listening, private readonly options: BinanceSimOptions) {
    if (options.markets !== undefined && options.listing !== undefined) throw new Error('give either markets or listing, not both');
    const seed = options.seed ?? 1;
    const markets = new SimMarkets(options.listing === undefined ? (options.markets ?? DEFAULT_MARKETS) : 0, seed);
    const listing = listingFrom(options.listing, SPELLINGS.binance, () => markets.list.map((s): LocalMarket => ({ ...s, trading: true })));
    super(listening, { jsonContentType: 'application/json;charset=UTF-8', listing, connectionLimit: options.connectionLimit ?? CONNECTION_LIMIT, seed });
    this.markets = markets;
    this.wsUrl = this.wsUrlAt('/stream');
    this.rawWsUrl = this.wsUrlAt('/ws');
    const tickMs = options.tickMs ?? 1000;
    if (tickMs > 0) this.tickAt(() => (this.subscribedSymbolCount * 1000) / tickMs);
    const pingMs = options.pingIntervalMs ?? 20_000;
    if (pingMs > 0) this.timers.interval(pingMs, () => this.pingAll());
  }

  /** Every trading market. */
  get symbols(): readonly SimSymbol[] {
    return this.listing.filter((m) => m.trading).map(({ symbol, base, quote }) => ({ symbol, base, quote }));
  }

  get stats(): SimStats {
    return { ...this.upgradeStats, ...this.counters, exchangeInfoRequests: this.listingRequests };
  }

  /** Connections subscribed to the symbol's `@ticker` stream. */
  subscribers(symbol: string): number {
    return this.tickerSubscribers(symbol).size;
  }

  /**
   * Sends the market's current ticker, with `fields` replacing wire fields (`c`, `E`, or a
   * deliberately wrong value), to every connection subscribed to it. Returns the event sent
   * and how many connections it reached. Throws for a market that is not listed.
   */
  push(symbol: string, fields: Readonly<Record<string, unknown>> = {}): { readonly event: Readonly<Record<string, unknown>>; readonly delivered: number } {
    const event = { ...this.eventOf(symbol, Date.now()), ...fields };
    return { event, delivered: this.deliver(symbol, event, this.tickerSubscribers(symbol)) };
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

  protected override serveListing(url: URL, response: ServerResponse): void {
    const status = url.searchParams.get('symbolStatus');
    const permissionSets = url.searchParams.get('showPermissionSets') !== 'false';
    const symbols: unknown[] = [];
    for (const market of this.listing) {
      const entry = this.exchangeInfoEntry(market, permissionSets);
      if (status === null || entry.status === status) symbols.push(entry);
    }
    this.respondJson(response, 200, { timezone: 'UTC', serverTime: Date.now(), rateLimits: [], exchangeFilters: [], symbols });
  }

  protected override listingUnavailable(response: ServerResponse): void {
    this.respondJson(response, 503, { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' });
  }

  protected override serveHttp(request: IncomingMessage, url: URL, response: ServerResponse): void {
    if (request.method === 'GET' && url.pathname === '/api/v3/ping') return this.respondJson(response, 200, {});
    this.respondJson(response, 404, { code: -1, msg: `Unknown path ${url.pathname}` });
  }

  private exchangeInfoEntry(market: LocalMarket, permissionSets: boolean): { readonly status: string } & Record<string, unknown> {
    const tick = this.state(market).tickSize(market.symbol).toFixed(8);
    return {
      symbol: market.symbol,
      status: market.status ?? (market.trading ? 'TRADING' : 'BREAK'),
      baseAsset: market.base,
      baseAssetPrecision: 8,
      quoteAsset: market.quote,
      quotePrecision: 8,
      quoteAssetPrecision: 8,
      isSpotTradingAllowed: market.trading,
      isMarginTradingAllowed: false,
      filters: [{ filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: '1000000.00000000', tickSize: tick }],
      permissions: [],
      ...(permissionSets ? { permissionSets: [['SPOT']] } : {}),
    };
  }

  /** The price paths, with a path started for a market listed since. */
  private state(market: LocalMarket): SimMarkets {
    this.markets.add(market);
    return this.markets;
  }

  private eventOf(symbol: string, now: number): BinanceTickerEvent {
    const market = this.listed(symbol);
    if (!market) throw new Error(`the simulator does not list ${symbol}`);
    return this.state(market).event(symbol, now);
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override connectionRefusal(retryAfterMs: number): UpgradeRefusal {
    return { status: 429, headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } };
  }

  protected override admit(url: URL): UpgradeRefusal | null {
    if (this.refusal !== null) {
      const { status, retryAfterSeconds } = this.refusal;
      return { status, headers: retryAfterSeconds === null ? {} : { 'Retry-After': String(retryAfterSeconds) } };
    }
    return routeOf(url) === null ? { status: 404 } : null;
  }

  protected override accept(base: LocalClient, url: URL): Client {
    const route = routeOf(url)!; // admit() refused every path without one
    const client: Client = { ...base, combined: route.combined, streams: new Set(), inbound: new ArrivalWindow(1000), lastPongAt: Date.now() };
    const streams = [...new Set(route.streams)];
    if (streams.length > this.maxStreams) {
      this.breach('streams per connection', `${streams.length} streams in the URL; at most ${this.maxStreams} per connection, the rest left out`);
    }
    const added = streams.slice(0, this.maxStreams);
    for (const stream of added) this.addStream(client, stream);
    this.setDeadline(client, this.options.maxConnectionAgeMs ?? 86_400_000, () => client.ws.close(1000, 'connection age limit'));
    client.ws.on('ping', () => this.countInbound(client));
    client.ws.on('pong', () => {
      this.counters.pongs++;
      client.lastPongAt = Date.now();
      this.countInbound(client);
    });
    this.sendSnapshots(client, added);
    return client;
  }

  private get maxStreams(): number {
    return this.options.maxStreamsPerConnection ?? 1024;
  }

  /** Records one inbound frame; closes the connection (1008) and returns true when over the limit. */
  private countInbound(client: Client): boolean {
    if (client.ws.readyState !== WebSocket.OPEN) return true;
    const inLastSecond = client.inbound.record();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, inLastSecond);
    const max = this.options.maxMessagesPerSecond ?? 5;
    if (inLastSecond <= max) return false;
    this.counters.rateLimitCloses++;
    this.breach('messages per second', `${inLastSecond} frames within 1000 ms on one connection; at most ${max}`);
    client.ws.close(1008, 'Too many messages');
    return true;
  }

  protected override receive(client: Client, text: string, isBinary: boolean): void {
    if (this.countInbound(client) || client.stalled) return;
    this.counters.requests++;
    const added: string[] = [];
    this.send(client, JSON.stringify(this.reply(client, isBinary ? null : text, added)));
    this.sendSnapshots(client, added);
  }

  /** The reply to one request; streams a SUBSCRIBE added are appended to `added`. */
  private reply(client: Client, text: string | null, added: string[]): Reply {
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
    return this.control(client, method as Method, params, id, added);
  }

  private control(client: Client, method: Method, params: unknown, id: unknown, added: string[]): Reply {
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
        const fresh = [...new Set(params.filter((stream) => !client.streams.has(stream)))];
        if (client.streams.size + fresh.length > this.maxStreams) {
          this.breach('streams per connection', `SUBSCRIBE to ${fresh.length} more streams on a connection with ${client.streams.size}; at most ${this.maxStreams}`);
          return { code: 2, msg: `Invalid request: too many streams; at most ${this.maxStreams} per connection`, id };
        }
        for (const stream of fresh) this.addStream(client, stream);
        added.push(...fresh);
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
    const symbol = symbolOfTickerStream(stream);
    if (symbol !== null) this.subscribeTicker(client, symbol);
  }

  private removeStream(client: Client, stream: string): void {
    client.streams.delete(stream);
    const symbol = symbolOfTickerStream(stream);
    if (symbol !== null) this.unsubscribeTicker(client, symbol);
  }

  /** With `snapshotOnSubscribe`: the current ticker of each trading market among the new `streams`. */
  private sendSnapshots(client: Client, streams: readonly string[]): void {
    if (this.options.snapshotOnSubscribe !== true) return;
    const now = Date.now();
    for (const stream of streams) {
      const symbol = symbolOfTickerStream(stream);
      if (symbol !== null && this.isTrading(symbol)) this.deliver(symbol, this.eventOf(symbol, now), [client]);
    }
  }

  protected override sendTick(symbol: string, subscribers: ReadonlySet<Client>, now: number): void {
    const markets = this.state(this.listed(symbol)!);
    markets.step(symbol);
    this.deliver(symbol, markets.event(symbol, now), subscribers);
  }

  /** Sends a ticker event to `clients`, each in its framing; the frames are serialized once. */
  private deliver(symbol: string, event: unknown, clients: Iterable<Client>): number {
    const raw = JSON.stringify(event);
    const combined = `{"stream":${JSON.stringify(tickerStream(symbol))},"data":${raw}}`;
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
}

function tickerStream(symbol: string): string {
  return `${symbol.toLowerCase()}@ticker`;
}

/** `BTCUSDT` for `btcusdt@ticker`; null for any other stream (Binance stream names are lower case). */
function symbolOfTickerStream(stream: string): string | null {
  if (!stream.endsWith('@ticker')) return null;
  const name = stream.slice(0, -'@ticker'.length);
  return name !== '' && name === name.toLowerCase() ? name.toUpperCase() : null;
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
