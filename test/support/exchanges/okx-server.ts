/**
 * A local server that speaks OKX API v5's public WebSocket and instruments REST call
 * (/work/shared/exchanges/okx.md; docs-v5 "WebSocket" and "Error Code / WebSocket / Public"),
 * for the OKX adapter's integration tests.
 *
 * HTTP + WebSocket on one port (127.0.0.1, port 0 = a free one):
 * - WebSocket on `/ws/v5/public` only; any other path is refused with HTTP 404;
 * - the text `ping` is answered with the text `pong`;
 * - `{"op":"subscribe"|"unsubscribe","args":[{"channel":"tickers","instId":..}],"id"?:..}` is
 *   answered with one `{"event":"subscribe","arg":{..},"connId":..}` per argument (the request
 *   `id`, when given, echoed first); with `snapshotOnSubscribe`, each newly subscribed
 *   instrument's current ticker follows its ack; `push` and ticking (`startTicking`) send more;
 * - errors are `{"event":"error","code":..,"msg":..,"connId":..}` with OKX's codes: 60012 invalid
 *   request (not JSON, not an object, a bad `id`), 60019 invalid op, 60013 invalid args, 60018
 *   unknown channel, or an instId that is not listed or not live (message text as OKX words
 *   it), 60014 requests too frequent;
 * - a connection that has had nothing pushed (data, acks or pongs) for `idleTimeoutMs` (30 s)
 *   is closed with 4004;
 * - `GET /api/v5/public/instruments?instType=SPOT` lists the instruments in `data[]` with
 *   `instId`, `baseCcy`, `quoteCcy` and `state` (`live`, `suspend` once delisted), in OKX's
 *   `{"code":"0","msg":"","data":[..]}` envelope.
 *
 * Limits, OKX's values by default, each breach recorded in `breaches`:
 * - 3 connection attempts per second per IP: HTTP 429;
 * - 480 subscribe/unsubscribe requests per hour per connection: the one over gets 60014 and
 *   changes nothing;
 * - 64 KB of `args` (serialized, UTF-8) per request: the connection is closed with 1009.
 *
 * Choices where OKX's behaviour is undocumented: a request with one bad argument is refused
 * whole (one error, nothing subscribed), the stricter of the two possibilities; the answers to
 * the limits above (60014; 1009; HTTP 429); after `notice()` connections close with 1001.
 *
 * Everything a client sends is kept (`requests`), and every frame this server refused or found
 * not exactly in OKX's documented shape is described in `violations`, so tests can assert that
 * the adapter speaks the protocol exactly.
 *
 * Test hooks: `push`, `tickerFrame`, `notice`, `subscribers`, `stats`, `requests`,
 * `violations`, and those of every local exchange (`src/ingest/sim/local-exchange-server.ts`):
 * the listing (`setListing`, `list`, `delist`, `setListingBody`, `listingRequests`),
 * `startTicking`/`stopTicking`, `breaches`, `sendRaw`, `dropConnections`, `stall`,
 * `setRestAvailable` (instruments answers HTTP 503 with OKX's 50001), `connections`, `close`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord } from '../../../src/ingest/json-frame';
import { ArrivalWindow } from '../../../src/ingest/sim/arrival-window';
import { listingFrom, SPELLINGS, type LocalMarket, type ListingOption } from '../../../src/ingest/sim/listing';
import { LocalExchangeServer, listen, type Listening, type LocalClient, type RateLimit, type UpgradeRefusal } from '../../../src/ingest/sim/local-exchange-server';
import { decimalText, moveTicker, numberOr, startingPrice } from '../../../src/ingest/sim/market-prices';

export interface OkxInstrument {
  readonly instId: string;
  readonly baseCcy: string;
  readonly quoteCcy: string;
  /** `live`, `suspend`, `preopen` or `test`. Default `live`. */
  readonly state?: string;
  /** Last price the default ticker starts from. Default 100. */
  readonly price?: number;
}

