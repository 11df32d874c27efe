/**
 * One exchange feed: adapter + connections + market book + a sink for markets.
 *
 * Frames become `Market` states here. A frame never throws out of this class: invalid frames
 * are counted and logged (sampled, so a broken upstream cannot flood the logs), exchange
 * errors are counted and remembered, and a throwing sink is logged and counted as an error.
 *
 * Symbols (listing.ts): at start-up the exchange's listing (REST) is read first, waited for
 * at most `symbolsTimeoutMs`; the connections open as soon as it answers or that wait ends.
 * - Listing mode (`<EXCHANGE>_SYMBOLS` unset): every trading market of the listing (narrowed
 *   to the configured quotes), spread over as many connections as the exchange's limits
 *   require (connection-pool.ts). Without a listing, the built-in major pairs stand in, with
 *   a warning, until a later read succeeds. The listing is read again every
 *   `listingRefreshMs`: new markets are subscribed on connections with room, and markets no
 *   longer listed as trading are unsubscribed, forgotten, and reported through `onRemoved`
 *   so they leave the live state. A listing that cannot be read, or lists nothing trading,
 *   changes nothing (logged, counted in `errors`).
 * - A configured list: exactly those symbols; the listing only names them (base and quote)
 *   and tells which the exchange does not list.
 * Names come from the listing, else from the symbol text, and never change once given
 * (`SymbolDirectory`), so a market keeps one id for the life of the process.
 */
import type { Logger } from '../logger';
import type { ExchangeAdapter, FrameEvent, ListedMarket } from './adapter';
import type { BackoffOptions } from './backoff';
import type { ConnectionStatus, ConnectionTiming } from './connection';
import { ConnectionPool } from './connection-pool';
import { DEFAULT_MAX_LISTED_SYMBOLS, selectListed, SymbolDirectory, type SymbolChoice } from './listing';
import { marketIdentity, type Market, type TickerPatch } from '../market';
import { MarketBook } from './market-book';
import { RateMeter } from './rate-meter';
import { listOf } from './symbol-list';
import { UNKNOWN_ASSET } from './symbols';
import { TimerSet } from './timer-set';

/**
 * CONNECTING: until the first connection is open and subscribed. LIVE: every connection that
 * has been live is (a silent socket is replaced by the watchdog, so LIVE implies data or
 * heartbeats flow). RECONNECTING: a live connection was lost and is being retried. DOWN:
 * stopped, failed fatally, or nothing to subscribe. (connection-pool.ts has the exact rules.)
 */
export type FeedStatus = 'CONNECTING' | 'LIVE' | 'RECONNECTING' | 'DOWN';

export interface FeedHealth {
  readonly exchange: string;
  readonly status: FeedStatus;
  /** Local receive time of the latest frame of any kind, epoch ms. */
  readonly lastMessageAt: number | null;
  /** Connections re-established after losing a live one; planned rotations are not counted. */
  readonly reconnects: number;
  /** Exchange sockets open right now. */
  readonly connections: number;
  /** Native symbols subscribed. */
  readonly symbols: number;
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
  /** Exchange error frames, lost or failed connections, failed listings and sink failures. */
  readonly errors: number;
  readonly lastError: string | null;
  /** Distinct markets this feed has emitted and not forgotten (delisted). */
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
  /** What to subscribe. Default: the exchange's whole listing, no built-in fallback. */
  readonly symbols?: SymbolChoice;
  /** Receives each market's new state. Called synchronously from the frame handler. */
  readonly onMarket: (market: Market) => void;
  /**
   * The subscribed symbols changed (start-up, a listing refresh): `removed` are the ids of
   * markets the exchange no longer lists as trading, to take out of the live state.
   */
  readonly onSymbolsChange?: (change: { readonly removed: readonly string[] }) => void;
  readonly logger: Logger;
  /** Called on every status transition, with the health at that moment. */
  readonly onStatusChange?: (health: FeedHealth) => void;
  readonly backoff?: BackoffOptions;
  readonly timing?: ConnectionTiming;
  /** Longest wait for the listing at start-up before connecting anyway. Default 5 000 ms. */
  readonly symbolsTimeoutMs?: number;
  /** How often the listing is read again (listing mode). Default 300 000 ms; 0: never. */
  readonly listingRefreshMs?: number;
  /** Most symbols taken from one listing. Default `DEFAULT_MAX_LISTED_SYMBOLS`. */
  readonly maxListedSymbols?: number;
  /** How long after first going LIVE a subscribed symbol may stay silent before it is reported. Default 60 000 ms. */
  readonly silentSymbolsAfterMs?: number;
  /** Clock for receive times. Default `Date.now`. */
  readonly now?: () => number;
  /** Backoff jitter source. Default `Math.random`. */
  readonly random?: () => number;
  /** Frame budget per second; past it the sockets pause for the rest of the second (frame-budget.ts). Default: none. */
  readonly maxFramesPerSecond?: number;
}

