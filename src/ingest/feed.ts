/**
 * One exchange feed: adapter + shared connection loop + market book + a sink for markets.
 *
 * Frames become `Market` states here. A frame never throws out of this class: invalid frames
 * are counted and logged (sampled, so a broken upstream cannot flood the logs), exchange
 * errors are counted and remembered, and a throwing sink is logged and counted as an error.
 *
 * Start-up: symbol metadata (REST) is requested first and the socket opens as soon as it
 * answers, or after `symbolsTimeoutMs` at the latest, when the request is aborted and base and
 * quote are derived from the symbol text. Waiting that long at most keeps start-up independent
 * of REST while giving every market one identity (id) for the life of the process.
 */
import type { Logger } from '../logger';
import type { ExchangeAdapter, FrameEvent } from './adapter';
import type { BackoffOptions } from './backoff';
import { FeedConnection, type ConnectionStatus, type ConnectionTiming } from './connection';
import { MarketBook, type Market, type TickerPatch } from './market';
import { RateMeter } from './rate-meter';
import { TimerSet } from './timer-set';

/**
 * CONNECTING: until the first socket is open and subscribed. LIVE: connected and subscribed
 * (a silent socket is replaced by the watchdog, so LIVE implies data or heartbeats flow).
 * RECONNECTING: a live connection was lost and is being retried. DOWN: stopped, or failed fatally.
 */
export type FeedStatus = 'CONNECTING' | 'LIVE' | 'RECONNECTING' | 'DOWN';

export interface FeedHealth {
  readonly exchange: string;
  readonly status: FeedStatus;
  /** Local receive time of the latest frame of any kind, epoch ms. */
  readonly lastMessageAt: number | null;
  /** Connections re-established after losing a live one; planned rotations are not counted. */
  readonly reconnects: number;
  /** Open exchange connections (sockets). */
  readonly connections: number;
  /** Frames received (data, acks, errors, invalid ones; not WebSocket pings). */
  readonly messages: number;
  /** Frames per second, averaged over the last 10 s. */
  readonly messagesPerSecond: number;
  readonly invalidFrames: number;
  /** Error frames the exchange sent (a rejected subscription, an error event); also in `errors`. */
  readonly errorFrames: number;
  /** Open sockets the watchdog replaced because nothing arrived on them for too long. */
  readonly stalls: number;
  /** One-second windows in which the exchange sent more than the frame budget and reading paused. */
  readonly throttledSeconds: number;
  /** Exchange error frames, lost or failed connections, and sink failures. */
  readonly errors: number;
  readonly lastError: string | null;
  /** Distinct markets this feed has emitted. */
  readonly markets: number;
  /**
   * Subscribed symbols that have produced no data, once `silentSymbolsAfterMs` have passed
   * since the feed first went LIVE (empty before). Binance and Coinbase accept a subscription
   * to a symbol they do not list and then send nothing, so this is how a typo shows up.
   */
  readonly silentSymbols: readonly string[];
}

export interface FeedOptions {
  readonly adapter: ExchangeAdapter;
  /** Receives each market's new state. Called synchronously from the frame handler. */
  readonly onMarket: (market: Market) => void;
  readonly logger: Logger;
  /** Called on every status transition, with the health at that moment. */
  readonly onStatusChange?: (health: FeedHealth) => void;
  readonly backoff?: BackoffOptions;
  readonly timing?: ConnectionTiming;
  /** Longest wait for symbol metadata before connecting anyway. Default 5 000 ms. */
  readonly symbolsTimeoutMs?: number;
  /** How long after first going LIVE a subscribed symbol may stay silent before it is reported. Default 60 000 ms. */
  readonly silentSymbolsAfterMs?: number;
  /** Clock for receive times. Default `Date.now`. */
  readonly now?: () => number;
  /** Backoff jitter source. Default `Math.random`. */
  readonly random?: () => number;
  /** Frame budget per second; past it the socket pauses for the rest of the second (connection.ts, FLOODS). Default: none. */
  readonly maxFramesPerSecond?: number;
}

/** Invalid frames and exchange errors: log the first few, then one line per this many. */
const LOG_FIRST = 10;
const LOG_EVERY = 1000;

const STATUS: Readonly<Record<ConnectionStatus, FeedStatus>> = {
  connecting: 'CONNECTING',
  live: 'LIVE',
  reconnecting: 'RECONNECTING',
  down: 'DOWN',
};