/** A few real spot pairs, one of them suspended. */
export const OKX_TEST_INSTRUMENTS: readonly OkxInstrument[] = [
  { instId: 'BTC-USDT', baseCcy: 'BTC', quoteCcy: 'USDT', price: 96871.3 },
  { instId: 'ETH-USDT', baseCcy: 'ETH', quoteCcy: 'USDT', price: 3352.11 },
  { instId: 'SOL-USDT', baseCcy: 'SOL', quoteCcy: 'USDT', price: 184.31 },
  { instId: 'ETH-BTC', baseCcy: 'ETH', quoteCcy: 'BTC', price: 0.0346 },
  { instId: 'BTC-USDC', baseCcy: 'BTC', quoteCcy: 'USDC', price: 96870.1 },
  { instId: 'LUNA-USDT', baseCcy: 'LUNA', quoteCcy: 'USDT', state: 'suspend', price: 0.2 },
];

export interface OkxServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Default `OKX_TEST_INSTRUMENTS`. */
  readonly instruments?: readonly OkxInstrument[];
  /** Instead of `instruments`: that many synthetic instruments (`BASE-QUOTE`), or exactly these. */
  readonly listing?: ListingOption;
  /** Send a newly subscribed live instrument's current ticker right after its ack. Default false: only `push` and ticks send data. */
  readonly snapshotOnSubscribe?: boolean;
  /** Close a connection with nothing pushed for this long (4004); 0 = never. Default 30 000. */
  readonly idleTimeoutMs?: number;
  /** WebSocket upgrades per IP. Default 3 per second. */
  readonly connectionLimit?: RateLimit;
  /** subscribe/unsubscribe requests per connection. Default 480 per hour. */
  readonly subscribeOpsLimit?: RateLimit;
  /** Largest `args` of one request, in bytes. Default 65 536 (64 KB). */
  readonly maxArgsBytes?: number;
}

export interface OkxServerStats {
  /** WebSocket upgrade requests, refused ones included. */
  readonly upgrades: number;
  readonly refusedUpgrades: number;
  /** Text `ping` frames received (each answered with `pong` unless stalled). */
  readonly pings: number;
  /** JSON requests received, valid or not. */
  readonly requests: number;
  readonly acks: number;
  readonly errors: number;
  /** Connections closed with 4004 for being idle. */
  readonly idleCloses: number;
  /** Most frames received on one connection within any one second, pings included. */
  readonly peakInboundPerSecond: number;
  readonly instrumentsRequests: number;
}

export interface ReceivedRequest {
  readonly connId: string;
  /** Epoch ms of arrival. */
  readonly at: number;
  readonly text: string;
}

interface Client extends LocalClient {
  readonly connId: string;
  /** Inbound frames within the last second. */
  readonly inbound: ArrivalWindow;
  /** Subscribe/unsubscribe requests within the `subscribeOpsLimit` window. */
  readonly requestTimes: ArrivalWindow;
}

type Ticker = Readonly<Record<string, unknown>>;

const REQUEST_KEYS = new Set(['id', 'op', 'args']);
const ARG_KEYS = new Set(['channel', 'instId']);
/** OKX: 3 connection requests per second per IP. */
const CONNECTION_LIMIT: RateLimit = { max: 3, windowMs: 1000 };
/** OKX: 480 subscribe/unsubscribe/login operations per hour per connection. */
const SUBSCRIBE_OPS_LIMIT: RateLimit = { max: 480, windowMs: 3_600_000 };
const MAX_ARGS_BYTES = 65_536;

export class OkxServer extends LocalExchangeServer<Client> {
  readonly wsUrl: string;

  protected readonly listingPath = '/api/v5/public/instruments';
  /** Current ticker per instrument, once pushed or moved. */
  private readonly tickers = new Map<string, Ticker>();
  /** Starting prices the `instruments` option gave. */
  private readonly startPrices = new Map<string, number>();
  private readonly received: ReceivedRequest[] = [];
  private readonly problems: string[] = [];
  private counters = { pings: 0, requests: 0, acks: 0, errors: 0, idleCloses: 0, peakInboundPerSecond: 0 };

  static async start(options: OkxServerOptions = {}): Promise<OkxServer> {
    return new OkxServer(await listen(options), options);
  }

  private constructor(listening: Listening, private readonly options: OkxServerOptions) {
    if (options.instruments !== undefined && options.listing !== undefined) throw new Error('give either instruments or listing, not both');
    const instruments = options.instruments ?? (options.listing === undefined ? OKX_TEST_INSTRUMENTS : []);
    const listing = listingFrom(options.listing, SPELLINGS.okx, () => instruments.map(instrumentMarket));
    super(listening, { jsonContentType: 'application/json', listing, connectionLimit: options.connectionLimit ?? CONNECTION_LIMIT });
    for (const instrument of instruments) if (instrument.price !== undefined) this.startPrices.set(instrument.instId, instrument.price);
    this.wsUrl = this.wsUrlAt('/ws/v5/public');
  }

