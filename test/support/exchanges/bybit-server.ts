/**
 * A local server speaking Bybit API v5 public spot (protocol: /work/shared/exchanges/bybit.md),
 * for the Bybit adapter's tests. HTTP + WebSocket on one port (127.0.0.1, port 0 = a free one):
 *
 * - WebSocket on `/v5/public/spot` only; any other path is refused with HTTP 404;
 * - `{"op":"subscribe","args":[...],"req_id":..}`: topics `tickers.<SYM>` and
 *   `orderbook.<1|50|200|1000>.<SYM>` for listed trading symbols; the reply is
 *   `{"success":true,"ret_msg":"subscribe","conn_id":..,"req_id":..,"op":"subscribe"}` and the
 *   current snapshot of every topic that has one follows at once, as on Bybit: a ticker once
 *   pushed or moved (every listed ticker with `snapshotOnSubscribe`), a book once pushed;
 * - `{"op":"ping"}` is answered `{"success":true,"ret_msg":"pong","conn_id":..,"op":"ping"}`;
 * - a connection that sends nothing for `idleTimeoutMs` (Bybit: about 10 minutes) is closed;
 * - pushes `tickers.<SYM>` snapshots (`push`, and ticking: `startTicking`) and
 *   `orderbook.1.<SYM>` snapshots (`pushBook`); the latest book is re-sent every
 *   `bookResendMs` (Bybit: 3 s) with the same `u`;
 * - `GET /v5/market/instruments-info?category=spot` lists the trading instruments in
 *   `result.list[]` with `symbol`, `baseCoin`, `quoteCoin` and `status: "Trading"`; a delisted
 *   one is left out, as Bybit's spot listing shows only trading symbols by default.
 *
 * Limits, Bybit's values by default, each breach recorded in `breaches`:
 * - 500 connection attempts per 5 minutes per IP: HTTP 429;
 * - 10 args per subscribe request: `{"success":false,"ret_msg":"args size >10",..}`, as Bybit
 *   answers, and nothing subscribed;
 * - 21,000 characters of args per connection, every subscribed topic counted once: the request
 *   that would pass it is rejected whole.
 *
 * Choices where Bybit's behaviour is undocumented, taken strictly so the adapter is held to
 * the safe reading: one bad topic fails the whole request and subscribes nothing; rejections
 * read `Invalid symbol :[<topic>]` (seen in client code; also for a delisted symbol),
 * `error:handler not found,topic:<t>`, `error:already subscribed,topic:<t>`,
 * `args length exceeds 21000 characters per connection` and `Params Error`; unsubscribing does
 * not give characters back; only the client's own frames count against the idle limit (pushes
 * do not), and an idle connection is closed with 1000 "idle timeout"; a REST category other
 * than spot answers retCode 10001. Nothing limits how fast a client may send (Bybit documents
 * no limit), but the busiest second is recorded.
 *
 * Every inbound frame that a correct client would not send is recorded in `violations`, so
 * tests can assert the adapter's requests are exactly right.
 *
 * Test hooks: `push`, `pushBook`, `violations`, `subscribeRequests`, `subscribers`, `stats`,
 * and those of every local exchange (`src/ingest/sim/local-exchange-server.ts`): the listing
 * (`setListing`, `list`, `delist`, `setListingBody`, `listingRequests`),
 * `startTicking`/`stopTicking`, `breaches`, `sendRaw`, `dropConnections`, `stall` (here both
 * ways), `setRestAvailable` (instruments-info answers HTTP 503), `connections`, `close`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { isRecord } from '../../../src/ingest/json-frame';
import { ArrivalWindow } from '../../../src/ingest/sim/arrival-window';
import { listingFrom, SPELLINGS, type LocalMarket, type ListingOption } from '../../../src/ingest/sim/listing';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type RateLimit, type UpgradeRefusal } from '../../../src/ingest/sim/local-exchange-server';
import { decimalText, moveTicker, numberOr, startingPrice } from '../../../src/ingest/sim/market-prices';

export interface BybitInstrument {
  readonly symbol: string;
  readonly baseCoin: string;
  readonly quoteCoin: string;
  /** Default `Trading`. */
  readonly status?: string;
}

