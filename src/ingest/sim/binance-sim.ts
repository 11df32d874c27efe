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
 * Test hooks: `push`, `sendRaw`, `dropConnections`, `stall`, `shutdownNotice`,
 * `rejectUpgrades`, `setRestAvailable`, `connections`, `stats`, `close`.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { isRecord } from '../json-frame';
import { TimerSet, type TimerHandle } from '../timer-set';
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

interface Client {
  readonly ws: WebSocket;
  combined: boolean;
  readonly streams: Set<string>;
  /** Arrival times of inbound frames within the last second. */
  readonly inbound: number[];
  /** Stalled connections send nothing at all, not even pings or acks. */
  stalled: boolean;
  lastPongAt: number;
  ageTimer: TimerHandle | null;
}

const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'] as const;
type Method = (typeof METHODS)[number];
type Reply = { readonly result: unknown; readonly id: unknown } | { readonly code: number; readonly msg: string; readonly id?: unknown };

export class BinanceSim implements SimEndpoint {
  /** Combined-stream endpoint. */
  readonly wsUrl: string;
  /** Raw-stream endpoint. */
  readonly rawWsUrl: string;
  readonly restUrl: string;
  readonly symbols: readonly SimSymbol[];

  private readonly markets: SimMarkets;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly clients = new Set<Client>();
  private readonly byStream = new Map<string, Set<Client>>();
  private readonly timers = new TimerSet();
  private refusal: { readonly status: number; readonly retryAfterSeconds: number | null } | null = null;
  private restAvailable = true;
  private counters = { upgrades: 0, refusedUpgrades: 0, rateLimitCloses: 0, pongs: 0, requests: 0, peakInboundPerSecond: 0, exchangeInfoRequests: 0 };
  private closing: Promise<void> | null = null;

  /** Starts a simulator and resolves once it listens. */
  static async start(options: BinanceSimOptions = {}): Promise<BinanceSim> {
    const server = createServer();
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    return new BinanceSim(server, host, port, options);
  }

