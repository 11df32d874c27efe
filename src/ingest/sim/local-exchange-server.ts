/**
 * What every local exchange server shares, whatever protocol it speaks: HTTP and WebSocket on
 * one port, the set of open connections, the listing of markets, the ticker subscriptions, the
 * connection-attempt limit, the record of limit breaches, the ticking generator, and the faults
 * tests inject. `BinanceSim` (which also backs `FEEDS=sim`) and the test servers in
 * `test/support/exchanges/` extend it; everything an exchange defines (paths, frames, the shape
 * of its listing, its other limits, heartbeats, error bodies) stays in its subclass.
 *
 * A base class rather than a helper object because the shared part is mostly public surface:
 * every server offers the same test hooks with the same meaning, so they are written and
 * documented once, here:
 * - `sendRaw(data)`: any frame to every connection; `dropConnections()`: a network failure;
 * - `stall()`: open connections go silent, sending nothing at all (data, replies, pings,
 *   heartbeats) until they close, so a client's silence watchdog can be tested; connections
 *   opened later behave normally;
 * - the listing, mutable while running: `listing`, `setListing(entries)`, `list(entry)`,
 *   `delist(symbol)` (the market stays listed with the exchange's non-trading status),
 *   `setListingBody(text | null)` (the listing route answers exactly this text, HTTP 200;
 *   null restores the real answer), `listingRequests`; `setRestAvailable(false)`: the listing
 *   route answers the exchange's "unavailable" error;
 * - `startTicking({ updatesPerSecond })` / `stopTicking()`: ticker updates of random subscribed
 *   trading markets at that total rate, each market moving on the shared random walk
 *   (`market-prices.ts`) and sent to every connection subscribed to it; `ticks` counts them;
 * - `breaches`: every time a client broke one of the exchange's limits (what the exchange does
 *   about it, an error frame, a close or a refusal, is done too), so a test can assert none;
 * - `connections`, `port`, `restUrl`, and `close()`: stops every timer, cuts every connection
 *   and stops listening (calling it again returns the same promise).
 *
 * Connection attempts are limited per client IP here for every exchange (`connectionLimit`):
 * every WebSocket upgrade counts, refused ones included, and one over the limit is refused with
 * HTTP 429 (`connectionRefusal` adds an exchange's headers) and recorded as a breach.
 *
 * A subclass has a private constructor taking `Listening` and a `static start(options)` that
 * awaits `listen(options)` first, and implements:
 * - `admit(url)`: vets a WebSocket upgrade that passed the attempt limit: null accepts, else
 *   the HTTP refusal;
 * - `accept(base, url)`: the new connection's protocol state (`{ ...base, ... }`), its
 *   deadline and any greeting;
 * - `receive(client, text, isBinary)`: one inbound frame (a binary one decoded as UTF-8 too);
 * - `listingPath`, `serveListing(url, response)` and `listingUnavailable(response)`: the REST
 *   listing route, its normal answer and its "unavailable" error;
 * - `serveHttp(request, url, response)`: every other HTTP request; answer with `respondJson`;
 * - `sendTick(symbol, subscribers, now)`: moves the market one step and sends its update.
 * Ticker subscriptions are kept here (`subscribeTicker`, `unsubscribeTicker`,
 * `tickerSubscribers`), so ticking can pick among them; they end with the connection.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { TimerSet, type TimerHandle } from '../timer-set';
import { ArrivalWindow } from './arrival-window';
import type { LocalMarket } from './listing';
import { createPrng, type Prng } from './prng';

/** A started HTTP server and the address it listens on. */
export interface Listening {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
}

/** Starts an HTTP server on `host` (default 127.0.0.1) and `port` (default 0: a free one); resolves once it listens. */
export async function listen(options: { readonly host?: string; readonly port?: number } = {}): Promise<Listening> {
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
  return { server, host, port };
}

/** What every connection has; a server's own connection type extends it. */
export interface LocalClient {
  readonly ws: WebSocket;
  /** The client's IP address, what per-IP limits count by. */
  readonly ip: string;
  /** Set by `stall()`; `send` then refuses everything. */
  stalled: boolean;
  /** Epoch ms of the last frame `send` wrote, or of the connection's start: what server-side idle limits measure. */
  lastSentAt: number;
}