  get stats(): OkxServerStats {
    return { ...this.upgradeStats, ...this.counters, instrumentsRequests: this.listingRequests };
  }

  /** Every text frame clients sent other than `ping`, in arrival order. */
  get requests(): readonly ReceivedRequest[] {
    return [...this.received];
  }

  /** Frames refused, or not exactly in the documented shape. Empty for a well-behaved client. */
  get violations(): readonly string[] {
    return [...this.problems];
  }

  /** Connections subscribed to the instrument's `tickers`. */
  subscribers(instId: string): number {
    return this.tickerSubscribers(instId).size;
  }

  /**
   * Sends a `tickers` push to every connection subscribed to `instId`. `fields` replace wire
   * fields of the instrument's current ticker and are kept for later pushes; `ts` defaults to
   * now. Returns the frame sent and how many connections it reached.
   */
  push(instId: string, fields: Readonly<Record<string, unknown>> = {}): { readonly frame: string; readonly delivered: number } {
    const ticker = { ...this.currentTicker(instId), ts: String(Date.now()), ...fields };
    this.tickers.set(instId, ticker);
    const frame = pushFrame(instId, ticker);
    return { frame, delivered: this.sendEach(this.tickerSubscribers(instId), frame) };
  }

  /** The push frame `push` would send, without sending it or keeping the fields. */
  tickerFrame(instId: string, fields: Readonly<Record<string, unknown>> = {}): string {
    return pushFrame(instId, { ...this.currentTicker(instId), ts: String(Date.now()), ...fields });
  }

  /**
   * Sends `notice` 64008 (service upgrade) to every connection and closes them (1001) after
   * `closeAfterMs` (default 1000; OKX waits about 60 s; null leaves them open).
   */
  notice(options: { readonly closeAfterMs?: number | null } = {}): void {
    const notice = (client: Client): string =>
      JSON.stringify({ event: 'notice', code: '64008', msg: 'The connection will soon be closed for a service upgrade. Please reconnect.', connId: client.connId });
    this.noticeThenClose(notice, 'service upgrade', options.closeAfterMs);
  }

  // -------------------------------------------------------------------------------------------
  // REST

  protected override serveListing(url: URL, response: ServerResponse): void {
    const instType = url.searchParams.get('instType');
    if (!instType) return this.respondJson(response, 400, { code: '50014', msg: 'Parameter instType can not be empty.', data: [] });
    const data = instType === 'SPOT' ? this.listing.map(instrumentEntry) : [];
    this.respondJson(response, 200, { code: '0', msg: '', data });
  }

  protected override listingUnavailable(response: ServerResponse): void {
    this.respondJson(response, 503, { code: '50001', msg: 'Service temporarily unavailable. Please try again later.', data: [] });
  }

