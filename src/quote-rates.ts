/**
 * USD rates of quote assets, from the live state: the one definition of how tickql converts a
 * market's price and quote volume to US dollars (`Market.priceUsd`, `quoteVolume24hUsd`, the
 * USD sorts and filters, `Query.quoteRates`). README.md (USD values) states the rule for users.
 *
 * The rule, for every quote asset that has markets:
 * - USD is 1, by definition.
 * - Every other asset is priced by a live market against a bridge asset: USD first, then USDT.
 *   A market Q/B gives `price x rate(B)`, a market B/Q gives `rate(B) / price`.
 *   USDT is priced by its USD markets only (USDT/USD, USD/USDT); while none is live it is taken
 *   at its peg, 1, and reported with basis PEG, so a deployment without a USD market (Binance
 *   alone) still ranks across quotes.
 * - Among the candidates, the deepest wins: the largest 24 h volume in USD, counted on the
 *   bridge side (a Q/B market's quote volume, a B/Q market's base volume, times rate(B)), or,
 *   where the exchange does not report that side, on the priced side at the candidate's own
 *   rate. A candidate without either volume ranks after those with one; ties go to the
 *   smaller market id (byte order), so every process picks the same source.
 * - Live means not stale (`Market.stale`, src/staleness.ts: its feed is LIVE and it updated
 *   within STALE_AFTER_MS) with a positive, finite price. A rate whose source went stale is not
 *   used: the next candidate takes over, or the asset has no rate and its markets' USD fields
 *   are null.
 *
 * Rates are read in the serving process (`QuoteRates`): the candidate markets are the ids
 * `<exchange>:<Q>/<B>` and `<exchange>:<B>/<Q>` for every exchange and quote asset in Redis, read
 * every REFRESH_MS with one HMGET. A rate move rewrites no market: Redis keeps prices and quote
 * volumes in quote units, indexed per quote asset, and each query converts at the rates it is
 * given (lua/queryMarkets-n.lua), the same rates its answer's USD fields are computed with.
 */
import type { Redis } from 'ioredis';
import { FailureStreak } from './failure-streak';
import type { Logger } from './logger';
import { marketId, type Market } from './market';
import type { Keys } from './redis/keys';
import { CorruptMarketError, decodeMarket } from './redis/market-codec';
import type { QueryRates } from './redis/query-markets';

export const USD = 'USD';
/** The bridge assets other quotes are priced against, in order of preference. */
export const USDT = 'USDT';

/** How a quote asset's rate was found. */
export type RateBasis = 'DEFINITION' | 'MARKET' | 'PEG' | 'NONE';

export interface QuoteRate {
  /** The quote asset's code. */
  readonly quote: string;
  /** US dollars per unit of the asset; null when no live market prices it. */
  readonly rate: number | null;
  readonly basis: RateBasis;
  /** The market the rate comes from (basis MARKET), else null. */
  readonly source: Market | null;
  /** What the source prices the asset against: USD, or USDT (then rate(USDT) is in the rate). */
  readonly via: string | null;
}

/** A value in quote units converted to USD at `rate`; null when either is unknown. */
export function usdValue(value: number | null, rate: number | null | undefined): number | null {
  return value === null || rate === null || rate === undefined ? null : value * rate;
}

/** The market ids that can price the given quote assets, on the given exchanges. */
export function candidateIds(exchanges: readonly string[], quotes: readonly string[]): string[] {
  const ids: string[] = [];
  const assets = new Set(quotes);
  assets.add(USDT); // the second bridge is priced even where nothing is quoted in it
  assets.delete(USD);
  for (const exchange of exchanges) {
    for (const asset of assets) {
      ids.push(marketId(exchange, `${asset}/${USD}`), marketId(exchange, `${USD}/${asset}`));
      if (asset !== USDT) ids.push(marketId(exchange, `${asset}/${USDT}`), marketId(exchange, `${USDT}/${asset}`));
    }
  }
  return ids;
}

interface Candidate {
  readonly market: Market;
  readonly rate: number;
  /** 24 h volume in USD; null when the market reports neither volume. */
  readonly depth: number | null;
}

/** What `market` says of `asset`'s rate through `via` (whose rate is `viaRate`); null if nothing. */
function candidate(market: Market, asset: string, via: string, viaRate: number): Candidate | null {
  if (!(market.price > 0) || !Number.isFinite(market.price)) return null;
  if (market.base === asset && market.quote === via) {
    const rate = market.price * viaRate;
    const depth = usdValue(market.quoteVolume24h, viaRate) ?? usdValue(market.volume24h, rate);
    return { market, rate, depth };
  }
  if (market.base === via && market.quote === asset) {
    const rate = viaRate / market.price;
    const depth = usdValue(market.volume24h, viaRate) ?? usdValue(market.quoteVolume24h, rate);
    return { market, rate, depth };
  }
  return null;
}

/** Whether `a` is a better source than `b`: deeper, or as deep and the smaller id. */
function deeper(a: Candidate, b: Candidate): boolean {
  if (a.depth !== b.depth) {
    if (a.depth === null) return false;
    if (b.depth === null) return true;
    return a.depth > b.depth;
  }
  return a.market.id < b.market.id; // code unit order, which is byte order for ids
}

/**
 * The rate of every asset of `quotes` (and USDT, the bridge), by the rule above, from the
 * candidate markets that are live. Pure: the same inputs give the same table.
 */
