/**
 * The one socket loop every exchange shares. An adapter supplies the URL, the subscribe
 * messages, heartbeat rules and the frame parser; everything about keeping a socket alive
 * lives here:
 *
 * - subscribe messages (and our own heartbeats) go out paced under the exchange's inbound
 *   limit, with one slot per window kept free for the pongs ws sends by itself;
 * - ws answers server pings automatically (`autoPong`), and every ping counts as life;
 * - a watchdog replaces a socket that receives nothing (no data, no ping) for longer than
 *   the adapter's `silenceTimeoutMs`;
 * - lost connections are retried with jittered, capped exponential backoff (`backoff.ts`),
 *   never sooner than a `Retry-After` the exchange asked for;
 * - planned rotation (the exchange announced a shutdown, or the connection reached
 *   `maxConnectionAgeMs`) opens the replacement first, waits until it is subscribed, and only
 *   then closes the old socket: no gap, and it is not counted as a reconnect;
 * - `stop()` closes every socket and clears every timer, and resolves when all are closed.
 *
 * FAILURE POLICY: the one place that decides what is fatal and what is retried.
 *
 *   Fatal (status `down`, nothing is retried; a person has to change configuration or code):
 *   - the WebSocket URL is rejected by ws (malformed, unsupported scheme);
 *   - the HTTP upgrade is refused with a 4xx other than 408, 418, 425 and 429 (wrong path,
 *     401/403, 451 geo-block): the same request will be refused again, and every retry spends
 *     the IP's connection-attempt budget (Binance: 300 per 5 minutes) for nothing;
 *   - the adapter throws while building its subscribe messages (a bug that would repeat).
 *
 *   Retried with backoff (the network and exchanges recover by themselves):
 *   - refused, reset or timed-out connections, DNS and TLS failures, HTTP 5xx;
 *   - HTTP 429 (too many requests) and 418 (Binance's IP ban): not before `Retry-After`, or,
 *     without that header, not before the backoff cap, because hammering extends a ban;
 *   - any close of a live socket, including 1008 (we broke a rate limit) and 1001 (going away);
 *   - silence longer than `silenceTimeoutMs` (the watchdog terminates the socket; counted
 *     as a stall);
 *   - a replacement that fails during rotation: the old socket keeps serving and the rotation
 *     is tried again later.
 *
 *   Not failures: exchange `error` frames (reported to the owner; the socket stays, and a
 *   `retryAfterMs` delays the next connect) and `invalid` frames (reported, nothing else).
 *
 * SHARED LIMITS: a feed may spread its symbols over several connections (`connection-pool.ts`);
 * what the exchange counts per IP address is shared by all of them and owned by the pool:
 * new connections wait in one `ConnectionGate` (rate-window.ts), messages that count per IP
 * share one `RateWindow`, and frames read count against one `FrameBudget` (frame-budget.ts,
 * FLOODS). A connection made on its own (tests) makes its own.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../logger';
import type { ExchangeAdapter, FrameEvent } from './adapter';
import { backoffDelay, resolveBackoff, type BackoffOptions, type ResolvedBackoff } from './backoff';
import { BUDGET_WINDOW_MS, FrameBudget } from './frame-budget';
import { ConnectionGate, RateWindow, WINDOW_MARGIN, withMargin } from './rate-window';
import { SendPacer } from './send-pacer';
import { TimerSet, type TimerHandle } from './timer-set';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'down';

/** What the loop tells its owner (the Feed). Callbacks must not throw; the loop guards anyway. */
export interface ConnectionListener {
  /** Every inbound frame, parsed (binary frames arrive as `invalid`). */
  frame(event: FrameEvent, receivedAt: number): void;
  /**
   * `connecting` until the first socket is subscribed, `live` while one is, `reconnecting`
   * after losing a live socket, `down` after `stop()` or a fatal failure (with its reason).
   */
  status(status: ConnectionStatus, reason: string | null): void;
  /** A socket failed or was lost (retried or fatal, see the policy above). */
  failure(message: string): void;
  /** A new socket opened and was sent the subscription of every symbol in `symbols` now. */
  opened?(): void;
}