  private constructor(
    private readonly server: Server,
    host: string,
    readonly port: number,
    private readonly options: BinanceSimOptions,
  ) {
    this.markets = new SimMarkets(options.markets ?? 300, options.seed ?? 1);
    this.symbols = this.markets.list;
    this.wsUrl = `ws://${host}:${port}/stream`;
    this.rawWsUrl = `ws://${host}:${port}/ws`;
    this.restUrl = `http://${host}:${port}`;
    server.on('request', (request, response) => this.onHttp(request, response));
    server.on('upgrade', (request, socket, head) => this.onUpgrade(request, socket, head));
    const tickMs = options.tickMs ?? 1000;
    if (tickMs > 0) this.startTicking(tickMs);
    const pingMs = options.pingIntervalMs ?? 20_000;
    if (pingMs > 0) this.timers.interval(pingMs, () => this.pingAll());
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.clients.size;
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

  /** Sends any frame (text, or binary for a Buffer) to every connection. Returns how many got it. */
  sendRaw(data: string | Buffer): number {
    let sent = 0;
    for (const client of this.clients) if (this.send(client, data)) sent++;
    return sent;
  }

  /** Cuts every connection without a close frame, like a network failure. */
  dropConnections(): void {
    for (const client of this.clients) client.ws.terminate();
  }

  /** Current connections go silent (no data, pings or replies); new connections behave normally. */
  stall(): void {
    for (const client of this.clients) client.stalled = true;
  }

  /**
   * Sends `serverShutdown` to every connection and closes them (1001) after `closeAfterMs`
   * (default 1000; null leaves them open).
   */
  shutdownNotice(options: { readonly closeAfterMs?: number | null } = {}): void {
    const closeAfterMs = options.closeAfterMs === undefined ? 1000 : options.closeAfterMs;
    const event = { e: 'serverShutdown', E: Date.now() };
    for (const client of this.clients) {
      const text = client.combined ? JSON.stringify({ stream: '!serverShutdown', data: event }) : JSON.stringify(event);
      this.send(client, text);
      if (closeAfterMs !== null) this.timers.timeout(closeAfterMs, () => client.ws.close(1001, 'server shutdown'));
    }
  }

  /** Refuses new WebSocket upgrades with this HTTP status (and Retry-After); null accepts again. */
  rejectUpgrades(status: number | null, retryAfterSeconds: number | null = null): void {
    this.refusal = status === null ? null : { status, retryAfterSeconds };
  }

  /** When false, `exchangeInfo` answers 503. */
  setRestAvailable(available: boolean): void {
    this.restAvailable = available;
  }

  /** Stops every timer, cuts every connection and stops listening. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.timers.clearAll();
    const closed = [...this.clients].map((client) => new Promise<void>((resolve) => {
      if (client.ws.readyState === WebSocket.CLOSED) resolve();
      else client.ws.once('close', () => resolve());
    }));
    for (const client of this.clients) client.ws.terminate();
    await Promise.all(closed);
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private onHttp(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://sim');
    if (request.method === 'GET' && url.pathname === '/api/v3/exchangeInfo') {
      this.counters.exchangeInfoRequests++;
      if (!this.restAvailable) return json(response, 503, { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' });
      return json(response, 200, this.exchangeInfo());
    }
    if (request.method === 'GET' && url.pathname === '/api/v3/ping') return json(response, 200, {});
    json(response, 404, { code: -1, msg: `Unknown path ${url.pathname}` });
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

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.counters.upgrades++;
    socket.on('error', () => socket.destroy());
    if (this.refusal !== null) {
      this.counters.refusedUpgrades++;
      const { status, retryAfterSeconds } = this.refusal;
      return refuse(socket, status, retryAfterSeconds === null ? {} : { 'Retry-After': String(retryAfterSeconds) });
    }
    const url = new URL(request.url ?? '/', 'http://sim');
    const route = routeOf(url);
    if (route === null) return refuse(socket, 404, {});
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, route.combined, route.streams));
  }

  private accept(ws: WebSocket, combined: boolean, streams: readonly string[]): void {
    const client: Client = { ws, combined, streams: new Set(), inbound: [], stalled: false, lastPongAt: Date.now(), ageTimer: null };
    this.clients.add(client);
    for (const stream of streams.slice(0, this.maxStreams)) this.addStream(client, stream);
    client.ageTimer = this.timers.timeout(this.options.maxConnectionAgeMs ?? 86_400_000, () => ws.close(1000, 'connection age limit'));
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('ping', () => this.countInbound(client));
    ws.on('pong', () => {
      this.counters.pongs++;
      client.lastPongAt = Date.now();
      this.countInbound(client);
    });
    ws.on('error', () => undefined); // a reset client; 'close' follows
    ws.on('close', () => {
      this.timers.clear(client.ageTimer);
      for (const stream of client.streams) this.byStream.get(stream)?.delete(client);
      this.clients.delete(client);
    });
  }

  private get maxStreams(): number {
    return this.options.maxStreamsPerConnection ?? 1024;
  }

  /** Records one inbound frame; closes the connection (1008) and returns true when over the limit. */
  private countInbound(client: Client): boolean {
    if (client.ws.readyState !== WebSocket.OPEN) return true;
    const now = Date.now();
    client.inbound.push(now);
    while (client.inbound.length > 0 && client.inbound[0]! <= now - 1000) client.inbound.shift();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, client.inbound.length);
    if (client.inbound.length <= (this.options.maxMessagesPerSecond ?? 5)) return false;
    this.counters.rateLimitCloses++;
    client.ws.close(1008, 'Too many messages');
    return true;
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    if (this.countInbound(client) || client.stalled) return;
    this.counters.requests++;
    const text = isBinary ? null : rawText(data);
    this.send(client, JSON.stringify(this.reply(client, text)));
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

  private send(client: Client, data: string | Buffer): boolean {
    if (client.stalled || client.ws.readyState !== WebSocket.OPEN) return false;
    client.ws.send(data, { binary: typeof data !== 'string' });
    return true;
  }

  private pingAll(): void {
    const now = Date.now();
    const timeout = this.options.pongTimeoutMs ?? 60_000;
    for (const client of this.clients) {
      if (client.stalled || client.ws.readyState !== WebSocket.OPEN) continue;
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

function refuse(socket: Duplex, status: number, headers: Readonly<Record<string, string>>): void {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Connection: close', 'Content-Length: 0'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