export class Feed {
  private readonly adapter: ExchangeAdapter;
  private readonly onMarket: (market: Market) => void;
  private readonly onStatusChange: ((health: FeedHealth) => void) | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly symbolsTimeoutMs: number;
  private readonly book: MarketBook;
  private readonly connection: FeedConnection;
  private readonly rate = new RateMeter();
  private readonly silentSymbolsAfterMs: number;
  private silentChecked = false;
  private wentLive = false;
  /** Ack warnings already logged: an exchange repeats them on every subscription. */
  private readonly exchangeWarnings = new Set<string>();
  private readonly timers = new TimerSet();

  private phase: 'new' | 'started' | 'stopped' = 'new';
  private status: FeedStatus = 'DOWN';
  private symbolsAbort: AbortController | null = null;
  /** Ends the wait for symbol metadata early (time-out, or stop). */
  private endSymbolsWait: () => void = () => {};
  private stopped: Promise<void> | null = null;
  private lastMessageAt: number | null = null;
  private messages = 0;
  private invalidFrames = 0;
  private errorFrames = 0;
  private errors = 0;
  private lastError: string | null = null;

  constructor(options: FeedOptions) {
    const { adapter } = options;
    this.adapter = adapter;
    this.onMarket = options.onMarket;
    this.onStatusChange = options.onStatusChange;
    this.log = options.logger.child({ exchange: adapter.exchange });
    this.now = options.now ?? Date.now;
    this.symbolsTimeoutMs = options.symbolsTimeoutMs ?? 5_000;
    this.silentSymbolsAfterMs = options.silentSymbolsAfterMs ?? 60_000;
    this.book = new MarketBook(adapter.exchange, (nativeSymbol) => adapter.symbolInfo(nativeSymbol));
    this.connection = new FeedConnection({
      adapter,
      logger: this.log,
      backoff: options.backoff,
      timing: options.timing,
      now: this.now,
      random: options.random,
      maxFramesPerSecond: options.maxFramesPerSecond,
      listener: {
        frame: (event, receivedAt) => this.onFrame(event, receivedAt),
        status: (status, reason) => this.setStatus(STATUS[status], reason),
        // The loop has already logged the failure with its retry plan; only count it here.
        failure: (message) => this.recordError(message, false),
      },
    });
  }

  get exchange(): string {
    return this.adapter.exchange;
  }

  /** Begins loading symbols and connecting; returns at once. A Feed starts once. */
  start(): void {
    if (this.phase !== 'new') throw new Error(`feed ${this.exchange} was already started; create a new Feed instead`);
    this.phase = 'started';
    this.setStatus('CONNECTING', 'starting');
    void this.loadSymbolsThenConnect();
  }