export interface ConnectionTiming {
  /** Overrides the adapter's silence limit (tests use a short one). */
  readonly silenceTimeoutMs?: number;
  /** Overrides the adapter's planned rotation age; null disables rotation by age. */
  readonly maxConnectionAgeMs?: number | null;
  /** Limit for the TCP + TLS + HTTP upgrade. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long a rotation's replacement may take to get subscribed. Default 15 000 ms. */
  readonly rotationTimeoutMs?: number;
  /** How long a closing socket may take for the close handshake before it is cut. Default 2 000 ms. */
  readonly closeGraceMs?: number;
}

/** What the exchange counts per IP address, shared by every connection of one feed. */
export interface SharedLimits {
  /** New connections wait here (`adapter.connectionRate`). */
  readonly gate: ConnectionGate;
  /** Frames read (see frame-budget.ts). */
  readonly budget: FrameBudget;
  /** Our messages, where the exchange counts them per IP (`adapter.messageRatePerIp`). */
  readonly messages: RateWindow | undefined;
}

/** The shared limits of one feed, on `timers` (the owner's, so stopping it stops them). */
export function sharedLimits(
  adapter: ExchangeAdapter,
  maxFramesPerSecond: number | undefined,
  timers: TimerSet,
  now: () => number,
  logger: Logger,
): SharedLimits {
  return {
    gate: new ConnectionGate(adapter.connectionRate, timers, now),
    budget: new FrameBudget(maxFramesPerSecond, timers, now, logger),
    messages: adapter.messageRatePerIp === undefined ? undefined : new RateWindow(withMargin(adapter.messageRatePerIp), true),
  };
}

export interface FeedConnectionOptions {
  readonly adapter: ExchangeAdapter;
  /** Native symbols this connection subscribes (within `adapter.capacity`); `addSymbols` adds more. */
  readonly symbols: readonly string[];
  /** This connection's number within its feed, for log lines. Default 1. */
  readonly number?: number;
  /** Limits shared with the feed's other connections; default: this connection's own. */
  readonly shared?: SharedLimits;
  readonly listener: ConnectionListener;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  readonly timing?: ConnectionTiming;
  /** Clock for receive times and timer arithmetic. Default `Date.now`. */
  readonly now?: () => number;
  /** Source of backoff jitter, [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Frames per second read before the sockets pause (frame-budget.ts); only without `shared`. Default: no limit. */
  readonly maxFramesPerSecond?: number;
}

/** Our messages per connection are counted in one-second windows, lengthened by the margin (rate-window.ts). */
const PACING_WINDOW_MS = Math.ceil(1000 * WINDOW_MARGIN);

interface Failure {
  readonly message: string;
  readonly fatal: boolean;
  readonly retryAfterMs: number | null;
}

/**
 * `active` delivers data; `pending` is a rotation's replacement (its data is delivered too:
 * overlap is harmless because the market book ignores older event times); `retiring` is closing.
 */
type Role = 'active' | 'pending' | 'retiring';

class Link {
  role: Role;
  readonly timers = new TimerSet();
  readonly pacer: SendPacer;
  openedAt: number | null = null;
  readyAt: number | null = null;
  lastFrameAt = 0;
  subscribeCount = 0;
  subscribesSent = false;
  acks = 0;
  sawData = false;
  failure: Failure | null = null;
  rotationTimer: TimerHandle | null = null;

  /** Leaves the feed's frame budget. */
  leaveBudget: () => void = () => {};

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    role: Role,
    limit: number,
    shared: RateWindow | undefined,
    now: () => number,
  ) {
    this.role = role;
    this.pacer = new SendPacer({
      limit,
      windowMs: PACING_WINDOW_MS,
      shared,
      timers: this.timers,
      now,
      send: (text) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
      },
    });
  }
}

type LoopState = 'idle' | 'running' | 'failed' | 'stopping' | 'stopped';

export class FeedConnection {
  private readonly adapter: ExchangeAdapter;
  private readonly listener: ConnectionListener;
  private readonly log: Logger;
  private readonly backoff: ResolvedBackoff;
  private readonly silenceTimeoutMs: number;
  private readonly maxConnectionAgeMs: number | null;
  private readonly connectTimeoutMs: number;
  private readonly rotationTimeoutMs: number;
  private readonly closeGraceMs: number;
  private readonly now: () => number;
  private readonly random: () => number;

