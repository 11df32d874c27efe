/**
 * A local server speaking Coinbase Advanced Trade's market-data protocol
 * (/work/shared/exchanges/coinbase.md, part A), for the Coinbase adapter tests.
 *
 * HTTP + WebSocket on one port (127.0.0.1, port 0 = a free one):
 * - WebSocket at `/` (the real endpoint has no path); any other path is refused with 404;
 * - `{"type":"subscribe"|"unsubscribe","channel":..,"product_ids":[..]}`, one channel per
 *   message (optional `jwt` ignored). Each is answered by a `subscriptions` message listing
 *   every subscription of the connection; a product that is not listed, or not trading, is
 *   left out of it without an error, like Coinbase, and sends nothing. Unknown channels get
 *   `authentication failure`, as observed on the real server;
 * - `ticker`: on subscribe, one `snapshot` message per product, sent before the ack (the
 *   order the fixture shows), then an `update` per `push` and per tick (`startTicking`);
 * - `heartbeats`: one message per `heartbeatIntervalMs` while subscribed;
 * - `sequence_num` counts every message per connection from 0, all channels together;
 * - a connection that has not subscribed within `subscribeDeadlineMs` (5 s) is closed, and
 *   one without `heartbeats` that has been sent nothing for `idleCloseMs` (60 s) is closed;
 * - `GET /api/v3/brokerage/market/products` lists the products in `products[]` with
 *   `product_id`, `base_currency_id`, `quote_currency_id`, `status` (`online`, `delisted`
 *   once delisted), `trading_disabled`, `product_type: "SPOT"`; `product_type`, `product_ids`,
 *   `offset` and `limit` are honoured, and `num_products` counts every product the filters
 *   match, before `offset` and `limit`.
 *
 * Limits, Coinbase's values by default, each breach recorded in `breaches`:
 * - 8 connection attempts per second per IP: HTTP 429;
 * - 8 inbound (unauthenticated) messages per second per IP, all its connections together: the
 *   one over gets an error frame `rate limit exceeded` and its connection a 1008 close.
 *
 * Choices where Coinbase's behaviour is undocumented: the wording of error messages other
 * than `authentication failure`, the close codes (1008 for the rate limit and the subscribe
 * deadline, 1000 for idleness), and that a subscribe which breaks the message shape changes
 * nothing. Every error frame sent is also recorded in `violations`, so a test can assert that
 * the client spoke the protocol exactly.
 *
 * Test hooks: `push`, `skipSequence`, `received`, `violations`, `subscribers`, `stats`, and
 * those of every local exchange (`src/ingest/sim/local-exchange-server.ts`): the listing
 * (`setListing`, `list`, `delist`, `setListingBody`, `listingRequests`),
 * `startTicking`/`stopTicking`, `breaches`, `sendRaw` (unnumbered), `dropConnections`, `stall`,
 * `setRestAvailable` (the product listing answers 503), `connections`, `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { COINBASE_DEFAULT_SYMBOLS, COINBASE_PRODUCTS_PATH } from '../../../src/ingest/exchanges/coinbase';
import { isRecord } from '../../../src/ingest/json-frame';
import { ArrivalWindow } from '../../../src/ingest/sim/arrival-window';
import { listingFrom, SPELLINGS, type LocalMarket, type ListingOption } from '../../../src/ingest/sim/listing';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type RateLimit, type UpgradeRefusal } from '../../../src/ingest/sim/local-exchange-server';
import { decimalText, moveTicker, numberOr, startingPrice } from '../../../src/ingest/sim/market-prices';

export interface CoinbaseProduct {
  readonly id: string;
  readonly base: string;
  readonly quote: string;
  /** Starting last price, decimal text. */
  readonly price: string;
  /** REST `status`. Default `online`. */
  readonly status?: string;
  readonly tradingDisabled?: boolean;
}

export interface CoinbaseServerOptions {
  /** Default: the adapter's built-in products plus a few others. */
  readonly products?: readonly CoinbaseProduct[];
  /** Instead of `products`: that many synthetic products (`BASE-QUOTE`), or exactly these. */
  readonly listing?: ListingOption;
  /** Milliseconds between heartbeats; 0 = never. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Inbound messages per second per IP, all its connections together. Default 8. */
  readonly maxMessagesPerSecond?: number;
  /** WebSocket upgrades per IP. Default 8 per second. */
  readonly connectionLimit?: RateLimit;
  /** Default 5000. */
  readonly subscribeDeadlineMs?: number;
  /** Without `heartbeats`, a connection sent nothing for this long is closed; null = never. Default 60 000. */
  readonly idleCloseMs?: number | null;
}