  /** Closes the socket(s) and clears every timer; resolves when all are closed. */
  stop(): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.phase = 'stopped';
    this.symbolsAbort?.abort();
    this.endSymbolsWait();
    this.timers.clearAll();
    this.stopped = this.connection.stop().then(() => this.setStatus('DOWN', 'stopped'));
    return this.stopped;
  }

  health(): FeedHealth {
    return {
      exchange: this.exchange,
      status: this.status,
      lastMessageAt: this.lastMessageAt,
      reconnects: this.connection.reconnects,
      connections: this.connection.openResources.sockets,
      messages: this.messages,
      messagesPerSecond: this.rate.rate(this.now()),
      invalidFrames: this.invalidFrames,
      errorFrames: this.errorFrames,
      stalls: this.connection.stalls,
      throttledSeconds: this.connection.throttledSeconds,
      errors: this.errors,
      lastError: this.lastError,
      markets: this.book.emittedMarkets,
      silentSymbols: this.silentChecked ? this.silentSymbols() : [],
    };
  }

  /** The latest state of every market this feed has emitted (to write again after Redis lost it). */
  latestMarkets(): IterableIterator<Market> {
    return this.book.latest();
  }

  private silentSymbols(): string[] {
    return this.adapter.symbols.filter((symbol) => !this.book.has(symbol));
  }

  private scheduleSilentSymbolCheck(): void {
    this.timers.timeout(this.silentSymbolsAfterMs, () => {
      this.silentChecked = true;
      const silent = this.silentSymbols();
      if (silent.length === 0) return;
      const shown = silent.slice(0, 20).join(', ') + (silent.length > 20 ? ` (+${silent.length - 20} more)` : '');
      this.log.warn(
        { silentSymbols: silent.length, subscribed: this.adapter.symbols.length },
        `subscribed symbols sent no data in ${this.silentSymbolsAfterMs} ms: ${shown}; check <EXCHANGE>_SYMBOLS (the exchange may not list them)`,
      );
    });
  }

  /** Sockets and timers held right now; all zero once `stop()` has resolved. */
  openResources(): { readonly sockets: number; readonly timers: number } {
    const inner = this.connection.openResources;
    return { sockets: inner.sockets, timers: inner.timers + this.timers.size };
  }

  private async loadSymbolsThenConnect(): Promise<void> {
    const abort = new AbortController();
    this.symbolsAbort = abort;
    const deadline = new Promise<null>((resolve) => {
      this.endSymbolsWait = () => resolve(null);
    });
    const timer = this.timers.timeout(this.symbolsTimeoutMs, () => this.endSymbolsWait());
    const loaded = this.adapter.loadSymbols(abort.signal).then(
      (warning) => ({ warning }),
      (err: unknown) => ({ warning: `loading symbol metadata failed: ${err instanceof Error ? err.message : String(err)}` }),
    );
    const outcome = await Promise.race([loaded, deadline]);
    this.timers.clear(timer);
    abort.abort(); // a no-op when the request finished; otherwise it stops it
    if (this.phase !== 'started') return;
    const warning =
      outcome === null
        ? `symbol metadata did not arrive within ${this.symbolsTimeoutMs} ms; base and quote are derived from the symbol text`
        : outcome.warning;
    if (warning !== null) this.log.warn({ warning }, 'symbol metadata incomplete');
    this.connection.start();
  }

  private onFrame(event: FrameEvent, receivedAt: number): void {
    this.messages++;
    this.lastMessageAt = receivedAt;
    this.rate.mark(receivedAt);
    try {
      switch (event.kind) {
        case 'tickers':
          for (const patch of event.patches) this.applyPatch(patch, receivedAt);
          break;
        case 'invalid':
          this.invalidFrames++;
          if (sampled(this.invalidFrames)) this.log.warn({ reason: event.reason, invalidFrames: this.invalidFrames }, 'invalid frame ignored');
          break;
        case 'error':
          this.errorFrames++;
          this.recordError(event.message);
          break;
        case 'rotate':
          this.log.info({ reason: event.reason }, 'exchange asked for a new connection');
          break;
        case 'ack':
          for (const warning of event.warnings ?? []) {
            if (this.exchangeWarnings.has(warning)) continue;
            this.exchangeWarnings.add(warning);
            this.log.warn({ warning }, 'exchange attached a warning to an ack');
          }
          break;
        case 'heartbeat':
        case 'ignored':
          break;
      }
    } catch (err) {
      // Only a bug can get here (adapter.symbolInfo or the book threw); keep the feed running.
      this.recordError(`frame handling failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private applyPatch(patch: TickerPatch, receivedAt: number): void {
    const market = this.book.apply(patch, receivedAt);
    if (market === null) return;
    try {
      this.onMarket(market);
    } catch (err) {
      this.recordError(`onMarket threw for ${market.id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private recordError(message: string, log = true): void {
    this.errors++;
    this.lastError = message;
    if (log && sampled(this.errors)) this.log.warn({ error: message, errors: this.errors }, 'feed error');
  }

  private setStatus(status: FeedStatus, reason: string | null): void {
    if (status === this.status) return;
    const from = this.status;
    this.status = status;
    if (status === 'LIVE' && !this.wentLive) {
      this.wentLive = true;
      this.scheduleSilentSymbolCheck();
    }
    const line = { from, to: status, reason };
    if (status === 'DOWN' && reason !== 'stopped') this.log.error(line, 'feed status');
    else this.log.info(line, 'feed status');
    if (this.onStatusChange === undefined) return;
    try {
      this.onStatusChange(this.health());
    } catch (err) {
      this.log.error({ err }, 'onStatusChange threw');
    }
  }
}

function sampled(count: number): boolean {
  return count <= LOG_FIRST || count % LOG_EVERY === 0;
}