/** Invalid frames and exchange errors: log the first few, then one line per this many. */
const LOG_FIRST = 10;
const LOG_EVERY = 1000;
/** After a failed listing read, the next one comes this soon (or at the refresh interval, if sooner). */
const LISTING_RETRY_MS = 60_000;

const STATUS: Readonly<Record<ConnectionStatus, FeedStatus>> = {
  connecting: 'CONNECTING',
  live: 'LIVE',
  reconnecting: 'RECONNECTING',
  down: 'DOWN',
};

type ListingRead = { readonly ok: true; readonly listing: ListedMarket[] } | { readonly ok: false; readonly reason: string };

export class Feed {
  private readonly adapter: ExchangeAdapter;
  private readonly choice: SymbolChoice;
  private readonly onMarket: (market: Market) => void;
  private readonly onSymbolsChange: FeedOptions['onSymbolsChange'];
  private readonly onStatusChange: ((health: FeedHealth) => void) | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly symbolsTimeoutMs: number;
  private readonly listingRefreshMs: number;
  private readonly maxListedSymbols: number;
  private readonly directory: SymbolDirectory;
  private readonly book: MarketBook;
  private readonly pool: ConnectionPool;
  private readonly rate = new RateMeter();
  private readonly silentSymbolsAfterMs: number;
  /** Symbols unsubscribed because they were delisted: what still arrives for them is ignored. */
  private readonly delisted = new Set<string>();
  private silentChecked = false;
  private wentLive = false;
  /** Ack warnings already logged: an exchange repeats them on every subscription. */
  private readonly exchangeWarnings = new Set<string>();
  private readonly timers = new TimerSet();