/** How an upgrade is turned away: the HTTP status and any extra headers (`Retry-After`). */
export interface UpgradeRefusal {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** At most `max` events within any `windowMs` milliseconds. */
export interface RateLimit {
  readonly max: number;
  readonly windowMs: number;
}

/** Every limit a local exchange enforces, by name; `Breach.limit` is one of these. */
export type LimitName =
  /** Every exchange: WebSocket upgrades per client IP within a window. */
  | 'connection attempts per IP'
  /** Binance and Kraken per connection, Coinbase per IP. */
  | 'messages per second'
  /** Binance: streams on one connection. */
  | 'streams per connection'
  /** Bybit: topics in one subscribe request. */
  | 'args per request'
  /** Bybit: characters of every subscribed topic on one connection. */
  | 'args characters per connection'
  /** OKX: bytes of `args` in one request. */
  | 'args bytes per request'
  /** OKX: subscribe and unsubscribe requests on one connection within an hour. */
  | 'subscribe operations per hour';

/** One time a client broke a limit. */
export interface Breach {
  readonly limit: LimitName;
  /** What happened, with the numbers: `6 messages within 1000 ms on one connection; at most 5`. */
  readonly detail: string;
  /** Epoch ms. */
  readonly at: number;
}

/** A listing entry as `list` takes it: trading unless it says otherwise. */
export type ListingEntry = Omit<LocalMarket, 'trading'> & { readonly trading?: boolean };

/** What every local exchange is built with, besides where it listens. */
export interface ExchangeSettings {
  /** The `content-type` of JSON responses, spelled as the real exchange sends it. */
  readonly jsonContentType: string;
  /** The markets listed at start, in listing order. */
  readonly listing: readonly LocalMarket[];
  readonly connectionLimit: RateLimit;
  /** Seed of the ticking generator's choice of markets. Default 1. */
  readonly seed?: number;
}

/** How often the ticking generator sends its batch. */
const TICK_STEP_MS = 10;
/** After a stall (GC, a busy core) at most this much of a second's updates is sent at once. */
const MAX_CATCH_UP_S = 0.1;
const NO_CLIENTS: ReadonlySet<never> = new Set();

export abstract class LocalExchangeServer<C extends LocalClient> {
  readonly port: number;
  /** REST base, `http://<host>:<port>`. */
  readonly restUrl: string;

  protected readonly clients = new Set<C>();
  /** Every timer the server runs, so `close()` can stop them all. */
  protected readonly timers = new TimerSet();
  /** Flipped by `setRestAvailable`; the listing route answers `listingUnavailable` while false. */
  protected restAvailable = true;
  /** The server's own randomness (seeded): which markets ticking moves, and how. */
  protected readonly random: Prng;
  /** The REST route that lists the markets, e.g. `/api/v3/exchangeInfo`. */
  protected abstract readonly listingPath: string;

  private readonly server: Server;
  private readonly host: string;
  private readonly jsonContentType: string;
  private readonly connectionLimit: RateLimit;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly deadlines = new Map<C, TimerHandle>();
  private closing: Promise<void> | null = null;

  private listedMarkets = new Map<string, LocalMarket>();
  private listingBody: string | null = null;
  private listingRequestCount = 0;

  private readonly attemptsByIp = new Map<string, ArrivalWindow>();
  private upgradeCounts = { upgrades: 0, refusedUpgrades: 0 };
  private readonly breachList: Breach[] = [];

  /** Native symbol -> connections subscribed to its ticker. */
  private readonly tickerSubs = new Map<string, Set<C>>();
  /** Connection -> the symbols whose ticker it subscribed. */
  private readonly symbolsByClient = new Map<C, Set<string>>();
  /** Every symbol with at least one ticker subscriber, for picking one at random. */
  private readonly subscribedSymbols: string[] = [];
  private readonly subscribedIndex = new Map<string, number>();
  private tickTimer: TimerHandle | null = null;
  private tickCount = 0;

  protected constructor(listening: Listening, settings: ExchangeSettings) {
    this.server = listening.server;
    this.host = listening.host;
    this.port = listening.port;
    this.restUrl = `http://${this.host}:${this.port}`;
    this.jsonContentType = settings.jsonContentType;
    this.connectionLimit = settings.connectionLimit;
    this.random = createPrng(settings.seed ?? 1);
    this.setListing(settings.listing);
    this.server.on('request', (request, response) => this.onRequest(request, response));
    this.server.on('upgrade', (request, socket, head) => this.onUpgrade(request, socket, head));
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.clients.size;
  }

  /** Every limit breach so far, oldest first. Empty for a client that kept every limit. */
  get breaches(): readonly Breach[] {
    return [...this.breachList];
  }

  /** Every listed market, trading or not, in listing order. */
  get listing(): readonly LocalMarket[] {
    return [...this.listedMarkets.values()];
  }