  protected override serveHttp(_request: IncomingMessage, url: URL, response: ServerResponse): void {
    this.respondJson(response, 404, { code: '50000', msg: `Unknown path ${url.pathname}`, data: [] });
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  protected override admit(url: URL): UpgradeRefusal | null {
    if (url.pathname !== '/ws/v5/public') {
      this.problems.push(`upgrade on wrong path ${url.pathname}`);
      return { status: 404 };
    }
    return null;
  }

  protected override accept(base: LocalClient): Client {
    const client: Client = {
      ...base,
      connId: randomBytes(4).toString('hex'),
      inbound: new ArrivalWindow(1000),
      requestTimes: new ArrivalWindow((this.options.subscribeOpsLimit ?? SUBSCRIBE_OPS_LIMIT).windowMs),
    };
    this.armIdleClose(client);
    return client;
  }

  /**
   * OKX drops a connection that has had nothing pushed (data, acks or pongs) for 30 s, whatever
   * the client sends. Stalled connections are never closed this way: they stand for a network
   * that stopped delivering, not for a server that closes.
   */
  private armIdleClose(client: Client): void {
    const limit = this.options.idleTimeoutMs ?? 30_000;
    if (limit <= 0) return;
    const check = (): void => {
      const idle = Date.now() - client.lastSentAt;
      if (client.stalled || idle < limit) {
        this.setDeadline(client, client.stalled ? limit : limit - idle, check);
        return;
      }
      this.counters.idleCloses++;
      client.ws.close(4004, 'No data received in 30s');
    };
    this.setDeadline(client, limit, check);
  }

  protected override receive(client: Client, text: string, isBinary: boolean): void {
    this.countInbound(client);
    if (client.stalled) return;
    if (isBinary) {
      this.problems.push('binary frame');
      return this.error(client, undefined, '60012', 'Invalid request: binary frame');
    }
    if (text === 'ping') {
      this.counters.pings++;
      this.send(client, 'pong');
      return;
    }
    this.received.push({ connId: client.connId, at: Date.now(), text });
    this.counters.requests++;
    this.request(client, text);
  }

  private request(client: Client, text: string): void {
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      this.problems.push(`not JSON: ${text.slice(0, 80)}`);
      return this.error(client, undefined, '60012', `Invalid request: ${text}`);
    }
    if (!isRecord(request)) {
      this.problems.push(`not a JSON object: ${text.slice(0, 80)}`);
      return this.error(client, undefined, '60012', `Invalid request: ${text}`);
    }
    const { id, op, args } = request;
    if (id !== undefined && !(typeof id === 'string' && /^[A-Za-z0-9]{1,32}$/.test(id))) {
      this.problems.push(`bad request id ${JSON.stringify(id)}`);
      return this.error(client, undefined, '60012', `Invalid request: ${text}`);
    }
    const extra = Object.keys(request).filter((key) => !REQUEST_KEYS.has(key));
    if (extra.length > 0) this.problems.push(`unexpected request keys: ${extra.join(', ')}`);
    if (op !== 'subscribe' && op !== 'unsubscribe') {
      this.problems.push(`op ${JSON.stringify(op)}`);
      return this.error(client, id, '60019', `Invalid op: ${typeof op === 'string' ? op : JSON.stringify(op)}`);
    }
    const ops = this.options.subscribeOpsLimit ?? SUBSCRIBE_OPS_LIMIT;
    const opsInWindow = client.requestTimes.record();
    if (opsInWindow > ops.max) {
      this.problems.push(`more than ${ops.max} subscribe/unsubscribe requests within ${ops.windowMs} ms`);
      this.breach('subscribe operations per hour', `${opsInWindow} subscribe/unsubscribe requests within ${ops.windowMs} ms on connection ${client.connId}; at most ${ops.max}`);
      return this.error(client, id, '60014', 'Requests too frequent');
    }
    if (!Array.isArray(args) || args.length === 0) {
      this.problems.push('args is not a non-empty array');
      return this.error(client, id, '60013', 'Invalid args');
    }
    const argsBytes = Buffer.byteLength(JSON.stringify(args));
    const maxArgsBytes = this.options.maxArgsBytes ?? MAX_ARGS_BYTES;
    if (argsBytes > maxArgsBytes) {
      this.problems.push('args longer than 64 KB');
      this.breach('args bytes per request', `args of ${argsBytes} bytes in one request on connection ${client.connId}; at most ${maxArgsBytes}`);
      client.ws.close(1009, 'Request message exceeds the maximum frame length');
      return;
    }
    const instIds: string[] = [];
    for (const arg of args) {
      const refused = this.checkArg(arg);
      if (refused !== null) {
        this.problems.push(`refused argument ${JSON.stringify(arg)}: ${refused.msg}`);
        return this.error(client, id, refused.code, refused.msg);
      }
      if (isRecord(arg) && typeof arg.instId === 'string') instIds.push(arg.instId);
    }
    for (const instId of instIds) {
      let added = false;
      if (op === 'subscribe') added = this.subscribeTicker(client, instId);
      else this.unsubscribeTicker(client, instId);
      this.counters.acks++;
      this.send(client, JSON.stringify({ ...(id === undefined ? {} : { id }), event: op, arg: { channel: 'tickers', instId }, connId: client.connId }));
      if (added && this.options.snapshotOnSubscribe === true) this.send(client, pushFrame(instId, { ...this.currentTicker(instId), ts: String(Date.now()) }));
    }
  }

