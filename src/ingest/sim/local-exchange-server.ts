/**
 * What every local exchange server shares, whatever protocol it speaks: HTTP and WebSocket on
 * one port, the set of open connections, and the faults tests inject. `BinanceSim` (which also
 * backs `FEEDS=sim`) and the test servers in `test/support/exchanges/` extend it; everything
 * an exchange defines (paths, frames, limits, heartbeats, error bodies) stays in its subclass.
 *
 * A base class rather than a helper object because the shared part is mostly public surface:
 * every server offers the same test hooks with the same meaning, so they are written and
 * documented once, here:
 * - `sendRaw(data)`: any frame to every connection; `dropConnections()`: a network failure;
 * - `stall()`: open connections go silent, sending nothing at all (data, replies, pings,
 *   heartbeats) until they close, so a client's silence watchdog can be tested; connections
 *   opened later behave normally;
 * - `setRestAvailable(false)`: the exchange's REST route answers its "unavailable" error;
 * - `connections`, `port`, `restUrl`, and `close()`: stops every timer, cuts every connection
 *   and stops listening (calling it again returns the same promise).
 *
 * A subclass has a private constructor taking `Listening` and a `static start(options)` that
 * awaits `listen(options)` first, and implements four hooks:
 * - `admit(url)`: counts and vets a WebSocket upgrade: null accepts, else the HTTP refusal;
 * - `accept(base, url)`: the new connection's protocol state (`{ ...base, ... }`), its
 *   deadline and any greeting;
 * - `receive(client, text, isBinary)`: one inbound frame (a binary one decoded as UTF-8 too);
 * - `serveHttp(request, url, response)`: every HTTP request; answer with `respondJson`.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { TimerSet, type TimerHandle } from '../timer-set';

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

export abstract class LocalExchangeServer<C extends LocalClient> {
  readonly port: number;
  /** REST base, `http://<host>:<port>`. */
  readonly restUrl: string;

  protected readonly clients = new Set<C>();
  /** Every timer the server runs, so `close()` can stop them all. */
  protected readonly timers = new TimerSet();
  /** Flipped by `setRestAvailable`; each subclass decides which route it fails and how. */
  protected restAvailable = true;

  private readonly server: Server;
  private readonly host: string;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly deadlines = new Map<C, TimerHandle>();
  private closing: Promise<void> | null = null;

  /** `jsonContentType`: the `content-type` of JSON responses, spelled as the real exchange sends it. */
  protected constructor(listening: Listening, private readonly jsonContentType: string) {
    this.server = listening.server;
    this.host = listening.host;
    this.port = listening.port;
    this.restUrl = `http://${this.host}:${this.port}`;
    this.server.on('request', (request, response) => this.serveHttp(request, requestUrl(request), response));
    this.server.on('upgrade', (request, socket, head) => this.onUpgrade(request, socket, head));
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.clients.size;
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

  /** When false, the exchange's REST route answers its "unavailable" error. */
  setRestAvailable(available: boolean): void {
    this.restAvailable = available;
  }

  /** Stops every timer, cuts every connection and stops listening. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Counts and vets a WebSocket upgrade: null accepts it, else how to refuse it. */
  protected abstract admit(url: URL): UpgradeRefusal | null;

  /**
   * Builds an accepted connection's state from `base` (spread it into the result), and starts
   * what a new connection starts: its deadline, a greeting. The result is what the other hooks get.
   */
  protected abstract accept(base: LocalClient, url: URL): C;

  /** One inbound frame; `text` is the frame as UTF-8 even when `isBinary`. */
  protected abstract receive(client: C, text: string, isBinary: boolean): void;

  /** Answers one HTTP request, through `respondJson`. */
  protected abstract serveHttp(request: IncomingMessage, url: URL, response: ServerResponse): void;

  /** Called once a connection has closed and left `clients`. */
  protected disconnected(_client: C): void {}

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
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': this.jsonContentType, 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = requestUrl(request);
    const refusal = this.admit(url);
    if (refusal !== null) return refuse(socket, refusal);
    this.wss.handleUpgrade(request, socket, head, (ws) => this.open(ws, url));
  }

  private open(ws: WebSocket, url: URL): void {
    const client = this.accept({ ws, stalled: false, lastSentAt: Date.now() }, url);
    this.clients.add(client);
    ws.on('message', (data, isBinary) => this.receive(client, rawText(data), isBinary));
    ws.on('error', () => undefined); // a reset client; 'close' follows
    ws.on('close', () => {
      this.clearDeadline(client);
      this.clients.delete(client);
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