export interface CoinbaseServerStats {
  readonly upgrades: number;
  /** Subscribe and unsubscribe messages accepted. */
  readonly requests: number;
  readonly rateLimitCloses: number;
  readonly deadlineCloses: number;
  readonly idleCloses: number;
  /** Most inbound messages seen from one IP within any one second. */
  readonly peakInboundPerSecond: number;
  readonly heartbeatsSent: number;
  readonly restRequests: number;
}

const CHANNELS = new Set(['ticker', 'ticker_batch', 'heartbeats', 'status', 'level2', 'market_trades', 'candles']);
/** Channels whose subscriptions name products. */
const PRODUCT_CHANNELS = new Set(['ticker', 'ticker_batch', 'level2', 'market_trades', 'candles']);
/** Coinbase: 8 connections per second per IP. */
const CONNECTION_LIMIT: RateLimit = { max: 8, windowMs: 1000 };

interface Client extends LocalClient {
  /**
   * Channel -> subscribed product ids (`heartbeats` lists itself, as Coinbase does), for every
   * channel but `ticker`, whose subscriptions the base class keeps (`tickerSymbols`).
   */
  readonly subscriptions: Map<string, Set<string>>;
  sequence: number;
  /** Numbers the next message skips (`skipSequence`). */
  skipNext: number;
}

type Ticker = Readonly<Record<string, unknown>>;

const DEFAULT_EXTRA: readonly CoinbaseProduct[] = [
  { id: 'BTC-USDC', base: 'BTC', quote: 'USDC', price: '96861.37' },
  { id: 'ETH-USDC', base: 'ETH', quote: 'USDC', price: '3351.88' },
  { id: 'OLD-USD', base: 'OLD', quote: 'USD', price: '1.5', status: 'delisted', tradingDisabled: true },
];

/** The built-in products with made-up prices, plus a few extra: a stable default listing. */
export function defaultCoinbaseProducts(): CoinbaseProduct[] {
  const listed = COINBASE_DEFAULT_SYMBOLS.map((id, i) => {
    const [base = id, quote = 'USD'] = id.split('-');
    return { id, base, quote, price: (100 + i * 7.25).toFixed(2) };
  });
  return [...listed, ...DEFAULT_EXTRA];
}

export class CoinbaseServer extends LocalExchangeServer<Client> {
  readonly wsUrl: string;
  /** Every message clients sent, parsed (or the raw text when it was not JSON), in order. */
  readonly received: unknown[] = [];
  /** Every error frame this server sent, with the reason. */
  readonly violations: string[] = [];

  protected readonly listingPath = COINBASE_PRODUCTS_PATH;
  /** Current ticker object per product, made when first needed. */
  private readonly tickers = new Map<string, Ticker>();
  /** Starting prices the `products` option gave. */
  private readonly startPrices = new Map<string, string>();
  /** Inbound messages within the last second, per IP. */
  private readonly inboundByIp = new Map<string, ArrivalWindow>();
  private readonly startedAt = Date.now();
  private counters = { requests: 0, rateLimitCloses: 0, deadlineCloses: 0, idleCloses: 0, peakInboundPerSecond: 0, heartbeatsSent: 0 };

  static async start(options: CoinbaseServerOptions = {}): Promise<CoinbaseServer> {
    return new CoinbaseServer(await listen(), options);
  }

  private constructor(listening: Listening, private readonly options: CoinbaseServerOptions) {
    if (options.products !== undefined && options.listing !== undefined) throw new Error('give either products or listing, not both');
    const products = options.products ?? (options.listing === undefined ? defaultCoinbaseProducts() : []);
    const listing = listingFrom(options.listing, SPELLINGS.coinbase, () => products.map(productMarket));
    super(listening, { jsonContentType: 'application/json; charset=utf-8', listing, connectionLimit: options.connectionLimit ?? CONNECTION_LIMIT });
    for (const product of products) this.startPrices.set(product.id, product.price);
    this.wsUrl = this.wsUrlAt('');
    const heartbeatMs = options.heartbeatIntervalMs ?? 1000;
    if (heartbeatMs > 0) this.timers.interval(heartbeatMs, () => this.heartbeatAll());
    const idleMs = options.idleCloseMs === undefined ? 60_000 : options.idleCloseMs;
    if (idleMs !== null) this.timers.interval(Math.max(10, idleMs / 4), () => this.closeIdle(idleMs));
  }