  private readonly timers = new TimerSet();
  private readonly shared: SharedLimits;
  private readonly symbolList: string[];
  /** Cancels the wait for a connect slot, while one is awaited. */
  private cancelConnect: (() => void) | null = null;
  private readonly links = new Set<Link>();
  private active: Link | null = null;
  private pending: Link | null = null;
  private state: LoopState = 'idle';
  private status: ConnectionStatus | null = null;
  private attempt = 0;
  private rotationAttempt = 0;
  /** Earliest time the next connect may happen (Retry-After, exchange error frames). */
  private notBefore = 0;
  private everLive = false;
  /** A live socket was lost and no replacement is live yet. */
  private lost = false;
  private reconnectCount = 0;
  private stallCount = 0;
  private nextLinkId = 1;
  private closedWaiters: Array<() => void> = [];

  constructor(options: FeedConnectionOptions) {
    const { adapter, timing = {} } = options;
    this.adapter = adapter;
    this.listener = options.listener;
    this.log = options.logger.child({ connection: options.number ?? 1 });
    this.symbolList = [...options.symbols];
    this.backoff = resolveBackoff(options.backoff);
    this.silenceTimeoutMs = timing.silenceTimeoutMs ?? adapter.silenceTimeoutMs;
    this.maxConnectionAgeMs = timing.maxConnectionAgeMs === undefined ? (adapter.maxConnectionAgeMs ?? null) : timing.maxConnectionAgeMs;
    this.connectTimeoutMs = timing.connectTimeoutMs ?? 10_000;
    this.rotationTimeoutMs = timing.rotationTimeoutMs ?? 15_000;
    this.closeGraceMs = timing.closeGraceMs ?? 2_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.shared = options.shared ?? sharedLimits(adapter, options.maxFramesPerSecond, this.timers, this.now, this.log);
  }

  /** The symbols this connection subscribes (on every new socket). */
  get symbols(): readonly string[] {
    return this.symbolList;
  }

  /**
   * Subscribes more symbols: on the open sockets at once (paced like every message), and on
   * every socket opened later. The caller keeps within `adapter.capacity`.
   */
  addSymbols(symbols: readonly string[]): void {
    if (symbols.length === 0) return;
    this.symbolList.push(...symbols);
    let messages: string[];
    for (const link of this.links) {
      if (link.role === 'retiring' || link.openedAt === null) continue; // not open yet: onOpen subscribes the whole list
      try {
        messages = this.adapter.subscribeMessages(symbols);
      } catch (err) {
        this.listener.failure(`adapter failed to build subscribe messages for added symbols: ${errorText(err)}`);
        return;
      }
      for (const text of messages) link.pacer.enqueue(text);
    }
  }

  /**
   * Stops subscribing `symbols` on new sockets (a delisted market). Nothing is sent: the
   * exchange stops sending data for a market it no longer trades, and the feed ignores what
   * still arrives for it.
   */
  removeSymbols(symbols: ReadonlySet<string>): void {
    for (let i = this.symbolList.length - 1; i >= 0; i--) if (symbols.has(this.symbolList[i]!)) this.symbolList.splice(i, 1);
  }

  /** Sockets open right now (a rotation briefly has two). */
  get openSockets(): number {
    let open = 0;
    for (const link of this.links) if (link.ws.readyState === WebSocket.OPEN) open++;
    return open;
  }

  /** Sockets replaced by the watchdog because they went silent while open. */
  get stalls(): number {
    return this.stallCount;
  }

  /** One-second windows in which the frame budget ran out and reading paused (see frame-budget.ts). */
  get throttledSeconds(): number {
    return this.shared.budget.throttledSeconds;
  }

  /** Connections re-established after losing a live one (rotations excluded). */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** Sockets and timers this loop holds right now; all zero after `stop()` resolves. */
  get openResources(): { readonly sockets: number; readonly timers: number } {
    let timers = this.timers.size;
    for (const link of this.links) timers += link.timers.size;
    return { sockets: this.links.size, timers };
  }

  start(): void {
    if (this.state !== 'idle') throw new Error('FeedConnection.start() may be called once');
    this.state = 'running';
    this.setStatus('connecting', null);
    this.connect('active');
  }

  /** Replaces the live socket without a gap. Ignored while a rotation or reconnect is under way. */
  rotate(reason: string): void {
    if (this.state !== 'running' || this.pending !== null || this.active === null || this.cancelConnect !== null) return;
    this.log.info({ reason }, 'rotating connection: opening its replacement first');
    this.connect('pending');
  }

