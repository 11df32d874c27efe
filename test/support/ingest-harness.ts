/**
 * A Feed wired to the real Binance adapter and a local simulator, recording everything it
 * reports. Used by the ingest integration tests; no Redis involved.
 */
import { pino } from 'pino';
import type { ExchangeAdapter } from '../../src/ingest/adapter';
import type { BackoffOptions } from '../../src/ingest/backoff';
import type { ConnectionTiming } from '../../src/ingest/connection';
import { createBinanceAdapter, type BinanceTuning } from '../../src/ingest/exchanges/binance';
import { Feed, type FeedHealth, type FeedStatus } from '../../src/ingest/feed';
import type { Market } from '../../src/ingest/market';
import { BinanceSim, type BinanceSimOptions } from '../../src/ingest/sim/binance-sim';

export interface FeedUnderTest {
  readonly feed: Feed;
  readonly markets: Market[];
  readonly statuses: FeedStatus[];
  /** Log lines the feed wrote at warn level or above, parsed. */
  readonly warnings: Array<Record<string, unknown>>;
  health(): FeedHealth;
}

export interface FeedSetup {
  readonly adapter?: ExchangeAdapter;
  readonly wsUrl?: string;
  readonly restUrl?: string | null;
  readonly symbols?: readonly string[];
  readonly tuning?: BinanceTuning;
  readonly timing?: ConnectionTiming;
  readonly backoff?: BackoffOptions;
  readonly symbolsTimeoutMs?: number;
  readonly silentSymbolsAfterMs?: number;
}

/**
 * Quiet by default: markets move only on `push`, no pings; tests opt in to the rest. 100
 * markets reach the first BTC-quoted pairs (ETHBTC). Pings faster than every 200 ms would
 * make the client's automatic pongs break the 5 messages/s limit, as they would on Binance.
 */
export const QUIET_SIM: BinanceSimOptions = { markets: 100, tickMs: 0, pingIntervalMs: 0 };

/** Starts simulators and feeds and stops them all at the end of each test. */
export class IngestHarness {
  private readonly feeds: Feed[] = [];
  private readonly sims: BinanceSim[] = [];

  async sim(options: BinanceSimOptions = {}): Promise<BinanceSim> {
    const sim = await BinanceSim.start({ ...QUIET_SIM, ...options });
    this.sims.push(sim);
    return sim;
  }

  feed(sim: BinanceSim | null, setup: FeedSetup = {}): FeedUnderTest {
    const adapter =
      setup.adapter ??
      createBinanceAdapter(
        {
          exchange: 'sim',
          wsUrl: setup.wsUrl ?? sim?.wsUrl ?? 'ws://127.0.0.1:1/stream',
          restUrl: setup.restUrl === undefined ? (sim?.restUrl ?? null) : setup.restUrl,
          symbols: setup.symbols ?? ['BTCUSDT', 'ETHBTC'],
        },
        setup.tuning,
      );
    const markets: Market[] = [];
    const statuses: FeedStatus[] = [];
    const warnings: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) });
    const feed = new Feed({
      adapter,
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
    await Promise.all(this.sims.splice(0).map((sim) => sim.close()));
  }
}