  get stats(): CoinbaseServerStats {
    return { upgrades: this.upgradeStats.upgrades, ...this.counters, restRequests: this.listingRequests };
  }

  /** Connections subscribed to the product's `ticker`. */
  subscribers(productId: string): number {
    return this.tickerSubscribers(productId).size;
  }

  /**
   * Changes the product's ticker by `fields` (wire names and values, kept for later pushes)
   * and sends an `update` to every connection subscribed to it. `timestamp` replaces the
   * envelope time (RFC 3339 text). Returns the ticker sent and how many connections got it.
   */
  push(productId: string, fields: Readonly<Record<string, unknown>> = {}, options: { readonly timestamp?: string } = {}): { readonly ticker: Ticker; readonly delivered: number } {
    const ticker = { ...(this.tickerOf(productId) ?? { type: 'ticker', product_id: productId }), ...fields };
    this.tickers.set(productId, ticker);
    return { ticker, delivered: this.sendUpdate(this.tickerSubscribers(productId), ticker, options.timestamp) };
  }

  /** The next numbered message on every connection skips `count` numbers, as if they were lost. */
  skipSequence(count = 1): void {
    for (const client of this.clients) client.skipNext += count;
  }

  // -------------------------------------------------------------------------------------------
  // REST

  protected override serveListing(url: URL, response: ServerResponse): void {
    const type = url.searchParams.get('product_type');
    const ids = url.searchParams.getAll('product_ids');
    const offset = Math.max(0, Math.trunc(numberOr(url.searchParams.get('offset'), 0)));
    const limit = Math.max(0, Math.trunc(numberOr(url.searchParams.get('limit'), 0)));
    let products = type !== null && type !== 'SPOT' ? [] : this.listing;
    if (ids.length > 0) products = products.filter((p) => ids.includes(p.symbol));
    const page = products.slice(offset, limit > 0 ? offset + limit : undefined);
    this.respondJson(response, 200, { products: page.map((p) => this.restProduct(p)), num_products: products.length });
  }

  protected override listingUnavailable(response: ServerResponse): void {
    this.respondJson(response, 503, { error: 'UNAVAILABLE', error_details: 'service unavailable', message: 'service unavailable' });
  }

  protected override serveHttp(_request: IncomingMessage, url: URL, response: ServerResponse): void {
    this.respondJson(response, 404, { error: 'NOT_FOUND', error_details: `no route ${url.pathname}`, message: 'Not Found' });
  }

  private restProduct(market: LocalMarket): Record<string, unknown> {
    const ticker = this.tickerOf(market.symbol) ?? {};
    return {
      product_id: market.symbol,
      price: ticker.price,
      price_percentage_change_24h: ticker.price_percent_chg_24_h,
      volume_24h: ticker.volume_24_h,
      base_increment: '0.00000001',
      quote_increment: '0.01',
      base_name: market.base,
      quote_name: market.quote,
      status: market.status ?? (market.trading ? 'online' : 'delisted'),
      trading_disabled: !market.trading,
      product_type: 'SPOT',
      base_currency_id: market.base,
      quote_currency_id: market.quote,
      display_name: market.symbol,
    };
  }

  /** The product's current ticker, made from its starting price the first time; undefined for one never listed. */
  private tickerOf(productId: string): Ticker | undefined {
    const known = this.tickers.get(productId);
    if (known) return known;
    const market = this.listed(productId);
    if (!market) return undefined;
    const ticker = initialTicker(productId, this.startPrices.get(productId) ?? decimalText(startingPrice(market.base, market.quote)));
    this.tickers.set(productId, ticker);
    return ticker;
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    return url.pathname === '/' ? null : { status: 404 };
  }

  protected override accept(base: LocalClient): Client {
    const client: Client = { ...base, subscriptions: new Map(), sequence: 0, skipNext: 0 };
    this.setDeadline(client, this.options.subscribeDeadlineMs ?? 5000, () => {
      this.counters.deadlineCloses++;
      client.ws.close(1008, 'no subscription within the deadline');
    });
    return client;
  }

