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
 *   `id`, when given, echoed first);
 * - errors are `{"event":"error","code":..,"msg":..,"connId":..}` with OKX's codes: 60012 invalid
 *   request (not JSON, not an object, a bad `id`), 60019 invalid op, 60013 invalid args, 60018
 *   unknown channel or instId (message text as OKX words it), 60014 requests too frequent;
 * - an `args` list longer than 64 KB closes the connection with 1009; a connection that has had
 *   nothing pushed (data, acks or pongs) for `idleTimeoutMs` (30 s) is closed with 4004;
 * - `GET /api/v5/public/instruments?instType=SPOT` lists the instruments with `baseCcy`,
 *   `quoteCcy` and `state`, in OKX's `{"code":"0","msg":"","data":[..]}` envelope.
 *
 * Choices where OKX's behaviour is undocumented: a request with one bad argument is refused
 * whole (one error, nothing subscribed), the stricter of the two possibilities; more than 480
 * subscribe/unsubscribe requests in an hour on one connection get 60014; a fourth upgrade
 * within one second is refused with HTTP 429; after `notice()` connections close with 1001.
 *
 * Everything a client sends is kept (`requests`), and every frame this server refused or found
 * not exactly in OKX's documented shape is described in `violations`, so tests can assert that
 * the adapter speaks the protocol exactly.
 *
 * Test hooks: `push`, `tickerFrame`, `sendRaw`, `dropConnections`, `stall`, `notice`,
 * `setRestAvailable`, `subscribers`, `connections`, `stats`, `requests`, `violations`, `close`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { isRecord } from '../../../src/ingest/json-frame';
import { TimerSet, type TimerHandle } from '../../../src/ingest/timer-set';

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
  /** Close a connection with nothing pushed for this long (4004); 0 = never. Default 30 000. */
  readonly idleTimeoutMs?: number;
  /** Upgrades accepted per second (OKX: 3 per IP). Default 3. */
  readonly maxConnectionsPerSecond?: number;
  /** subscribe/unsubscribe requests per connection per hour (OKX: 480). Default 480. */
  readonly maxRequestsPerHour?: number;
  /** Largest `args` in bytes (OKX: 64 KB). Default 65 536. */
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

interface Client {
  readonly ws: WebSocket;
  readonly connId: string;
  readonly subscriptions: Set<string>;
  /** Arrival times of inbound frames within the last second. */
  readonly inbound: number[];
  /** Arrival times of subscribe/unsubscribe requests within the last hour. */
  readonly requestTimes: number[];
  /** Stalled connections send nothing at all, and are not closed for being idle. */
  stalled: boolean;
  lastPushAt: number;
  idleTimer: TimerHandle | null;
}

type Ticker = Record<string, unknown>;

const REQUEST_KEYS = new Set(['id', 'op', 'args']);
const ARG_KEYS = new Set(['channel', 'instId']);
const HOUR_MS = 3_600_000;

export class OkxServer {
  readonly wsUrl: string;
  readonly restUrl: string;

  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly clients = new Set<Client>();
  private readonly timers = new TimerSet();
  private readonly instruments: ReadonlyMap<string, OkxInstrument>;
  private readonly tickers = new Map<string, Ticker>();
  private readonly upgradeTimes: number[] = [];
  private readonly received: ReceivedRequest[] = [];
  private readonly problems: string[] = [];
  private restAvailable = true;
  private counters = { upgrades: 0, refusedUpgrades: 0, pings: 0, requests: 0, acks: 0, errors: 0, idleCloses: 0, peakInboundPerSecond: 0, instrumentsRequests: 0 };
  private closing: Promise<void> | null = null;

  static async start(options: OkxServerOptions = {}): Promise<OkxServer> {
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
    return new OkxServer(server, host, port, options);
  }

  private constructor(
    private readonly server: Server,
    host: string,
    readonly port: number,
    private readonly options: OkxServerOptions,
  ) {
    this.wsUrl = `ws://${host}:${port}/ws/v5/public`;
    this.restUrl = `http://${host}:${port}`;
    this.instruments = new Map((options.instruments ?? OKX_TEST_INSTRUMENTS).map((i) => [i.instId, i]));
    server.on('request', (request, response) => this.onHttp(request, response));
    server.on('upgrade', (request, socket, head) => this.onUpgrade(request, socket, head));
  }