  /** Requests to the listing route, answered or not. */
  get listingRequests(): number {
    return this.listingRequestCount;
  }

  /** Ticker updates the ticking generator has sent (each to every subscriber of its market). */
  get ticks(): number {
    return this.tickCount;
  }

  /** Replaces the whole listing; the next listing request reads it. Subscriptions stay as they are. */
  setListing(entries: readonly LocalMarket[]): void {
    this.listedMarkets = new Map(entries.map((entry) => [entry.symbol, entry]));
  }

  /** Lists a market, trading unless `entry.trading` is false; one already listed is replaced in place. */
  list(entry: ListingEntry): void {
    this.listedMarkets.set(entry.symbol, { ...entry, trading: entry.trading ?? true });
  }

  /** The market stays listed, with the exchange's non-trading status, and stops moving. Throws for a symbol not listed. */
  delist(symbol: string): void {
    const market = this.listedMarkets.get(symbol);
    if (!market) throw new Error(`${symbol} is not listed`);
    this.listedMarkets.set(symbol, { symbol, base: market.base, quote: market.quote, trading: false });
  }

  /** The listing route answers exactly `raw` (HTTP 200, JSON content type) until called with null. */
  setListingBody(raw: string | null): void {
    this.listingBody = raw;
  }

  /** Sends any frame (text, or binary for a Buffer) to every connection. Returns how many got it. */
  sendRaw(data: string | Buffer): number {
    return this.broadcast(data);
  }

  /** Cuts every connection without a close frame, like a network failure. */
  dropConnections(): void {
    for (const client of this.clients) client.ws.terminate();
  }

  /** Current connections go silent (no data, replies, pings or heartbeats); new ones behave normally. */
  stall(): void {
    for (const client of this.clients) client.stalled = true;
  }

  /** When false, the listing route answers the exchange's "unavailable" error. */
  setRestAvailable(available: boolean): void {
    this.restAvailable = available;
  }

  /**
   * Sends `updatesPerSecond` ticker updates per second in all, each for a market picked at
   * random among those with a ticker subscriber (a pick that is not trading sends nothing),
   * moved one step; replaces any earlier ticking. Sent in batches every 10 ms.
   */
  startTicking(options: { readonly updatesPerSecond: number }): void {
    const { updatesPerSecond } = options;
    if (!Number.isFinite(updatesPerSecond) || updatesPerSecond < 0) throw new RangeError(`updatesPerSecond must be a finite number >= 0, got ${updatesPerSecond}`);
    this.tickAt(() => updatesPerSecond);
  }

  stopTicking(): void {
    this.timers.clear(this.tickTimer);
    this.tickTimer = null;
  }

  /** Stops every timer, cuts every connection and stops listening. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Vets a WebSocket upgrade that passed the attempt limit: null accepts it, else how to refuse it. */
  protected abstract admit(url: URL): UpgradeRefusal | null;

  /**
   * Builds an accepted connection's state from `base` (spread it into the result), and starts
   * what a new connection starts: its deadline, a greeting. The result is what the other hooks get.
   */
  protected abstract accept(base: LocalClient, url: URL): C;

  /** One inbound frame; `text` is the frame as UTF-8 even when `isBinary`. */
  protected abstract receive(client: C, text: string, isBinary: boolean): void;

  /** The listing route's normal answer (the route, counting and the hooks above are handled already). */
  protected abstract serveListing(url: URL, response: ServerResponse): void;

  /** The listing route's answer while `setRestAvailable(false)`. */
  protected abstract listingUnavailable(response: ServerResponse): void;

  /** Answers every HTTP request other than the listing route, through `respondJson`. */
  protected abstract serveHttp(request: IncomingMessage, url: URL, response: ServerResponse): void;

  /** Moves the (trading) market one step and sends its ticker update to `subscribers`. */
  protected abstract sendTick(symbol: string, subscribers: ReadonlySet<C>, now: number): void;

  /** Called once a connection has closed and left `clients` and its ticker subscriptions. */
  protected disconnected(_client: C): void {}

  /** How an upgrade over the attempt limit is refused: HTTP 429; `retryAfterMs` until a slot frees. */
  protected connectionRefusal(_retryAfterMs: number): UpgradeRefusal {
    return { status: 429 };
  }

  /** Records a limit breach; the caller does what the exchange does about it. */
  protected breach(limit: LimitName, detail: string): void {
    this.breachList.push({ limit, detail, at: Date.now() });
  }

  /** Upgrade requests (refused ones included) and refusals, for the servers' `stats`. */
  protected get upgradeStats(): { readonly upgrades: number; readonly refusedUpgrades: number } {
    return { ...this.upgradeCounts };
  }