export function computeRates(quotes: readonly string[], markets: readonly Market[], isLive: (market: Market) => boolean): QuoteRate[] {
  const live = markets.filter(isLive);
  const best = (asset: string, bridges: ReadonlyArray<readonly [string, number]>): Candidate | null => {
    let found: Candidate | null = null;
    for (const market of live) {
      for (const [via, viaRate] of bridges) {
        const c = candidate(market, asset, via, viaRate);
        if (c !== null && (found === null || deeper(c, found))) found = c;
      }
    }
    return found;
  };
  const fromMarket = (quote: string, c: Candidate): QuoteRate => ({
    quote,
    rate: c.rate,
    basis: 'MARKET',
    source: c.market,
    via: c.market.base === quote ? c.market.quote : c.market.base,
  });

  const usdt = best(USDT, [[USD, 1]]);
  const usdtRate: QuoteRate = usdt ? fromMarket(USDT, usdt) : { quote: USDT, rate: 1, basis: 'PEG', source: null, via: null };
  const bridges: Array<readonly [string, number]> = [
    [USD, 1],
    [USDT, usdtRate.rate ?? 1],
  ];
  return [...new Set(quotes)].sort().map((quote): QuoteRate => {
    if (quote === USD) return { quote, rate: 1, basis: 'DEFINITION', source: null, via: null };
    if (quote === USDT) return usdtRate;
    const c = best(quote, bridges);
    return c ? fromMarket(quote, c) : { quote, rate: null, basis: 'NONE', source: null, via: null };
  });
}

/**
 * The rates one query (or one delivery) uses: immutable, so an answer converts consistently.
 * `quotes` is sorted; `version` is what page-cache keys carry.
 */
export interface RateTable extends QueryRates {
  readonly entries: readonly QuoteRate[];
}

export function rateTable(version: number, entries: readonly QuoteRate[]): RateTable {
  const rates = new Map<string, number>();
  for (const e of entries) if (e.rate !== null) rates.set(e.quote, e.rate);
  return { version, quotes: entries.map((e) => e.quote), entries, rateOf: (quote) => rates.get(quote) };
}

const EMPTY_RATES: RateTable = rateTable(0, []);

/** How often rates are read again; a rate is at most this much older than its source's last write. */
export const REFRESH_MS = 100;
/** How often the quote assets and exchanges (hence the candidate ids) are read again. */
export const DISCOVER_MS = 1000;

function sameRates(a: readonly QuoteRate[], b: readonly QuoteRate[]): boolean {
  return a.length === b.length && a.every((e, i) => e.quote === b[i]!.quote && e.rate === b[i]!.rate && e.source?.id === b[i]!.source?.id && e.basis === b[i]!.basis);
}

/**
 * The serving process's current rate table, read from Redis in the background (every
 * REFRESH_MS), so neither a page nor a delivery waits for it. `isStale` is Market.stale's rule.
 */
export class QuoteRates {
  private table: RateTable = EMPTY_RATES;
  private candidates: string[] = [];
  private quotes: readonly string[] = [];
  private lastDiscovery = -Infinity;
  /** Reads started, and the newest one whose table was taken: an older read never replaces a newer one's. */
  private reads = 0;
  private applied = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | null = null;
  private readonly failures: FailureStreak;
  /** Stored candidates that would not decode (counted, skipped). */
  corrupt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly isStale: (market: Market, now: number) => boolean,
    private readonly logger: Logger,
    private readonly options: { readonly refreshMs?: number; readonly discoverMs?: number; readonly now?: () => number } = {},
  ) {
    this.failures = new FailureStreak(logger, 'reading quote rates', 'the last rates read stay in use');
  }

  current(): RateTable {
    return this.table;
  }

  /** Reads everything now, the quote assets and exchanges too (a test, or a caller that just wrote). */
  refresh(): Promise<void> {
    return this.read(true);
  }

  /** One read of the rates; the quote assets and exchanges again when `discover` or when due. */
  private async read(discover: boolean): Promise<void> {
    const started = ++this.reads;
    const now = (this.options.now ?? Date.now)();
    if (discover || now - this.lastDiscovery >= (this.options.discoverMs ?? DISCOVER_MS)) {
      const [[quotesErr, registered], [exchangesErr, exchanges]] = ((await this.redis.pipeline().zrange(this.keys.quotes, 0, -1).smembers(this.keys.exchanges).exec()) ?? []) as [
        [Error | null, string[]],
        [Error | null, string[]],
      ];
      if (quotesErr) throw quotesErr;
      if (exchangesErr) throw exchangesErr;
      this.quotes = registered;
      this.candidates = candidateIds(exchanges.sort(), registered);
      this.lastDiscovery = now;
    }
    const quotes = this.quotes;
    const candidates = this.candidates;
    const stored = candidates.length === 0 ? [] : await this.redis.hmget(this.keys.market, ...candidates);
    if (started < this.applied) return; // a read started later has already answered
    const markets: Market[] = [];
    for (const text of stored) {
      if (text === null) continue;
      try {
        markets.push(decodeMarket(text));
      } catch (err) {
        if (!(err instanceof CorruptMarketError)) throw err;
        if (this.corrupt++ === 0) this.logger.warn({ err: err.message }, 'a stored market that could price a quote asset is corrupt; skipped');
      }
    }
    const entries = computeRates(quotes, markets, (m) => !this.isStale(m, now));
    this.applied = started;
    // Same rates, fresher sources: the version stays (cached pages at these rates stay valid).
    this.table = rateTable(sameRates(entries, this.table.entries) ? this.table.version : this.table.version + 1, entries);
  }

  async start(): Promise<void> {
    await this.refreshInBackground();
    this.timer = setInterval(() => void this.refreshInBackground(), this.options.refreshMs ?? REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One refresh at a time; a failure (Redis away) is logged once per outage and the last table stays. */
  private refreshInBackground(): Promise<void> {
    this.inFlight ??= this.read(false)
      .then(
        () => this.failures.succeeded(),
        (err: unknown) => this.failures.failed(err),
      )
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }
}