export interface BybitServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Listed spot instruments. Default `BYBIT_TEST_INSTRUMENTS`. */
  readonly instruments?: readonly BybitInstrument[];
  /** Instead of `instruments`: that many synthetic instruments (`BASEQUOTE`), or exactly these. */
  readonly listing?: ListingOption;
  /** Every listed ticker has a snapshot to send on subscribe, not only pushed ones. Default false. */
  readonly snapshotOnSubscribe?: boolean;
  /** WebSocket upgrades per IP. Default 500 per 5 minutes. */
  readonly connectionLimit?: RateLimit;
  /** Topics in one subscribe request. Default 10. */
  readonly maxArgsPerRequest?: number;
  /** Characters of every topic subscribed on one connection. Default 21 000. */
  readonly maxArgsChars?: number;
  /** A connection that sends nothing for this long is closed; 0 = never. Default 600 000 (Bybit's ~10 min). */
  readonly idleTimeoutMs?: number;
  /** Milliseconds between re-sends of an unchanged level-1 book; 0 = never. Default 3 000. */
  readonly bookResendMs?: number;
}

/** The ticker's `data` object as spot sends it: every value a string. */
export interface BybitTickerData {
  readonly symbol: string;
  readonly lastPrice: string;
  readonly highPrice24h: string;
  readonly lowPrice24h: string;
  readonly prevPrice24h: string;
  readonly volume24h: string;
  readonly turnover24h: string;
  readonly price24hPcnt: string;
  readonly usdIndexPrice: string;
}

export type BybitLevel = readonly [price: string, size: string];

export interface BybitBook {
  readonly bids: readonly BybitLevel[];
  readonly asks: readonly BybitLevel[];
}

/** Envelope values a test may set; by default `ts` is the server's clock and `cs` counts up. */
export interface BybitEnvelope {
  readonly ts?: number;
  readonly cs?: number;
}

export interface BybitServerStats {
  /** WebSocket upgrade requests, refused ones included. */
  readonly upgrades: number;
  /** Inbound text frames (requests of any kind, pings included). */
  readonly requests: number;
  readonly pings: number;
  /** Subscribe requests accepted; subscribe or unsubscribe requests rejected. */
  readonly subscribes: number;
  readonly rejectedSubscribes: number;
  /** Connections closed for sending nothing within `idleTimeoutMs`. */
  readonly idleCloses: number;
  /** Most inbound frames seen on one connection within any one second. */
  readonly peakInboundPerSecond: number;
  readonly instrumentsRequests: number;
}

/** A subscribe request as received, for asserting its exact shape. */
export interface ReceivedSubscribe {
  /** Connection number, 1 for the first accepted socket. */
  readonly connection: number;
  readonly request: Readonly<Record<string, unknown>>;
}