  protected listed(symbol: string): LocalMarket | undefined {
    return this.listedMarkets.get(symbol);
  }

  protected isTrading(symbol: string): boolean {
    return this.listedMarkets.get(symbol)?.trading === true;
  }

  /** Adds a ticker subscription; false when the connection had it already. */
  protected subscribeTicker(client: C, symbol: string): boolean {
    let subscribers = this.tickerSubs.get(symbol);
    if (subscribers?.has(client)) return false;
    if (!subscribers) {
      subscribers = new Set();
      this.tickerSubs.set(symbol, subscribers);
      this.subscribedIndex.set(symbol, this.subscribedSymbols.length);
      this.subscribedSymbols.push(symbol);
    }
    subscribers.add(client);
    let symbols = this.symbolsByClient.get(client);
    if (!symbols) {
      symbols = new Set();
      this.symbolsByClient.set(client, symbols);
    }
    symbols.add(symbol);
    return true;
  }

  /** Removes a ticker subscription; false when the connection did not have it. */
  protected unsubscribeTicker(client: C, symbol: string): boolean {
    const subscribers = this.tickerSubs.get(symbol);
    if (!subscribers?.delete(client)) return false;
    this.symbolsByClient.get(client)?.delete(symbol);
    if (subscribers.size === 0) {
      this.tickerSubs.delete(symbol);
      // Swap-remove, so picking at random stays one array lookup.
      const index = this.subscribedIndex.get(symbol)!;
      const last = this.subscribedSymbols.pop()!;
      if (last !== symbol) {
        this.subscribedSymbols[index] = last;
        this.subscribedIndex.set(last, index);
      }
      this.subscribedIndex.delete(symbol);
    }
    return true;
  }

  /** Connections subscribed to the symbol's ticker. */
  protected tickerSubscribers(symbol: string): ReadonlySet<C> {
    return this.tickerSubs.get(symbol) ?? NO_CLIENTS;
  }

  /** The symbols whose ticker the connection subscribed, in subscription order. */
  protected tickerSymbols(client: C): ReadonlySet<string> {
    return this.symbolsByClient.get(client) ?? NO_CLIENTS;
  }

  /** Symbols with at least one ticker subscriber. */
  protected get subscribedSymbolCount(): number {
    return this.subscribedSymbols.length;
  }

  /**
   * Runs the ticking generator at `rate()` updates per second, read again for every batch (so a
   * rate may follow the number of subscribed markets); replaces any earlier ticking.
   */
  protected tickAt(rate: () => number): void {
    this.stopTicking();
    let last = Date.now();
    let owed = 0;
    this.tickTimer = this.timers.interval(TICK_STEP_MS, () => {
      const now = Date.now();
      const perSecond = rate();
      owed = Math.min(owed + ((now - last) / 1000) * perSecond, Math.max(perSecond * MAX_CATCH_UP_S, 1));
      last = now;
      const due = Math.floor(owed);
      owed -= due;
      for (let i = 0; i < due && this.subscribedSymbols.length > 0; i++) {
        const symbol = this.subscribedSymbols[Math.floor(this.random() * this.subscribedSymbols.length)]!;
        if (!this.isTrading(symbol)) continue;
        this.sendTick(symbol, this.tickerSubs.get(symbol)!, now);
        this.tickCount++;
      }
    });
  }

  /** `ws://<host>:<port><path>`. */
  protected wsUrlAt(path: string): string {
    return `ws://${this.host}:${this.port}${path}`;
  }