  protected override receive(client: Client, text: string, isBinary: boolean): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    let inbound = this.inboundByIp.get(client.ip);
    if (!inbound) {
      inbound = new ArrivalWindow(1000);
      this.inboundByIp.set(client.ip, inbound);
    }
    const inLastSecond = inbound.record();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, inLastSecond);
    let request: unknown = text;
    try {
      request = JSON.parse(text);
    } catch {
      // recorded as text below
    }
    this.received.push(request);
    const max = this.options.maxMessagesPerSecond ?? 8;
    if (inLastSecond > max) {
      this.counters.rateLimitCloses++;
      this.breach('messages per second', `${inLastSecond} messages from ${client.ip} within 1000 ms, all its connections together; at most ${max}`);
      this.error(client, 'rate limit exceeded');
      client.ws.close(1008, 'rate limit exceeded');
      return;
    }
    if (client.stalled) return;
    if (isBinary || typeof request === 'string') return this.error(client, 'malformed message: expected a JSON text frame');
    this.control(client, request);
  }

  private control(client: Client, request: unknown): void {
    if (!isRecord(request)) return this.error(client, 'malformed message: expected a JSON object');
    const { type, channel, product_ids: productIds, channels } = request;
    if (type !== 'subscribe' && type !== 'unsubscribe') return this.error(client, `unknown message type ${JSON.stringify(type)}`);
    if (channels !== undefined) return this.error(client, 'one channel per message: use "channel", not "channels"');
    if (typeof channel !== 'string') return this.error(client, 'missing channel');
    if (!CHANNELS.has(channel)) return this.error(client, 'authentication failure');
    let products: string[] = [];
    if (PRODUCT_CHANNELS.has(channel)) {
      if (!Array.isArray(productIds) || productIds.length === 0 || !productIds.every((p): p is string => typeof p === 'string')) {
        return this.error(client, `channel ${channel} needs product_ids as a non-empty array of strings`);
      }
      products = productIds;
    } else if (productIds !== undefined && !Array.isArray(productIds)) {
      return this.error(client, 'product_ids must be an array');
    }
    if (request.jwt !== undefined && typeof request.jwt !== 'string') return this.error(client, 'jwt must be a string');
    this.counters.requests++;
    this.clearDeadline(client);

    if (type === 'subscribe') this.subscribe(client, channel, products);
    else this.unsubscribe(client, channel, products);
    const listing: Record<string, string[]> = {};
    for (const name of this.channelsOf(client)) listing[name] = name === 'ticker' ? [...this.tickerSymbols(client)] : [...client.subscriptions.get(name)!];
    this.sendMessage(client, 'subscriptions', JSON.stringify([{ subscriptions: listing }]));
  }

  private subscribe(client: Client, channel: string, products: readonly string[]): void {
    if (!PRODUCT_CHANNELS.has(channel)) {
      client.subscriptions.set(channel, new Set([channel]));
      return;
    }
    // Products that are not listed, or not trading, are silently left out, as on Coinbase.
    const open = products.filter((p) => this.isTrading(p));
    if (channel === 'ticker') {
      for (const product of open) {
        if (this.subscribeTicker(client, product)) this.sendMessage(client, 'ticker', JSON.stringify([{ type: 'snapshot', tickers: [this.tickerOf(product)] }]));
      }
      return;
    }
    if (open.length === 0) return;
    const current = client.subscriptions.get(channel) ?? new Set<string>();
    for (const product of open) current.add(product);
    client.subscriptions.set(channel, current);
  }

  private unsubscribe(client: Client, channel: string, products: readonly string[]): void {
    if (channel === 'ticker') {
      for (const product of products) this.unsubscribeTicker(client, product);
      return;
    }
    const current = client.subscriptions.get(channel);
    if (!current) return;
    for (const product of PRODUCT_CHANNELS.has(channel) ? products : [channel]) current.delete(product);
    if (current.size === 0) client.subscriptions.delete(channel);
  }

  /** The channels the connection has subscriptions on, sorted. */
  private channelsOf(client: Client): string[] {
    const names = [...client.subscriptions.keys()];
    if (this.tickerSymbols(client).size > 0) names.push('ticker');
    return names.sort();
  }

  private error(client: Client, message: string): void {
    this.violations.push(message);
    this.send(client, JSON.stringify({ type: 'error', message }));
  }

  private heartbeatAll(): void {
    const now = Date.now();
    const uptime = (now - this.startedAt) / 1000;
    const counter = Math.floor(uptime);
    for (const client of this.clients) {
      if (!client.subscriptions.has('heartbeats')) continue;
      const event = { current_time: `${goTime(now)} +0000 UTC m=+${uptime.toFixed(9)}`, heartbeat_counter: counter };
      if (this.sendMessage(client, 'heartbeats', JSON.stringify([event]))) this.counters.heartbeatsSent++;
    }
  }

  private closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const client of this.clients) {
      if (this.channelsOf(client).length === 0 || client.subscriptions.has('heartbeats') || now - client.lastSentAt < idleMs) continue;
      this.counters.idleCloses++;
      client.ws.close(1000, 'idle');
    }
  }

  protected override sendTick(productId: string, subscribers: ReadonlySet<Client>): void {
    const current = this.tickerOf(productId)!;
    const last = numberOr(current.price, 1);
    const open = last / (1 + numberOr(current.price_percent_chg_24_h, 0) / 100);
    const moved = moveTicker({ last, open, high: numberOr(current.high_24_h, last), low: numberOr(current.low_24_h, last), volume: numberOr(current.volume_24_h, 1000) }, this.random);
    const ticker = {
      ...current,
      price: decimalText(moved.last),
      volume_24_h: decimalText(moved.volume),
      low_24_h: decimalText(moved.low),
      high_24_h: decimalText(moved.high),
      price_percent_chg_24_h: decimalText(((moved.last - open) / open) * 100),
      best_bid: decimalText(moved.bid),
      best_ask: decimalText(moved.ask),
    };
    this.tickers.set(productId, ticker);
    this.sendUpdate(subscribers, ticker);
  }

  /** Sends a ticker `update` to each of `clients`; the events are serialized once. */
  private sendUpdate(clients: Iterable<Client>, ticker: Ticker, timestamp?: string): number {
    const events = JSON.stringify([{ type: 'update', tickers: [ticker] }]);
    const at = timestamp ?? rfc3339Nanos();
    let delivered = 0;
    for (const client of clients) if (this.sendMessage(client, 'ticker', events, at)) delivered++;
    return delivered;
  }

  /** Sends one numbered channel message (`events` already serialized); returns false when the connection cannot take it. */
  private sendMessage(client: Client, channel: string, events: string, timestamp = rfc3339Nanos()): boolean {
    if (!this.isWritable(client)) return false;
    client.sequence += client.skipNext;
    client.skipNext = 0;
    const sequence = client.sequence++;
    return this.send(client, `{"channel":${JSON.stringify(channel)},"timestamp":${JSON.stringify(timestamp)},"sequence_num":${sequence},"events":${events}}`);
  }
}