  private phase: 'new' | 'started' | 'stopped' = 'new';
  private status: FeedStatus = 'DOWN';
  /** Aborts the listing request under way (stop). */
  private listingAbort: AbortController | null = null;
  /** True while the built-in pairs stand in for a listing that could not be read. */
  private usingFallback = false;
  private listingFailures = 0;
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
    this.choice = options.symbols ?? { kind: 'listing', quotes: null, fallback: [] };
    this.onMarket = options.onMarket;
    this.onSymbolsChange = options.onSymbolsChange;
    this.onStatusChange = options.onStatusChange;
    this.log = options.logger.child({ exchange: adapter.exchange });
    this.now = options.now ?? Date.now;
    this.symbolsTimeoutMs = options.symbolsTimeoutMs ?? 5_000;
    this.listingRefreshMs = options.listingRefreshMs ?? 300_000;
    this.maxListedSymbols = options.maxListedSymbols ?? DEFAULT_MAX_LISTED_SYMBOLS;
    this.silentSymbolsAfterMs = options.silentSymbolsAfterMs ?? 60_000;
    this.directory = new SymbolDirectory((nativeSymbol) => adapter.deriveSymbolInfo(nativeSymbol));
    this.book = new MarketBook(adapter.exchange, (nativeSymbol) => this.directory.info(nativeSymbol));
    this.pool = new ConnectionPool({
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

  /** Native symbols subscribed now. */
  get symbols(): readonly string[] {
    return this.pool.symbols;
  }

  /** Ids of the markets this feed subscribes now (what it covers in the live state). */
  coveredIds(): string[] {
    return this.pool.symbols.map((symbol) => marketIdentity(this.exchange, this.directory.info(symbol)).id);
  }

  /** Begins reading the listing and connecting; returns at once. A Feed starts once. */
  start(): void {
    if (this.phase !== 'new') throw new Error(`feed ${this.exchange} was already started; create a new Feed instead`);
    this.phase = 'started';
    this.setStatus('CONNECTING', 'starting');
    void this.chooseSymbolsThenConnect();
  }

  /** Closes the sockets and clears every timer; resolves when all are closed. */
  stop(): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.phase = 'stopped';
    this.listingAbort?.abort();
    this.timers.clearAll();
    this.stopped = this.pool.stop().then(() => this.setStatus('DOWN', 'stopped'));
    return this.stopped;
  }

  health(): FeedHealth {
    return {
      exchange: this.exchange,
      status: this.status,
      lastMessageAt: this.lastMessageAt,
      reconnects: this.pool.reconnects,
      connections: this.pool.openSockets,
      symbols: this.pool.symbols.length,
      messages: this.messages,
      messagesPerSecond: this.rate.rate(this.now()),
      invalidFrames: this.invalidFrames,
      errorFrames: this.errorFrames,
      stalls: this.pool.stalls,
      throttledSeconds: this.pool.throttledSeconds,
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

  /** Sockets and timers held right now; all zero once `stop()` has resolved. */
  openResources(): { readonly sockets: number; readonly timers: number } {
    const inner = this.pool.openResources;
    return { sockets: inner.sockets, timers: inner.timers + this.timers.size };
  }

  private silentSymbols(): string[] {
    return this.pool.symbols.filter((symbol) => !this.book.has(symbol));
  }

  private scheduleSilentSymbolCheck(): void {
    this.timers.timeout(this.silentSymbolsAfterMs, () => {
      this.silentChecked = true;
      const silent = this.silentSymbols();
      if (silent.length === 0) return;
      this.log.warn(
        { silentSymbols: silent.length, subscribed: this.pool.symbols.length },
        `subscribed symbols sent no data in ${this.silentSymbolsAfterMs} ms: ${listOf(silent)}; check <EXCHANGE>_SYMBOLS (the exchange may not list them)`,
      );
    });
  }

  /** Reads the listing, giving up after `timeoutMs`; never throws. */
  private async readListing(timeoutMs: number): Promise<ListingRead> {
    const abort = new AbortController();
    this.listingAbort = abort;
    let timer: ReturnType<TimerSet['timeout']> | null = null;
    const deadline = new Promise<ListingRead>((resolve) => {
      timer = this.timers.timeout(timeoutMs, () => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }));
    });
    abort.signal.addEventListener('abort', () => this.timers.clear(timer));
    const request = this.adapter.fetchListing(abort.signal).then(
      (listing): ListingRead =>
        listing.some((market) => market.trading)
          ? { ok: true, listing }
          : { ok: false, reason: listing.length === 0 ? 'the listing is empty' : `none of its ${listing.length} markets is trading` },
      (err: unknown): ListingRead => ({ ok: false, reason: err instanceof Error ? err.message : String(err) }),
    );
    const read = await Promise.race([request, deadline]);
    this.timers.clear(timer);
    abort.abort(); // a no-op when the request finished; otherwise it stops it
    if (this.listingAbort === abort) this.listingAbort = null;
    if (read.ok) {
      this.directory.learn(read.listing);
      this.adapter.useListing?.(new Set(read.listing.map((market) => market.nativeSymbol)));
    }
    return read;
  }

  private async chooseSymbolsThenConnect(): Promise<void> {
    const read = await this.readListing(this.symbolsTimeoutMs);
    if (this.phase !== 'started') return;
    const warnings: string[] = [];
    let symbols: readonly string[];
    if (this.choice.kind === 'configured') {
      const normalized = this.adapter.normalizeSymbols(this.choice.symbols);
      symbols = normalized.symbols;
      warnings.push(...normalized.warnings);
      if (read.ok) warnings.push(...this.unlistedWarnings(symbols, read.listing));
      else warnings.push(`the listing could not be read (${read.reason}); base and quote are derived from the symbol text`);
    } else if (read.ok) {
      symbols = this.selectFrom(read.listing);
      this.log.info({ listed: read.listing.length, subscribed: symbols.length, quotes: this.choice.quotes }, 'subscribing the exchange listing');
    } else {
      symbols = this.fallbackSymbols();
      this.usingFallback = true;
      this.recordError(`listing unavailable: ${read.reason}`, false);
      warnings.push(
        `the listing could not be read (${read.reason}); subscribing the ${symbols.length} built-in major pairs instead until it can be (retried within ${Math.min(LISTING_RETRY_MS, this.listingRefreshMs || LISTING_RETRY_MS)} ms)`,
      );
    }
    const unsplittable = symbols.filter((symbol) => this.directory.info(symbol).quote === UNKNOWN_ASSET);
    if (unsplittable.length > 0) warnings.push(`no known quote asset ends these symbols, so their quote is UNKNOWN: ${listOf(unsplittable)}`);
    this.subscribe(symbols, warnings);
    if (warnings.length > 0) this.log.warn({ warning: warnings.join('; ') }, 'symbols: check the configuration');
    this.notifySymbolsChange([]);
    this.pool.start();
    if (this.choice.kind === 'listing') this.scheduleListingRead(read.ok ? this.listingRefreshMs : LISTING_RETRY_MS);
  }

  /** Places symbols on connections; a symbol no connection can carry is named in `warnings` and counted. */
  private subscribe(symbols: readonly string[], warnings: string[]): void {
    const oversized = this.pool.add(symbols);
    if (oversized.length === 0) return;
    this.recordError(`${oversized.length} symbols exceed what one connection carries and are not subscribed`, false);
    warnings.push(`${oversized.length} symbols are larger than one connection can carry and are not subscribed: ${listOf(oversized)}`);
  }

  private selectFrom(listing: readonly ListedMarket[]): string[] {
    if (this.choice.kind !== 'listing') return [];
    const { symbols, overLimit } = selectListed(listing, this.choice.quotes, this.maxListedSymbols);
    if (overLimit > 0) {
      this.recordError(`the listing holds ${overLimit} trading markets beyond the limit of ${this.maxListedSymbols}; they are not subscribed`);
    }
    return symbols;
  }

  private fallbackSymbols(): readonly string[] {
    if (this.choice.kind !== 'listing') return [];
    const { symbols } = this.adapter.normalizeSymbols(this.choice.fallback);
    const quotes = this.choice.quotes;
    if (quotes === null) return symbols;
    const wanted = new Set(quotes.map((q) => q.toUpperCase()));
    return symbols.filter((symbol) => wanted.has(this.directory.info(symbol).quote));
  }

  private unlistedWarnings(symbols: readonly string[], listing: readonly ListedMarket[]): string[] {
    const byName = new Map(listing.map((market) => [market.nativeSymbol, market]));
    const missing = symbols.filter((symbol) => !byName.has(symbol));
    const notTrading = symbols.flatMap((symbol) => {
      const market = byName.get(symbol);
      return market !== undefined && !market.trading ? [`${symbol} (${market.status})`] : [];
    });
    const warnings: string[] = [];
    if (missing.length > 0) warnings.push(`the exchange does not list ${missing.length} configured symbols, so they may never send data: ${listOf(missing)}`);
    if (notTrading.length > 0) warnings.push(`listed but not trading, so they may stay silent: ${listOf(notTrading)}`);
    return warnings;
  }

  private scheduleListingRead(delayMs: number): void {
    if (this.listingRefreshMs <= 0 && !this.usingFallback) return;
    const delay = this.listingRefreshMs > 0 ? Math.min(delayMs, this.listingRefreshMs) : delayMs;
    this.timers.timeout(delay, () => void this.refreshListing());
  }

  /** Reads the listing again and applies the difference: new markets subscribed, delisted ones removed. */
  private async refreshListing(): Promise<void> {
    const read = await this.readListing(Math.max(this.symbolsTimeoutMs, 10_000));
    if (this.phase !== 'started') return;
    if (!read.ok) {
      this.listingFailures++;
      this.recordError(`listing refresh failed: ${read.reason}`, false);
      if (sampled(this.listingFailures)) {
        this.log.warn(
          { reason: read.reason, listingFailures: this.listingFailures, subscribed: this.pool.symbols.length },
          'listing could not be read; keeping every market subscribed now',
        );
      }
      this.scheduleListingRead(LISTING_RETRY_MS);
      return;
    }
    const next = this.selectFrom(read.listing);
    const current = new Set(this.pool.symbols);
    const nextSet = new Set(next);
    const added = next.filter((symbol) => !current.has(symbol));
    const removed = [...current].filter((symbol) => !nextSet.has(symbol));
    if (this.usingFallback) {
      this.usingFallback = false;
      this.log.info({ subscribed: next.length }, 'the listing is readable again; subscribing it instead of the built-in pairs');
    }
    const removedIds: string[] = [];
    if (removed.length > 0) {
      const gone = new Set(removed);
      this.pool.remove(gone);
      for (const symbol of removed) {
        this.delisted.add(symbol);
        const id = this.book.forget(symbol);
        if (id !== null) removedIds.push(id);
      }
    }
    const warnings: string[] = [];
    if (added.length > 0) {
      for (const symbol of added) this.delisted.delete(symbol);
      this.subscribe(added, warnings);
    }
    if (added.length > 0 || removed.length > 0) {
      this.log.info(
        { added: added.length, removed: removed.length, subscribed: this.pool.symbols.length, connections: this.pool.size },
        `listing changed: ${added.length > 0 ? `subscribing ${listOf(added)}` : 'nothing new'}; ${removed.length > 0 ? `no longer trading: ${listOf(removed)}` : 'nothing delisted'}`,
      );
    }
    if (warnings.length > 0) this.log.warn({ warning: warnings.join('; ') }, 'symbols: check the listing');
    if (added.length > 0 || removed.length > 0) this.notifySymbolsChange(removedIds);
    this.scheduleListingRead(this.listingRefreshMs);
  }

  private notifySymbolsChange(removed: readonly string[]): void {
    if (this.onSymbolsChange === undefined) return;
    try {
      this.onSymbolsChange({ removed });
    } catch (err) {
      this.log.error({ err }, 'onSymbolsChange threw');
    }
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
    // A delisted market's last frames may still be on their way; it has left the live state.
    if (this.delisted.size > 0 && this.delisted.has(patch.nativeSymbol)) return;
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