  /** Null when OKX would accept the argument; else the error it answers. */
  private checkArg(arg: unknown): { readonly code: string; readonly msg: string } | null {
    if (!isRecord(arg)) return { code: '60013', msg: 'Invalid args' };
    const { channel, instId } = arg;
    if (typeof channel !== 'string' || channel === '') return { code: '60013', msg: 'Invalid args' };
    const extra = Object.keys(arg).filter((key) => !ARG_KEYS.has(key));
    if (extra.length > 0) this.problems.push(`unexpected argument keys: ${extra.join(', ')}`);
    const name = typeof instId === 'string' ? instId : '';
    if (channel !== 'tickers' || name === '' || !this.isTrading(name)) {
      return { code: '60018', msg: `Wrong URL or channel:${channel},instId:${name} doesn't exist. Please use the correct URL, channel and parameters referring to API document.` };
    }
    return null;
  }

  private error(client: Client, id: unknown, code: string, msg: string): void {
    this.counters.errors++;
    this.send(client, JSON.stringify({ ...(id === undefined ? {} : { id }), event: 'error', code, msg, connId: client.connId }));
  }

  private countInbound(client: Client): void {
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, client.inbound.record());
  }

  protected override sendTick(instId: string, subscribers: ReadonlySet<Client>, now: number): void {
    const current = this.currentTicker(instId);
    const last = numberOr(current.last, 100);
    const moved = moveTicker(
      { last, open: numberOr(current.open24h, last), high: numberOr(current.high24h, last), low: numberOr(current.low24h, last), volume: numberOr(current.vol24h, 1000) },
      this.random,
    );
    const ticker = {
      ...current,
      last: decimalText(moved.last, 10),
      lastSz: decimalText(moved.lastQty, 10),
      askPx: decimalText(moved.ask, 10),
      bidPx: decimalText(moved.bid, 10),
      high24h: decimalText(moved.high, 10),
      low24h: decimalText(moved.low, 10),
      volCcy24h: decimalText(numberOr(current.volCcy24h, 0) + moved.tradedQuote, 10),
      vol24h: decimalText(moved.volume, 10),
      ts: String(now),
    };
    this.tickers.set(instId, ticker);
    this.sendEach(subscribers, pushFrame(instId, ticker));
  }

  /** The instrument's ticker as last pushed or moved, else one around its starting price. */
  private currentTicker(instId: string): Ticker {
    const known = this.tickers.get(instId);
    if (known) return known;
    const market = this.listed(instId);
    const price = this.startPrices.get(instId) ?? (market ? startingPrice(market.base, market.quote) : 100);
    const text = (value: number): string => decimalText(value, 10);
    return {
      instType: 'SPOT',
      instId,
      last: text(price),
      lastSz: '0.1',
      askPx: text(price * 1.0001),
      askSz: '1.5',
      bidPx: text(price * 0.9999),
      bidSz: '2.5',
      open24h: text(price * 0.99),
      high24h: text(price * 1.02),
      low24h: text(price * 0.98),
      sodUtc0: text(price * 0.995),
      sodUtc8: text(price * 0.997),
      volCcy24h: text(price * 1000),
      vol24h: '1000',
    };
  }
}

function pushFrame(instId: string, ticker: Ticker): string {
  return JSON.stringify({ arg: { channel: 'tickers', instId }, data: [ticker] });
}

function instrumentMarket(instrument: OkxInstrument): LocalMarket {
  const state = instrument.state ?? 'live';
  return { symbol: instrument.instId, base: instrument.baseCcy, quote: instrument.quoteCcy, trading: state === 'live', status: state };
}

function instrumentEntry(market: LocalMarket): Record<string, string> {
  return {
    instType: 'SPOT',
    instId: market.symbol,
    uly: '',
    instFamily: '',
    baseCcy: market.base,
    quoteCcy: market.quote,
    settleCcy: '',
    ctVal: '',
    ctMult: '',
    ctValCcy: '',
    optType: '',
    stk: '',
    listTime: '1606468572000',
    expTime: '',
    lever: '10',
    tickSz: '0.1',
    lotSz: '0.00000001',
    minSz: '0.00001',
    ctType: '',
    alias: '',
    state: market.status ?? (market.trading ? 'live' : 'suspend'),
  };
}