  get connections(): number {
    return this.clients.size;
  }

  get stats(): OkxServerStats {
    return { ...this.counters };
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
    let count = 0;
    for (const client of this.clients) if (client.subscriptions.has(instId)) count++;
    return count;
  }

  /**
   * Sends a `tickers` push to every connection subscribed to `instId`. `fields` replace wire
   * fields of the instrument's current ticker and are kept for later pushes; `ts` defaults to
   * now. Returns the frame sent and how many connections it reached.
   */
  push(instId: string, fields: Readonly<Record<string, unknown>> = {}): { readonly frame: string; readonly delivered: number } {
    const ticker = { ...this.currentTicker(instId), ts: String(Date.now()), ...fields };
    this.tickers.set(instId, ticker);
    const frame = JSON.stringify({ arg: { channel: 'tickers', instId }, data: [ticker] });
    let delivered = 0;
    for (const client of this.clients) if (client.subscriptions.has(instId) && this.send(client, frame)) delivered++;
    return { frame, delivered };
  }

  /** The push frame `push` would send, without sending it or keeping the fields. */
  tickerFrame(instId: string, fields: Readonly<Record<string, unknown>> = {}): string {
    return JSON.stringify({ arg: { channel: 'tickers', instId }, data: [{ ...this.currentTicker(instId), ts: String(Date.now()), ...fields }] });
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

  /** Current connections go silent (no data, pongs or replies); new connections behave normally. */
  stall(): void {
    for (const client of this.clients) client.stalled = true;
  }

  /**
   * Sends `notice` 64008 (service upgrade) to every connection and closes them (1001) after
   * `closeAfterMs` (default 1000; OKX waits about 60 s; null leaves them open).
   */
  notice(options: { readonly closeAfterMs?: number | null } = {}): void {
    const closeAfterMs = options.closeAfterMs === undefined ? 1000 : options.closeAfterMs;
    for (const client of this.clients) {
      this.send(client, JSON.stringify({ event: 'notice', code: '64008', msg: 'The connection will soon be closed for a service upgrade. Please reconnect.', connId: client.connId }));
      if (closeAfterMs !== null) this.timers.timeout(closeAfterMs, () => client.ws.close(1001, 'service upgrade'));
    }
  }

  /** When false, the instruments call answers HTTP 503 with OKX's 50001. */
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

  // -------------------------------------------------------------------------------------------
  // REST

  private onHttp(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://okx');
    if (request.method !== 'GET' || url.pathname !== '/api/v5/public/instruments') {
      return json(response, 404, { code: '50000', msg: `Unknown path ${url.pathname}`, data: [] });
    }
    this.counters.instrumentsRequests++;
    if (!this.restAvailable) return json(response, 503, { code: '50001', msg: 'Service temporarily unavailable. Please try again later.', data: [] });
    const instType = url.searchParams.get('instType');
    if (!instType) return json(response, 400, { code: '50014', msg: 'Parameter instType can not be empty.', data: [] });
    const data = instType === 'SPOT' ? [...this.instruments.values()].map(instrumentEntry) : [];
    json(response, 200, { code: '0', msg: '', data });
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.counters.upgrades++;
    socket.on('error', () => socket.destroy());
    const now = Date.now();
    while (this.upgradeTimes.length > 0 && this.upgradeTimes[0]! <= now - 1000) this.upgradeTimes.shift();
    if (this.upgradeTimes.length >= (this.options.maxConnectionsPerSecond ?? 3)) {
      this.counters.refusedUpgrades++;
      this.problems.push('more connection requests than allowed per second');
      return refuse(socket, 429);
    }
    this.upgradeTimes.push(now);
    const url = new URL(request.url ?? '/', 'http://okx');
    if (url.pathname !== '/ws/v5/public') {
      this.problems.push(`upgrade on wrong path ${url.pathname}`);
      return refuse(socket, 404);
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const client: Client = {
      ws,
      connId: randomBytes(4).toString('hex'),
      subscriptions: new Set(),
      inbound: [],
      requestTimes: [],
      stalled: false,
      lastPushAt: Date.now(),
      idleTimer: null,
    };
    this.clients.add(client);
    this.armIdleClose(client);
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', () => undefined); // a reset client; 'close' follows
    ws.on('close', () => {
      this.timers.clear(client.idleTimer);
      this.clients.delete(client);
    });
  }

  /** OKX drops a connection that has had nothing pushed for 30 s, whatever the client sends. */
  private armIdleClose(client: Client): void {
    const limit = this.options.idleTimeoutMs ?? 30_000;
    if (limit <= 0) return;
    const check = (): void => {
      const idle = Date.now() - client.lastPushAt;
      if (client.stalled || idle < limit) {
        client.idleTimer = this.timers.timeout(client.stalled ? limit : limit - idle, check);
        return;
      }
      this.counters.idleCloses++;
      client.ws.close(4004, 'No data received in 30s');
    };
    client.idleTimer = this.timers.timeout(limit, check);
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    this.countInbound(client);
    if (client.stalled) return;
    if (isBinary) {
      this.problems.push('binary frame');
      return this.error(client, undefined, '60012', 'Invalid request: binary frame');
    }
    const text = rawText(data);
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
    const now = Date.now();
    while (client.requestTimes.length > 0 && client.requestTimes[0]! <= now - HOUR_MS) client.requestTimes.shift();
    client.requestTimes.push(now);
    if (client.requestTimes.length > (this.options.maxRequestsPerHour ?? 480)) {
      this.problems.push(`more than ${this.options.maxRequestsPerHour ?? 480} requests in an hour`);
      return this.error(client, id, '60014', 'Requests too frequent');
    }
    if (!Array.isArray(args) || args.length === 0) {
      this.problems.push('args is not a non-empty array');
      return this.error(client, id, '60013', 'Invalid args');
    }
    if (Buffer.byteLength(JSON.stringify(args)) > (this.options.maxArgsBytes ?? 65_536)) {
      this.problems.push('args longer than 64 KB');
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
      if (op === 'subscribe') client.subscriptions.add(instId);
      else client.subscriptions.delete(instId);
      this.counters.acks++;
      this.send(client, JSON.stringify({ ...(id === undefined ? {} : { id }), event: op, arg: { channel: 'tickers', instId }, connId: client.connId }));
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
    if (channel !== 'tickers' || name === '' || !this.instruments.has(name)) {
      return { code: '60018', msg: `Wrong URL or channel:${channel},instId:${name} doesn't exist. Please use the correct URL, channel and parameters referring to API document.` };
    }
    return null;
  }

  private error(client: Client, id: unknown, code: string, msg: string): void {
    this.counters.errors++;
    this.send(client, JSON.stringify({ ...(id === undefined ? {} : { id }), event: 'error', code, msg, connId: client.connId }));
  }

  private countInbound(client: Client): void {
    const now = Date.now();
    client.inbound.push(now);
    while (client.inbound.length > 0 && client.inbound[0]! <= now - 1000) client.inbound.shift();
    this.counters.peakInboundPerSecond = Math.max(this.counters.peakInboundPerSecond, client.inbound.length);
  }

  private send(client: Client, data: string | Buffer): boolean {
    if (client.stalled || client.ws.readyState !== WebSocket.OPEN) return false;
    client.ws.send(data, { binary: typeof data !== 'string' });
    client.lastPushAt = Date.now();
    return true;
  }

  private currentTicker(instId: string): Ticker {
    const known = this.tickers.get(instId);
    if (known) return known;
    const price = this.instruments.get(instId)?.price ?? 100;
    const text = (value: number): string => String(Number(value.toPrecision(10)));
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

function instrumentEntry(instrument: OkxInstrument): Record<string, string> {
  return {
    instType: 'SPOT',
    instId: instrument.instId,
    uly: '',
    instFamily: '',
    baseCcy: instrument.baseCcy,
    quoteCcy: instrument.quoteCcy,
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
    state: instrument.state ?? 'live',
  };
}

function refuse(socket: Duplex, status: number): void {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Connection: close', 'Content-Length: 0'];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