  stop(): Promise<void> {
    if (this.state === 'idle' || this.state === 'running' || this.state === 'failed') {
      this.state = 'stopping';
      this.cancelConnect?.();
      this.cancelConnect = null;
      this.timers.clearAll();
      for (const link of this.links) this.closeLink(link, 'stopping');
    }
    return this.whenAllClosed().then(() => {
      this.state = 'stopped';
      this.setStatus('down', 'stopped');
    });
  }

  /** Opens a socket for `role` once the feed's connection gate has room. */
  private connect(role: Role): void {
    if (this.cancelConnect !== null) return;
    let granted = false;
    const cancel = this.shared.gate.request((attemptEnded) => {
      granted = true;
      this.cancelConnect = null;
      if (this.state !== 'running' || (role === 'active' ? this.active !== null : this.pending !== null || this.active === null)) {
        attemptEnded();
        return;
      }
      const link = this.open(role, attemptEnded);
      if (link === null || role !== 'pending') return;
      link.rotationTimer = link.timers.timeout(this.rotationTimeoutMs, () => {
        link.failure = { message: `replacement not subscribed within ${this.rotationTimeoutMs} ms`, fatal: false, retryAfterMs: null };
        link.ws.terminate();
      });
    });
    // The gate may grant at once, inside `request`: then there is nothing left to cancel.
    if (!granted) this.cancelConnect = cancel;
  }

