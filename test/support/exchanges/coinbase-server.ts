/**
 * A local server speaking Coinbase Advanced Trade's market-data protocol
 * (/work/shared/exchanges/coinbase.md, part A), for the Coinbase adapter tests.
 *
 * HTTP + WebSocket on one port (127.0.0.1, port 0 = a free one):
 * - WebSocket at `/` (the real endpoint has no path); any other path is refused with 404;
 * - `{"type":"subscribe"|"unsubscribe","channel":..,"product_ids":[..]}`, one channel per
 *   message (optional `jwt` ignored). Each is answered by a `subscriptions` message listing
 *   every subscription of the connection; a product the listing does not know is left out of
 *   it without an error, like Coinbase. Unknown channels get `authentication failure`, as
 *   observed on the real server;
 * - `ticker`: on subscribe, one `snapshot` message per product, sent before the ack (the
 *   order the fixture shows), then an `update` per `push`;
 * - `heartbeats`: one message per `heartbeatIntervalMs` while subscribed;
 * - `sequence_num` counts every message per connection from 0, all channels together;
 * - a connection that has not subscribed within `subscribeDeadlineMs` (5 s) is closed, and
 *   one without `heartbeats` that has been sent nothing for `idleCloseMs` (60 s) is closed;
 * - at most 8 inbound messages per second for the whole server (Coinbase counts per IP, and
 *   every client here is 127.0.0.1): the one over gets an error frame and a 1008 close;
 * - `GET /api/v3/brokerage/market/products` lists the products (`product_type`,
 *   `product_ids`, `limit` honoured).
 *
 * Choices where Coinbase's behaviour is undocumented: the wording of error messages other
 * than `authentication failure`, the close codes (1008 for the rate limit and the subscribe
 * deadline, 1000 for idleness), and that a subscribe which breaks the message shape changes
 * nothing. Every error frame sent is also recorded in `violations`, so a test can assert that
 * the client spoke the protocol exactly.
 *
 * Test hooks: `push`, `skipSequence`, `received`, `violations`, `subscribers`, `stats`, and
 * those of every local exchange (`src/ingest/sim/local-exchange-server.ts`): `sendRaw`
 * (unnumbered), `dropConnections`, `stall`, `setRestAvailable` (the product listing answers
 * 503), `connections`, `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { COINBASE_DEFAULT_SYMBOLS, COINBASE_PRODUCTS_PATH } from '../../../src/ingest/exchanges/coinbase';
import { isRecord } from '../../../src/ingest/json-frame';
import { ArrivalWindow } from '../../../src/ingest/sim/arrival-window';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type UpgradeRefusal } from '../../../src/ingest/sim/local-exchange-server';

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
  /** Milliseconds between heartbeats; 0 = never. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Inbound messages per second for the whole server. Default 8. */
  readonly maxMessagesPerSecond?: number;
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
  /** Most inbound messages seen within any one second. */
  readonly peakInboundPerSecond: number;
  readonly heartbeatsSent: number;
  readonly restRequests: number;
}

const CHANNELS = new Set(['ticker', 'ticker_batch', 'heartbeats', 'status', 'level2', 'market_trades', 'candles']);
/** Channels whose subscriptions name products. */
const PRODUCT_CHANNELS = new Set(['ticker', 'ticker_batch', 'level2', 'market_trades', 'candles']);