  /** False for a stalled connection, or one that is not open. */
  protected isWritable(client: C): boolean {
    return !client.stalled && client.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one frame (binary for a Buffer); false, sending nothing, when the connection cannot take it. */
  protected send(client: C, data: string | Buffer): boolean {
    if (!this.isWritable(client)) return false;
    client.ws.send(data, { binary: typeof data !== 'string' });
    client.lastSentAt = Date.now();
    return true;
  }

  /** Sends one frame to each of `clients`. Returns how many got it. */
  protected sendEach(clients: Iterable<C>, data: string | Buffer): number {
    let sent = 0;
    for (const client of clients) if (this.send(client, data)) sent++;
    return sent;
  }

  /** Sends one frame to every connection `to` selects (default: all). Returns how many got it. */
  protected broadcast(data: string | Buffer, to: (client: C) => boolean = () => true): number {
    let sent = 0;
    for (const client of this.clients) if (to(client) && this.send(client, data)) sent++;
    return sent;
  }

  /** Connections `where` selects. */
  protected countClients(where: (client: C) => boolean): number {
    let count = 0;
    for (const client of this.clients) if (where(client)) count++;
    return count;
  }

  /**
   * Starts the connection's deadline, replacing any earlier one: `onExpiry` runs after `ms`
   * unless it is set again or cleared first. Each server here needs at most one such timer
   * per connection (an age limit, a subscribe deadline, an idle limit); it ends with the connection.
   */
  protected setDeadline(client: C, ms: number, onExpiry: () => void): void {
    this.timers.clear(this.deadlines.get(client));
    const handle = this.timers.timeout(ms, () => {
      this.deadlines.delete(client);
      onExpiry();
    });
    this.deadlines.set(client, handle);
  }

  protected clearDeadline(client: C): void {
    this.timers.clear(this.deadlines.get(client));
    this.deadlines.delete(client);
  }

  /**
   * Sends each connection its notice, then closes it with 1001 after `closeAfterMs` (null leaves
   * it open): how exchanges announce a restart, so clients can move before being cut off.
   */
  protected noticeThenClose(noticeFor: (client: C) => string, reason: string, closeAfterMs: number | null = 1000): void {
    for (const client of this.clients) {
      this.send(client, noticeFor(client));
      if (closeAfterMs !== null) this.timers.timeout(closeAfterMs, () => client.ws.close(1001, reason));
    }
  }

  protected respondJson(response: ServerResponse, status: number, body: unknown): void {
    this.respondText(response, status, JSON.stringify(body));
  }

  /** Answers with `text` as it is, under the JSON content type. */
  protected respondText(response: ServerResponse, status: number, text: string): void {
    response.writeHead(status, { 'content-type': this.jsonContentType, 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const url = requestUrl(request);
    if (request.method !== 'GET' || url.pathname !== this.listingPath) return this.serveHttp(request, url, response);
    this.listingRequestCount++;
    if (!this.restAvailable) return this.listingUnavailable(response);
    if (this.listingBody !== null) return this.respondText(response, 200, this.listingBody);
    this.serveListing(url, response);
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = requestUrl(request);
    const ip = request.socket.remoteAddress ?? 'unknown';
    this.upgradeCounts.upgrades++;
    const refusal = this.limitAttempts(ip) ?? this.admit(url);
    if (refusal !== null) {
      this.upgradeCounts.refusedUpgrades++;
      return refuse(socket, refusal);
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.open(ws, url, ip));
  }

  /** Counts an upgrade attempt from `ip`; the refusal when it is one too many. */
  private limitAttempts(ip: string): UpgradeRefusal | null {
    const { max, windowMs } = this.connectionLimit;
    let attempts = this.attemptsByIp.get(ip);
    if (!attempts) {
      attempts = new ArrivalWindow(windowMs);
      this.attemptsByIp.set(ip, attempts);
    }
    const now = Date.now();
    const count = attempts.record(now);
    if (count <= max) return null;
    this.breach('connection attempts per IP', `${count} upgrade attempts from ${ip} within ${windowMs} ms; at most ${max}`);
    return this.connectionRefusal(attempts.expiresIn(now));
  }

  private open(ws: WebSocket, url: URL, ip: string): void {
    const client = this.accept({ ws, ip, stalled: false, lastSentAt: Date.now() }, url);
    this.clients.add(client);
    ws.on('message', (data, isBinary) => this.receive(client, rawText(data), isBinary));
    ws.on('error', () => undefined); // a reset client; 'close' follows
    ws.on('close', () => {
      this.clearDeadline(client);
      this.clients.delete(client);
      for (const symbol of [...this.tickerSymbols(client)]) this.unsubscribeTicker(client, symbol);
      this.symbolsByClient.delete(client);
      this.disconnected(client);
    });
  }

  private async shutdown(): Promise<void> {
    this.timers.clearAll();
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.ws.readyState === WebSocket.CLOSED) resolve();
          else client.ws.once('close', () => resolve());
        }),
    );
    for (const client of this.clients) client.ws.terminate();
    await Promise.all(closed);
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function requestUrl(request: IncomingMessage): URL {
  return new URL(request.url ?? '/', 'http://local');
}

/** An HTTP response on the raw socket, where a WebSocket handshake would have gone. */
function refuse(socket: Duplex, refusal: UpgradeRefusal): void {
  const lines = [`HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}`, 'Connection: close', 'Content-Length: 0'];
  for (const [name, value] of Object.entries(refusal.headers ?? {})) lines.push(`${name}: ${value}`);
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