  /** Opens a socket; `attemptEnded` is told when its upgrade is answered or fails (the gate counts it then). */
  private open(role: Role, attemptEnded: () => void): Link | null {
    const url = this.adapter.wsUrl;
    let ws: WebSocket;
    try {
      // perMessageDeflate off: tickers are small, compression costs CPU per frame, and some
      // exchange front ends mishandle the extension negotiation.
      ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: this.connectTimeoutMs, autoPong: true });
    } catch (err) {
      attemptEnded();
      this.fail(`cannot open ${url}: ${errorText(err)}`);
      return null;
    }
    ws.once('upgrade', attemptEnded);
    ws.once('unexpected-response', attemptEnded);
    ws.once('close', attemptEnded);
    const limit = Math.max(1, this.adapter.maxMessagesPerSecond - 1);
    const link = new Link(this.nextLinkId++, ws, role, limit, this.shared.messages, this.now);
    this.links.add(link);
    link.leaveBudget = this.shared.budget.add(ws, (resumedAt) => {
      // A paused socket was not silent: the watchdog measures from here.
      link.lastFrameAt = Math.max(link.lastFrameAt, resumedAt);
    });
    if (role === 'active') this.active = link;
    else this.pending = link;
    this.log.debug({ socket: link.id, role, url }, 'connecting');

    ws.on('unexpected-response', (_request, response) => this.onRejected(link, response));
    ws.on('open', () => this.onOpen(link));
    ws.on('message', (data, isBinary) => this.onMessage(link, data, isBinary));
    ws.on('ping', () => {
      link.lastFrameAt = this.now();
      link.pacer.recordExternal(); // ws has already queued the pong; the exchange counts it
    });
    ws.on('pong', () => {
      link.lastFrameAt = this.now();
    });
    ws.on('error', (err) => {
      link.failure ??= { message: err.message, fatal: false, retryAfterMs: null };
    });
    ws.on('close', (code, reason) => this.onClose(link, code, reason.toString('utf8')));
    return link;
  }

  private onRejected(link: Link, response: IncomingMessage): void {
    response.resume();
    link.failure = classifyRejection(response.statusCode ?? 0, response.headers['retry-after'], this.now(), this.backoff.capMs);
    link.ws.terminate();
  }

  private onOpen(link: Link): void {
    if (this.state !== 'running') {
      this.closeLink(link, 'stopping');
      return;
    }
    const now = this.now();
    link.openedAt = now;
    link.lastFrameAt = now;
    this.armWatchdog(link);
    let messages: string[];
    try {
      messages = this.symbolList.length === 0 ? [] : this.adapter.subscribeMessages(this.symbolList);
    } catch (err) {
      this.fail(`adapter failed to build its subscribe messages: ${errorText(err)}`);
      return;
    }
    try {
      this.listener.opened?.();
    } catch (err) {
      this.log.error({ err }, 'opened listener threw');
    }
    link.subscribeCount = messages.length;
    link.subscribesSent = messages.length === 0;
    messages.forEach((text, index) => {
      const last = index === messages.length - 1;
      link.pacer.enqueue(text, last ? () => this.markSubscribed(link) : undefined);
    });
    const heartbeat = this.adapter.clientHeartbeat;
    if (heartbeat) {
      // At most one heartbeat waits in the queue: when pacing is slower than the heartbeat
      // interval, piling more up would only grow the queue.
      let waiting = false;
      link.timers.interval(heartbeat.intervalMs, () => {
        if (waiting) return;
        waiting = true;
        link.pacer.enqueue(heartbeat.message, () => {
          waiting = false;
        });
      });
    }
    const maxAge = this.maxConnectionAgeMs;
    if (maxAge !== null) {
      link.timers.timeout(maxAge, () => {
        if (link === this.active) this.rotate(`connection reached its planned age of ${maxAge} ms`);
      });
    }
    this.log.debug({ socket: link.id, role: link.role, subscribeMessages: messages.length }, 'socket open');
    this.checkReady(link);
  }

  private markSubscribed(link: Link): void {
    link.subscribesSent = true;
    this.checkReady(link);
  }

  private onMessage(link: Link, data: RawData, isBinary: boolean): void {
    const receivedAt = this.now();
    link.lastFrameAt = receivedAt;
    this.shared.budget.frame(receivedAt);
    const event: FrameEvent = isBinary
      ? { kind: 'invalid', reason: `binary frame of ${byteLength(data)} bytes; expected a text frame` }
      : this.parse(rawText(data));
    if (event.kind === 'ack') link.acks++;
    else if (event.kind === 'tickers') link.sawData = true;
    else if (event.kind === 'error' && event.retryAfterMs !== undefined) {
      this.notBefore = Math.max(this.notBefore, receivedAt + event.retryAfterMs);
    }
    try {
      this.listener.frame(event, receivedAt);
    } catch (err) {
      this.log.error({ err }, 'frame listener threw');
    }
    this.checkReady(link);
    if (event.kind === 'rotate' && link === this.active) this.rotate(event.reason);
  }

  private parse(text: string): FrameEvent {
    try {
      return this.adapter.parse(text);
    } catch (err) {
      return { kind: 'invalid', reason: `adapter.parse threw: ${errorText(err)}` };
    }
  }

  /**
   * A socket counts as subscribed once every subscribe message has left and either the
   * exchange acknowledged as many requests or market data has started to flow (some exchanges
   * ack per symbol, some not at all). A refused request is not an ack: a socket whose every
   * request was refused carries nothing and is not live.
   */
  private checkReady(link: Link): void {
    if (link.readyAt !== null || link.role === 'retiring' || !link.subscribesSent) return;
    if (link.acks < link.subscribeCount && !link.sawData) return;
    link.readyAt = this.now();
    if (link.role === 'pending') this.promote(link);
    else if (link === this.active) this.wentLive();
  }

  private wentLive(): void {
    if (this.lost) {
      this.reconnectCount++;
      this.lost = false;
    }
    this.everLive = true;
    this.setStatus('live', null);
  }

  private promote(link: Link): void {
    const old = this.active;
    link.timers.clear(link.rotationTimer);
    link.rotationTimer = null;
    link.role = 'active';
    this.pending = null;
    this.active = link;
    this.rotationAttempt = 0;
    if (old !== null) this.closeLink(old, 'rotated');
    this.log.info({ socket: link.id }, 'rotation complete');
    this.everLive = true;
    this.setStatus('live', null);
  }

  private armWatchdog(link: Link): void {
    const limit = this.silenceTimeoutMs;
    // One timer per socket, re-armed for the remaining time instead of on every frame.
    const check = (): void => {
      const idle = this.now() - link.lastFrameAt;
      const throttled = this.shared.budget.throttled;
      if (idle >= limit && !throttled) {
        this.stallCount++;
        link.failure = { message: `no frame for ${idle} ms (silence limit ${limit} ms)`, fatal: false, retryAfterMs: null };
        link.ws.terminate();
        return;
      }
      // While throttled we are the ones not reading: look again after the pause.
      link.timers.timeout(Math.max(limit - idle, throttled ? BUDGET_WINDOW_MS : 0), check);
    };
    link.timers.timeout(limit, check);
  }

  private onClose(link: Link, code: number, reason: string): void {
    const role = link.role;
    link.timers.clearAll();
    link.pacer.stop();
    link.leaveBudget();
    this.links.delete(link);
    if (this.active === link) this.active = null;
    if (this.pending === link) this.pending = null;
    if (this.links.size === 0) this.releaseClosedWaiters();
    if (this.state !== 'running' || role === 'retiring') return;

    const failure = link.failure ?? { message: closeText(code, reason), fatal: false, retryAfterMs: null };
    if (failure.fatal) {
      this.fail(failure.message);
      return;
    }
    if (failure.retryAfterMs !== null) this.notBefore = Math.max(this.notBefore, this.now() + failure.retryAfterMs);

    if (role === 'pending') {
      this.listener.failure(`rotation replacement failed: ${failure.message}`);
      if (this.active !== null) {
        const delay = this.delayFor(this.rotationAttempt++);
        this.log.warn({ socket: link.id, reason: failure.message, retryInMs: delay }, 'rotation replacement failed; old socket keeps serving');
        this.timers.timeout(delay, () => this.rotate('retrying rotation'));
        return;
      }
      this.lose(null, failure.message);
      return;
    }
    if (this.pending !== null) {
      // The planned successor is already on its way: still a rotation, not a loss.
      this.log.info({ socket: link.id, reason: failure.message }, 'old socket closed during rotation');
      return;
    }
    this.lose(link, failure.message);
  }

  private lose(link: Link | null, message: string): void {
    if (link?.readyAt != null && this.now() - link.readyAt >= this.backoff.healthyAfterMs) this.attempt = 0;
    this.listener.failure(message);
    if (this.everLive) {
      this.lost = true;
      this.setStatus('reconnecting', message);
    }
    const delay = this.delayFor(this.attempt++);
    // The first failure in a row is news; the retries after it are counted in `feeds`
    // (errors, lastError, reconnects) and logged at debug, so an unreachable exchange costs
    // one warning, not one per retry for as long as it stays away.
    const line = { socket: link?.id, reason: message, attempt: this.attempt, retryInMs: delay };
    if (this.attempt === 1) this.log.warn(line, 'connection lost; retrying');
    else this.log.debug(line, 'connection failed again; retrying');
    this.timers.timeout(delay, () => {
      if (this.state === 'running' && this.active === null) this.connect('active');
    });
  }

  private delayFor(attempt: number): number {
    return Math.max(backoffDelay(attempt, this.random, this.backoff), this.notBefore - this.now());
  }

  private fail(message: string): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.cancelConnect?.();
    this.cancelConnect = null;
    this.timers.clearAll();
    this.log.error({ reason: message }, 'connection failed permanently; not retrying');
    this.listener.failure(message);
    for (const link of this.links) this.closeLink(link, 'fatal error');
    this.setStatus('down', message);
  }

  /** Closes cleanly when possible, and cuts the socket if the close handshake drags on. */
  private closeLink(link: Link, reason: string): void {
    link.role = 'retiring';
    link.timers.clearAll();
    link.pacer.stop();
    if (link.ws.readyState === WebSocket.CONNECTING) {
      link.ws.terminate();
      return;
    }
    if (link.ws.readyState === WebSocket.OPEN) link.ws.close(1000, reason);
    link.timers.timeout(this.closeGraceMs, () => link.ws.terminate());
  }

  private whenAllClosed(): Promise<void> {
    if (this.links.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  private releaseClosedWaiters(): void {
    const waiters = this.closedWaiters;
    this.closedWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private setStatus(status: ConnectionStatus, reason: string | null): void {
    if (this.status === status) return;
    this.status = status;
    try {
      this.listener.status(status, reason);
    } catch (err) {
      this.log.error({ err }, 'status listener threw');
    }
  }
}

/** HTTP statuses on the upgrade that are worth retrying; every other 4xx is fatal. */
const RETRYABLE_4XX = new Set([408, 418, 425, 429]);

function classifyRejection(status: number, retryAfter: string | string[] | undefined, now: number, capMs: number): Failure {
  const message = `upgrade refused with HTTP ${status}`;
  if (status === 429 || status === 418) {
    const asked = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now);
    return { message: `${message} (rate limit or ban)`, fatal: false, retryAfterMs: asked ?? capMs };
  }
  if (status >= 400 && status < 500 && !RETRYABLE_4XX.has(status)) return { message, fatal: true, retryAfterMs: null };
  return { message, fatal: false, retryAfterMs: null };
}

/** `Retry-After` is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function closeText(code: number, reason: string): string {
  if (code === 1006) return 'connection dropped without a close frame (1006)';
  return `closed by the server with code ${code}${reason ? ` (${reason})` : ''}`;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data.byteLength;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