interface Client extends LocalClient {
  /** Channel -> subscribed product ids (`heartbeats` lists itself, as Coinbase does). */
  readonly subscriptions: Map<string, Set<string>>;
  sequence: number;
  /** Numbers the next message skips (`skipSequence`). */
  skipNext: number;
}

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

  private readonly products: ReadonlyMap<string, CoinbaseProduct>;
  /** Current ticker object per product. */
  private readonly tickers = new Map<string, Record<string, unknown>>();
  /** Inbound messages within the last second, all connections together. */
  private readonly inbound = new ArrivalWindow(1000);
  private readonly startedAt = Date.now();
  private counters = { upgrades: 0, requests: 0, rateLimitCloses: 0, deadlineCloses: 0, idleCloses: 0, peakInboundPerSecond: 0, heartbeatsSent: 0, restRequests: 0 };

  static async start(options: CoinbaseServerOptions = {}): Promise<CoinbaseServer> {
    return new CoinbaseServer(await listen(), options);
  }

  private constructor(listening: Listening, private readonly options: CoinbaseServerOptions) {
    super(listening, 'application/json; charset=utf-8');
    this.wsUrl = this.wsUrlAt('');
    const products = options.products ?? defaultCoinbaseProducts();
    this.products = new Map(products.map((p) => [p.id, p]));
    for (const product of products) this.tickers.set(product.id, initialTicker(product));
    const heartbeatMs = options.heartbeatIntervalMs ?? 1000;
    if (heartbeatMs > 0) this.timers.interval(heartbeatMs, () => this.heartbeatAll());
    const idleMs = options.idleCloseMs === undefined ? 60_000 : options.idleCloseMs;
    if (idleMs !== null) this.timers.interval(Math.max(10, idleMs / 4), () => this.closeIdle(idleMs));
  }

  get stats(): CoinbaseServerStats {
    return { ...this.counters };
  }

  /** Connections subscribed to the product's `ticker`. */
  subscribers(productId: string): number {
    return this.countClients((client) => client.subscriptions.get('ticker')?.has(productId) === true);
  }

  /**
   * Changes the product's ticker by `fields` (wire names and values, kept for later pushes)
   * and sends an `update` to every connection subscribed to it. `timestamp` replaces the
   * envelope time (RFC 3339 text). Returns the ticker sent and how many connections got it.
   */
  push(productId: string, fields: Readonly<Record<string, unknown>> = {}, options: { readonly timestamp?: string } = {}): { readonly ticker: Readonly<Record<string, unknown>>; readonly delivered: number } {
    const current = this.tickers.get(productId) ?? { type: 'ticker', product_id: productId };
    const ticker = { ...current, ...fields };
    this.tickers.set(productId, ticker);
    let delivered = 0;
    for (const client of this.clients) {
      if (!client.subscriptions.get('ticker')?.has(productId)) continue;
      if (this.sendMessage(client, 'ticker', [{ type: 'update', tickers: [ticker] }], options.timestamp)) delivered++;
    }
    return { ticker, delivered };
  }

  /** The next numbered message on every connection skips `count` numbers, as if they were lost. */
  skipSequence(count = 1): void {
    for (const client of this.clients) client.skipNext += count;
  }

  // -------------------------------------------------------------------------------------------
  // REST

  protected override serveHttp(request: IncomingMessage, url: URL, response: ServerResponse): void {
    if (request.method !== 'GET' || url.pathname !== COINBASE_PRODUCTS_PATH) {
      return this.respondJson(response, 404, { error: 'NOT_FOUND', error_details: `no route ${url.pathname}`, message: 'Not Found' });
    }
    this.counters.restRequests++;
    if (!this.restAvailable) return this.respondJson(response, 503, { error: 'UNAVAILABLE', error_details: 'service unavailable', message: 'service unavailable' });
    const type = url.searchParams.get('product_type');
    const ids = url.searchParams.getAll('product_ids');
    const limit = Number(url.searchParams.get('limit') ?? '0');
    let products = type !== null && type !== 'SPOT' ? [] : [...this.products.values()];
    if (ids.length > 0) products = products.filter((p) => ids.includes(p.id));
    const total = products.length;
    if (limit > 0) products = products.slice(0, limit);
    this.respondJson(response, 200, { products: products.map((p) => this.restProduct(p)), num_products: total });
  }

  private restProduct(product: CoinbaseProduct): Record<string, unknown> {
    const ticker = this.tickers.get(product.id) ?? {};
    return {
      product_id: product.id,
      price: ticker.price,
      price_percentage_change_24h: ticker.price_percent_chg_24_h,
      volume_24h: ticker.volume_24_h,
      base_increment: '0.00000001',
      quote_increment: '0.01',
      base_name: product.base,
      quote_name: product.quote,
      status: product.status ?? 'online',
      trading_disabled: product.tradingDisabled ?? false,
      product_type: 'SPOT',
      base_currency_id: product.base,
      quote_currency_id: product.quote,
      display_name: product.id,
    };
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    this.counters.upgrades++;
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
    const inLastSecond = this.inbound.record();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, inLastSecond);
    let request: unknown = text;
    try {
      request = JSON.parse(text);
    } catch {
      // recorded as text below
    }
    this.received.push(request);
    if (inLastSecond > (this.options.maxMessagesPerSecond ?? 8)) {
      this.counters.rateLimitCloses++;
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

    const current = client.subscriptions.get(channel) ?? new Set<string>();
    if (type === 'subscribe') {
      // Unknown products are silently left out, as on Coinbase.
      const added = PRODUCT_CHANNELS.has(channel) ? products.filter((p) => this.products.has(p) && !current.has(p)) : [channel];
      for (const product of added) current.add(product);
      client.subscriptions.set(channel, current);
      if (channel === 'ticker') {
        for (const product of added) {
          const ticker = this.tickers.get(product);
          if (ticker) this.sendMessage(client, 'ticker', [{ type: 'snapshot', tickers: [ticker] }]);
        }
      }
    } else {
      const removed = PRODUCT_CHANNELS.has(channel) ? products : [channel];
      for (const product of removed) current.delete(product);
      if (current.size === 0) client.subscriptions.delete(channel);
    }
    const listing: Record<string, string[]> = {};
    for (const name of [...client.subscriptions.keys()].sort()) listing[name] = [...client.subscriptions.get(name)!];
    this.sendMessage(client, 'subscriptions', [{ subscriptions: listing }]);
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
      if (this.sendMessage(client, 'heartbeats', [event])) this.counters.heartbeatsSent++;
    }
  }

  private closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const client of this.clients) {
      if (client.subscriptions.size === 0 || client.subscriptions.has('heartbeats') || now - client.lastSentAt < idleMs) continue;
      this.counters.idleCloses++;
      client.ws.close(1000, 'idle');
    }
  }

  /** Sends one numbered channel message; returns false when the connection cannot take it. */
  private sendMessage(client: Client, channel: string, events: readonly unknown[], timestamp?: string): boolean {
    if (!this.isWritable(client)) return false;
    client.sequence += client.skipNext;
    client.skipNext = 0;
    const message = { channel, timestamp: timestamp ?? rfc3339Nanos(), sequence_num: client.sequence++, events };
    return this.send(client, JSON.stringify(message));
  }
}

function initialTicker(product: CoinbaseProduct): Record<string, unknown> {
  const price = Number(product.price);
  const at = (factor: number): string => String(Number((price * factor).toFixed(2)));
  return {
    type: 'ticker',
    product_id: product.id,
    price: product.price,
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