/** Enough instruments for the tests: USDT, USDC and BTC quotes, and one quote only metadata knows. */
export const BYBIT_TEST_INSTRUMENTS: readonly BybitInstrument[] = [
  { symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT' },
  { symbol: 'ETHUSDT', baseCoin: 'ETH', quoteCoin: 'USDT' },
  { symbol: 'SOLUSDT', baseCoin: 'SOL', quoteCoin: 'USDT' },
  { symbol: 'ETHBTC', baseCoin: 'ETH', quoteCoin: 'BTC' },
  { symbol: 'BTCUSDC', baseCoin: 'BTC', quoteCoin: 'USDC' },
  { symbol: 'MNTUSDT', baseCoin: 'MNT', quoteCoin: 'USDT' },
  // A quote the text fallback does not know: only metadata names it.
  { symbol: 'BTCBRZ', baseCoin: 'BTC', quoteCoin: 'BRZ' },
];

const MAX_ARGS_PER_REQUEST = 10;
const MAX_ARGS_CHARS = 21_000;
/** Bybit: 500 connections per 5 minutes per IP. */
const CONNECTION_LIMIT: RateLimit = { max: 500, windowMs: 300_000 };
const TOPIC = /^(tickers|orderbook\.(?:1|50|200|1000))\.([A-Za-z0-9]+)$/;
const REQUEST_KEYS = new Set(['req_id', 'op', 'args']);

interface Client extends LocalClient {
  readonly id: number;
  readonly connId: string;
  readonly topics: Set<string>;
  argsChars: number;
  /** Inbound frames within the last second. */
  readonly inbound: ArrivalWindow;
}

interface BookState {
  readonly book: BybitBook;
  readonly u: number;
  readonly seq: number;
  ts: number;
}

type Reply = Readonly<Record<string, unknown>>;

export class BybitServer extends LocalExchangeServer<Client> {
  /** `ws://127.0.0.1:<port>/v5/public/spot` */
  readonly wsUrl: string;
  /** Inbound frames a correct client would not send, each with the reason. */
  readonly violations: string[] = [];
  /** Every subscribe request, in arrival order. */
  readonly subscribeRequests: ReceivedSubscribe[] = [];

  protected readonly listingPath = '/v5/market/instruments-info';
  /** Current ticker per symbol, once pushed or moved (or, with `snapshotOnSubscribe`, asked for). */
  private readonly tickers = new Map<string, BybitTickerData>();
  private readonly books = new Map<string, BookState>();
  private readonly lastTs = new Map<string, number>();
  private cs = 94_411_870_000;
  private updateId = 18_521_000;
  private nextClientId = 1;
  private counters = { requests: 0, pings: 0, subscribes: 0, rejectedSubscribes: 0, idleCloses: 0, peakInboundPerSecond: 0 };

  static async start(options: BybitServerOptions = {}): Promise<BybitServer> {
    return new BybitServer(await listen(options), options);
  }

  private constructor(listening: Listening, private readonly options: BybitServerOptions) {
    if (options.instruments !== undefined && options.listing !== undefined) throw new Error('give either instruments or listing, not both');
    const instruments = options.instruments ?? (options.listing === undefined ? BYBIT_TEST_INSTRUMENTS : []);
    const listing = listingFrom(options.listing, SPELLINGS.bybit, () => instruments.map(instrumentMarket));
    super(listening, { jsonContentType: 'application/json', listing, connectionLimit: options.connectionLimit ?? CONNECTION_LIMIT });
    this.wsUrl = this.wsUrlAt('/v5/public/spot');
    const resendMs = options.bookResendMs ?? 3_000;
    if (resendMs > 0) this.timers.interval(resendMs, () => this.resendBooks());
  }

  get stats(): BybitServerStats {
    return { upgrades: this.upgradeStats.upgrades, ...this.counters, instrumentsRequests: this.listingRequests };
  }

  /** The trading instruments, as the REST listing shows them. */
  get instruments(): readonly BybitInstrument[] {
    return this.listing.filter((m) => m.trading).map((m) => ({ symbol: m.symbol, baseCoin: m.base, quoteCoin: m.quote, status: m.status ?? 'Trading' }));
  }

  /** Connections subscribed to a topic. */
  subscribers(topic: string): number {
    return this.countClients((client) => client.topics.has(topic));
  }

  /**
   * Updates the symbol's ticker with `data` and sends the snapshot to every subscriber of
   * `tickers.<symbol>`. Returns the frame sent and how many connections it reached.
   */
  push(symbol: string, data: Partial<BybitTickerData> = {}, envelope: BybitEnvelope = {}): { readonly frame: string; readonly delivered: number } {
    const ticker: BybitTickerData = { ...(this.tickers.get(symbol) ?? this.defaultTicker(symbol)), ...data };
    this.tickers.set(symbol, ticker);
    const topic = `tickers.${symbol}`;
    const frame = this.tickerFrame(topic, ticker, envelope);
    return { frame, delivered: this.deliver(topic, frame) };
  }

  /** Replaces the symbol's level-1 book and sends it to every subscriber of `orderbook.1.<symbol>`. */
  pushBook(symbol: string, book: BybitBook, envelope: BybitEnvelope = {}): { readonly frame: string; readonly delivered: number } {
    const topic = `orderbook.1.${symbol}`;
    const state: BookState = { book, u: ++this.updateId, seq: ++this.cs, ts: this.stamp(topic, envelope.ts) };
    this.books.set(symbol, state);
    const frame = bookFrame(topic, symbol, state);
    return { frame, delivered: this.deliver(topic, frame) };
  }

  /**
   * Current connections go silent both ways, like a black-holed network: they send nothing
   * (no pushes, pongs or replies), ignore what they receive, and are no longer closed for
   * idleness. New ones behave normally.
   */
  override stall(): void {
    super.stall();
    for (const client of this.clients) this.clearDeadline(client);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  protected override serveListing(url: URL, response: ServerResponse): void {
    if (url.searchParams.get('category') !== 'spot') {
      return this.respondJson(response, 200, { retCode: 10001, retMsg: 'params error: category', result: {}, retExtInfo: {}, time: Date.now() });
    }
    const list = this.listing.filter((m) => m.trading).map(instrumentEntry);
    this.respondJson(response, 200, { retCode: 0, retMsg: 'OK', result: { category: 'spot', list }, retExtInfo: {}, time: Date.now() });
  }

  protected override listingUnavailable(response: ServerResponse): void {
    this.respondJson(response, 503, { retCode: 10006, retMsg: 'Service unavailable' });
  }

  protected override serveHttp(_request: IncomingMessage, url: URL, response: ServerResponse): void {
    this.respondJson(response, 404, { retCode: 10404, retMsg: `unknown path ${url.pathname}` });
  }

  /** A first ticker around the market's starting price; 100 for a symbol that is not listed. */
  private defaultTicker(symbol: string): BybitTickerData {
    const market = this.listed(symbol);
    const price = market ? startingPrice(market.base, market.quote) : 100;
    const at = (factor: number): string => decimalText(price * factor);
    return {
      symbol,
      lastPrice: at(1),
      highPrice24h: at(1.01),
      lowPrice24h: at(0.99),
      prevPrice24h: at(1),
      volume24h: '10',
      turnover24h: at(10),
      price24hPcnt: '0',
      usdIndexPrice: '',
    };
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    return url.pathname === '/v5/public/spot' ? null : { status: 404 };
  }

  protected override accept(base: LocalClient): Client {
    const client: Client = { ...base, id: this.nextClientId++, connId: randomUUID(), topics: new Set(), argsChars: 0, inbound: new ArrivalWindow(1000) };
    this.armIdle(client);
    return client;
  }

  private armIdle(client: Client): void {
    const idleMs = this.options.idleTimeoutMs ?? 600_000;
    if (idleMs <= 0) return;
    this.setDeadline(client, idleMs, () => {
      if (client.ws.readyState !== WebSocket.OPEN) return;
      this.counters.idleCloses++;
      client.ws.close(1000, 'idle timeout');
    });
  }

  protected override receive(client: Client, text: string, isBinary: boolean): void {
    if (client.stalled) return;
    this.armIdle(client);
    this.countInbound(client);
    this.counters.requests++;
    if (isBinary) {
      this.violations.push(`connection ${client.id}: binary frame`);
      return;
    }
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      this.violations.push(`connection ${client.id}: not JSON: ${text.slice(0, 80)}`);
      this.reply(client, { success: false, ret_msg: 'Params Error', op: '' });
      return;
    }
    if (!isRecord(request)) {
      this.violations.push(`connection ${client.id}: not a JSON object: ${text.slice(0, 80)}`);
      this.reply(client, { success: false, ret_msg: 'Params Error', op: '' });
      return;
    }
    const extra = Object.keys(request).filter((key) => !REQUEST_KEYS.has(key));
    if (extra.length > 0) this.violations.push(`connection ${client.id}: unexpected keys ${extra.join(', ')}`);
    const { op, req_id: reqId } = request;
    if (reqId !== undefined && typeof reqId !== 'string') this.violations.push(`connection ${client.id}: req_id is not a string`);
    const echo = typeof reqId === 'string' ? { req_id: reqId } : {};
    switch (op) {
      case 'ping':
        this.counters.pings++;
        if (request.args !== undefined) this.violations.push(`connection ${client.id}: ping with args`);
        this.reply(client, { success: true, ret_msg: 'pong', conn_id: client.connId, ...echo, op: 'ping' });
        return;
      case 'subscribe':
      case 'unsubscribe':
        this.subscription(client, op, request, echo);
        return;
      default:
        this.violations.push(`connection ${client.id}: unknown op ${JSON.stringify(op)}`);
        this.reply(client, { success: false, ret_msg: `Invalid op: ${String(op)}`, conn_id: client.connId, ...echo, op: typeof op === 'string' ? op : '' });
    }
  }

  private subscription(client: Client, op: 'subscribe' | 'unsubscribe', request: Readonly<Record<string, unknown>>, echo: Reply): void {
    if (op === 'subscribe') this.subscribeRequests.push({ connection: client.id, request });
    // An unlisted symbol is the configuration's fault, not the client's: rejected, not a violation.
    const rejected = (message: string, violation = true): void => {
      this.counters.rejectedSubscribes++;
      if (violation) this.violations.push(`connection ${client.id}: ${op} rejected: ${message}`);
      this.reply(client, { success: false, ret_msg: message, conn_id: client.connId, ...echo, op });
    };
    const { args } = request;
    if (!Array.isArray(args) || args.length === 0 || !args.every((arg): arg is string => typeof arg === 'string')) {
      return rejected('Params Error');
    }
    const maxArgs = this.options.maxArgsPerRequest ?? MAX_ARGS_PER_REQUEST;
    if (args.length > maxArgs) {
      this.breach('args per request', `${op} with ${args.length} args on connection ${client.id}; at most ${maxArgs}`);
      return rejected(`args size >${maxArgs}`);
    }
    for (const topic of args) {
      const match = TOPIC.exec(topic);
      if (match === null) return rejected(`error:handler not found,topic:${topic}`);
      if (!this.isTrading(match[2]!)) return rejected(`Invalid symbol :[${topic}]`, false);
      if (op === 'subscribe' && client.topics.has(topic)) return rejected(`error:already subscribed,topic:${topic}`);
    }
    if (op === 'unsubscribe') {
      for (const topic of args) this.removeTopic(client, topic);
      this.reply(client, { success: true, ret_msg: '', conn_id: client.connId, ...echo, op });
      return;
    }
    const chars = args.reduce((sum, topic) => sum + topic.length, 0);
    const maxChars = this.options.maxArgsChars ?? MAX_ARGS_CHARS;
    if (client.argsChars + chars > maxChars) {
      this.breach('args characters per connection', `${client.argsChars + chars} characters of args on connection ${client.id}; at most ${maxChars}`);
      return rejected(`args length exceeds ${maxChars} characters per connection`);
    }
    client.argsChars += chars;
    for (const topic of args) this.addTopic(client, topic);
    this.counters.subscribes++;
    this.reply(client, { success: true, ret_msg: 'subscribe', conn_id: client.connId, ...echo, op });
    // Like Bybit: a snapshot of each topic right after the subscription.
    for (const topic of args) {
      const frame = this.currentSnapshot(topic);
      if (frame !== null) this.send(client, frame);
    }
  }

  private currentSnapshot(topic: string): string | null {
    const match = TOPIC.exec(topic);
    if (match === null) return null;
    const symbol = match[2]!;
    if (match[1] === 'tickers') {
      const ticker = this.tickers.get(symbol) ?? (this.options.snapshotOnSubscribe === true ? this.defaultTicker(symbol) : undefined);
      return ticker ? this.tickerFrame(topic, ticker, {}) : null;
    }
    const book = this.books.get(symbol);
    if (!book || topic !== `orderbook.1.${symbol}`) return null;
    book.ts = this.stamp(topic, undefined);
    return bookFrame(topic, symbol, book);
  }

  private tickerFrame(topic: string, ticker: BybitTickerData, envelope: BybitEnvelope): string {
    const frame = { topic, ts: this.stamp(topic, envelope.ts), type: 'snapshot', cs: envelope.cs ?? ++this.cs, data: ticker };
    return JSON.stringify(frame);
  }

  /** Server time for a topic, never behind the last time that topic was stamped with. */
  private stamp(topic: string, ts: number | undefined): number {
    const value = ts ?? Math.max(Date.now(), (this.lastTs.get(topic) ?? 0) + 1);
    this.lastTs.set(topic, value);
    return value;
  }

  /** Bybit re-sends an unchanged level-1 book every 3 s, with the same `u`. */
  private resendBooks(): void {
    for (const [symbol, state] of this.books) {
      const topic = `orderbook.1.${symbol}`;
      if (this.subscribers(topic) === 0) continue;
      state.ts = this.stamp(topic, undefined);
      this.deliver(topic, bookFrame(topic, symbol, state));
    }
  }

  private addTopic(client: Client, topic: string): void {
    client.topics.add(topic);
    if (topic.startsWith('tickers.')) this.subscribeTicker(client, topic.slice('tickers.'.length));
  }

  private removeTopic(client: Client, topic: string): void {
    client.topics.delete(topic);
    if (topic.startsWith('tickers.')) this.unsubscribeTicker(client, topic.slice('tickers.'.length));
  }

  protected override sendTick(symbol: string, subscribers: ReadonlySet<Client>): void {
    const current = this.tickers.get(symbol) ?? this.defaultTicker(symbol);
    const last = numberOr(current.lastPrice, 100);
    const open = numberOr(current.prevPrice24h, last);
    const moved = moveTicker({ last, open, high: numberOr(current.highPrice24h, last), low: numberOr(current.lowPrice24h, last), volume: numberOr(current.volume24h, 10) }, this.random);
    const ticker: BybitTickerData = {
      ...current,
      lastPrice: decimalText(moved.last),
      highPrice24h: decimalText(moved.high),
      lowPrice24h: decimalText(moved.low),
      volume24h: decimalText(moved.volume),
      turnover24h: decimalText(numberOr(current.turnover24h, 0) + moved.tradedQuote),
      price24hPcnt: decimalText(Number(((moved.last - open) / open).toFixed(4))), // a fraction, four decimals: "-0.0137"
    };
    this.tickers.set(symbol, ticker);
    this.sendEach(subscribers, this.tickerFrame(`tickers.${symbol}`, ticker, {}));
  }

  private countInbound(client: Client): void {
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, client.inbound.record());
  }

  private deliver(topic: string, frame: string): number {
    return this.broadcast(frame, (client) => client.topics.has(topic));
  }

  private reply(client: Client, body: Reply): void {
    this.send(client, JSON.stringify(body));
  }
}

function bookFrame(topic: string, symbol: string, state: BookState): string {
  return JSON.stringify({
    topic,
    ts: state.ts,
    type: 'snapshot',
    data: { s: symbol, b: state.book.bids, a: state.book.asks, u: state.u, seq: state.seq },
    cts: state.ts - 2,
  });
}

function instrumentMarket(instrument: BybitInstrument): LocalMarket {
  const status = instrument.status ?? 'Trading';
  return { symbol: instrument.symbol, base: instrument.baseCoin, quote: instrument.quoteCoin, trading: status === 'Trading', status };
}

function instrumentEntry(market: LocalMarket): Readonly<Record<string, unknown>> {
  return {
    symbol: market.symbol,
    baseCoin: market.base,
    quoteCoin: market.quote,
    innovation: '0',
    status: market.status ?? 'Trading',
    marginTrading: 'none',
    lotSizeFilter: { basePrecision: '0.000001', quotePrecision: '0.0000001', minOrderQty: '0.000048', maxOrderQty: '71.73956243', minOrderAmt: '1', maxOrderAmt: '2000000' },
    priceFilter: { tickSize: '0.01' },
  };
}
