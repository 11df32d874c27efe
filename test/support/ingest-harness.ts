/**
 * Feeds wired to a real adapter and a local exchange server (`BinanceSim`, or one of
 * `exchanges/`), recording everything they report, and stopped with their servers after each
 * test. Used by the ingest integration tests; no Redis involved.
 */
import { pino } from 'pino';
import type { AdapterOptions, ExchangeAdapter } from '../../src/ingest/adapter';
import type { BackoffOptions } from '../../src/ingest/backoff';
import type { ConnectionTiming } from '../../src/ingest/connection';
import { createBinanceAdapter, type BinanceTuning } from '../../src/ingest/exchanges/binance';
import { Feed, type FeedHealth, type FeedStatus } from '../../src/ingest/feed';
import type { SymbolChoice } from '../../src/ingest/listing';
import type { Market } from '../../src/market';
import { BinanceSim, type BinanceSimOptions } from '../../src/ingest/sim/binance-sim';

export interface FeedUnderTest {
  readonly feed: Feed;
  readonly markets: Market[];
  readonly statuses: FeedStatus[];
  /** Log lines the feed wrote at warn level or above, parsed. */
  readonly warnings: Array<Record<string, unknown>>;
  health(): FeedHealth;
}

/** The feed options `feed` takes; `adapter` replaces the Binance adapter it builds by default. */
export interface FeedSetup {
  readonly adapter?: ExchangeAdapter;
  readonly wsUrl?: string;
  readonly restUrl?: string | null;
  /** Configured symbols; `'listing'` subscribes the server's whole listing. Default BTCUSDT, ETHBTC. */
  readonly symbols?: readonly string[] | 'listing';
  readonly tuning?: BinanceTuning;
  readonly timing?: ConnectionTiming;
  readonly backoff?: BackoffOptions;
  readonly symbolsTimeoutMs?: number;
  readonly silentSymbolsAfterMs?: number;
  readonly listingRefreshMs?: number;
  /** With `symbols: 'listing'`: the quotes to keep, and the pairs used while the listing cannot be read. */
  readonly quotes?: readonly string[];
  readonly fallback?: readonly string[];
  readonly maxFramesPerSecond?: number;
  readonly onSymbolsChange?: (change: { readonly removed: readonly string[] }) => void;
}

/** How a test builds one exchange's adapter, for `feedOn`. */
export interface AdapterRecipe<Tuning, A extends ExchangeAdapter> {
  readonly exchange: string;
  readonly create: (options: AdapterOptions, tuning?: Tuning) => A;
  /** Subscribed when a test names no symbols. */
  readonly symbols: readonly string[];
}

/** What `feedOn` varies per test; everything left out is the adapter's and Feed's default. */
export interface ExchangeFeedSetup<Tuning> {
  /** Configured symbols; `'listing'` subscribes the server's whole listing. Default: the recipe's. */
  readonly symbols?: readonly string[] | 'listing';
  /** Default: the server's REST base; null: no REST metadata at all. */
  readonly restUrl?: string | null;
  readonly tuning?: Tuning;
  readonly timing?: ConnectionTiming;
  readonly silentSymbolsAfterMs?: number;
  readonly listingRefreshMs?: number;
  readonly onSymbolsChange?: (change: { readonly removed: readonly string[] }) => void;
}

/** A running local exchange: where a feed connects. */
export interface LocalEndpoint {
  readonly wsUrl: string;
  readonly restUrl: string;
}

/**
 * Quiet by default: markets move only on `push`, no pings; tests opt in to the rest. 100
 * markets reach the first BTC-quoted pairs (ETHBTC). Pings faster than every 200 ms would
 * make the client's automatic pongs break the 5 messages/s limit, as they would on Binance.
 */
export const QUIET_SIM: BinanceSimOptions = { markets: 100, tickMs: 0, pingIntervalMs: 0 };

/** Starts servers and feeds and stops them all (feeds first) at the end of each test. */
export class IngestHarness {
  private readonly feeds: Feed[] = [];
  private readonly servers: Array<{ close(): Promise<void> }> = [];

  /** A `BinanceSim`, `QUIET_SIM` unless `options` say otherwise. */
  sim(options: BinanceSimOptions = {}): Promise<BinanceSim> {
    return this.serve(BinanceSim.start({ ...QUIET_SIM, ...options }));
  }

  /** Waits for a server to start and has `stopAll` close it: `harness.serve(OkxServer.start())`. */
  async serve<S extends { close(): Promise<void> }>(starting: Promise<S>): Promise<S> {
    const server = await starting;
    this.servers.push(server);
    return server;
  }

  /** A started feed reading `server` through the adapter `recipe` builds, with that adapter. */
  feedOn<Tuning, A extends ExchangeAdapter>(
    server: LocalEndpoint,
    recipe: AdapterRecipe<Tuning, A>,
    setup: ExchangeFeedSetup<Tuning> = {},
  ): FeedUnderTest & { readonly adapter: A } {
    const adapter = recipe.create(
      {
        exchange: recipe.exchange,
        wsUrl: server.wsUrl,
        restUrl: setup.restUrl === undefined ? server.restUrl : setup.restUrl,
      },
      setup.tuning,
    );
    const feed = this.feed(null, {
      adapter,
      symbols: setup.symbols ?? recipe.symbols,
      timing: setup.timing,
      silentSymbolsAfterMs: setup.silentSymbolsAfterMs,
      listingRefreshMs: setup.listingRefreshMs,
      onSymbolsChange: setup.onSymbolsChange,
    });
    return { ...feed, adapter };
  }

  /** A started feed on the simulator through the Binance adapter (feed id `sim`), or through `setup.adapter`. */
  feed(sim: BinanceSim | null, setup: FeedSetup = {}): FeedUnderTest {
    const adapter =
      setup.adapter ??
      createBinanceAdapter(
        {
          exchange: 'sim',
          wsUrl: setup.wsUrl ?? sim?.wsUrl ?? 'ws://127.0.0.1:1/stream',
          restUrl: setup.restUrl === undefined ? (sim?.restUrl ?? null) : setup.restUrl,
        },
        setup.tuning,
      );
    const markets: Market[] = [];
    const statuses: FeedStatus[] = [];
    const warnings: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) });
    const symbols = setup.symbols ?? ['BTCUSDT', 'ETHBTC'];
    const choice: SymbolChoice =
      symbols === 'listing' ? { kind: 'listing', quotes: setup.quotes ?? null, fallback: setup.fallback ?? [] } : { kind: 'configured', symbols };
    const feed = new Feed({
      adapter,
      symbols: choice,
      listingRefreshMs: setup.listingRefreshMs,
      maxFramesPerSecond: setup.maxFramesPerSecond,
      onSymbolsChange: setup.onSymbolsChange,
      logger,
      onMarket: (market) => markets.push(market),
      onStatusChange: (health) => statuses.push(health.status),
      backoff: setup.backoff ?? { baseMs: 20, capMs: 100 },
      timing: setup.timing,
      symbolsTimeoutMs: setup.symbolsTimeoutMs,
      silentSymbolsAfterMs: setup.silentSymbolsAfterMs,
    });
    this.feeds.push(feed);
    feed.start();
    return { feed, markets, statuses, warnings, health: () => feed.health() };
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.feeds.splice(0).map((feed) => feed.stop()));
    await Promise.all(this.servers.splice(0).map((server) => server.close()));
  }
}