function productMarket(product: CoinbaseProduct): LocalMarket {
  const status = product.status ?? 'online';
  return { symbol: product.id, base: product.base, quote: product.quote, trading: status === 'online' && product.tradingDisabled !== true, status };
}

/** A product's first ticker, everything derived from its last price (decimal text). */
function initialTicker(productId: string, priceText: string): Ticker {
  const price = Number(priceText);
  const at = (factor: number): string => decimalText(price * factor);
  return {
    type: 'ticker',
    product_id: productId,
    price: priceText,
    volume_24_h: '1234.5',
    low_24_h: at(0.97),
    high_24_h: at(1.02),
    low_52_w: at(0.5),
    high_52_w: at(1.5),
    price_percent_chg_24_h: '1.25',
    best_bid: at(0.9999),
    best_ask: at(1.0001),
    best_bid_quantity: '0.5',
    best_ask_quantity: '0.75',
  };
}

const EPOCH_NS_AT_START = BigInt(Date.now()) * 1_000_000n;
const HRTIME_AT_START = process.hrtime.bigint();

/**
 * Now as RFC 3339 with nine fractional digits, like Coinbase's envelope `timestamp`. Taken
 * from the monotonic clock, so two messages in one millisecond still come out in order.
 */
function rfc3339Nanos(): string {
  const ns = EPOCH_NS_AT_START + (process.hrtime.bigint() - HRTIME_AT_START);
  const iso = new Date(Number(ns / 1_000_000n)).toISOString(); // ...T04:40:00.333Z
  return `${iso.slice(0, -1)}${String(ns % 1_000_000n).padStart(6, '0')}Z`;
}

/** Go's default time format, as in `current_time`: `2026-07-29 04:40:01.02311248`. */
function goTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}
