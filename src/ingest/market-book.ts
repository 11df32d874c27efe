/**
 * MarketBook: one feed's markets as the exchange's patches build them up, turned into the
 * normalized `Market` (src/market.ts) once each is complete enough.
 */
import { deriveWithIdentity, EMPTY_FIELDS, marketIdentity, type Market, type MarketIdentity, type SymbolInfo, type TickerField, type TickerPatch } from '../market';

/**
 * The merged raw state of one feed's markets. Patches merge field by field; a market is
 * emitted once its price is known. Event time only moves forward within each stream: a patch
 * older than its stream's latest for that market is ignored (returns null), so a late frame
 * never overwrites newer state. The market's `updatedAt` is the latest time of any stream.
 */
export class MarketBook {
  // Runs once per ticker frame: the merged fields are updated in place and a market's
  // identity is derived once, so a frame allocates little more than the Market it emits.
  private readonly raw = new Map<string, RawMarket>();
  private emitted = 0;

  constructor(
    private readonly exchange: string,
    private readonly symbolInfo: (nativeSymbol: string) => SymbolInfo,
  ) {}

  apply(patch: TickerPatch, receivedAt: number): Market | null {
    const stream = patch.stream ?? '';
    let entry = this.raw.get(patch.nativeSymbol);
    if (entry === undefined) {
      entry = { fields: { ...EMPTY_FIELDS }, updatedAt: -Infinity, receivedAt: 0, streams: new Map(), info: null, identity: null };
      this.raw.set(patch.nativeSymbol, entry);
    }
    const streamTime = entry.streams.get(stream);
    if (streamTime !== undefined && patch.eventTime < streamTime) return null;
    entry.streams.set(stream, patch.eventTime);
    Object.assign(entry.fields, patch.fields);
    entry.updatedAt = Math.max(patch.eventTime, entry.updatedAt);
    const { price } = entry.fields;
    if (price === null) return null;
    const info = this.symbolInfo(patch.nativeSymbol);
    if (entry.identity === null || info !== entry.info) {
      if (entry.identity === null) this.emitted++;
      entry.info = info;
      entry.identity = marketIdentity(this.exchange, info);
    }
    entry.receivedAt = receivedAt;
    return deriveWithIdentity(entry.identity, entry.fields, price, entry.updatedAt, receivedAt);
  }

  /**
   * The latest state of every emitted market, exactly as it was last emitted: what Redis must
   * hold for this feed. Derived on demand (the book keeps the merged fields, not the Markets),
   * so it costs nothing on the frame path.
   */
  *latest(): IterableIterator<Market> {
    for (const entry of this.raw.values()) {
      const { identity } = entry;
      const { price } = entry.fields;
      if (identity === null || price === null) continue;
      yield deriveWithIdentity(identity, entry.fields, price, entry.updatedAt, entry.receivedAt);
    }
  }

  /** Native symbols that have sent at least one patch. */
  get size(): number {
    return this.raw.size;
  }

  /** Whether `nativeSymbol` has sent at least one patch (applied or not). */
  has(nativeSymbol: string): boolean {
    return this.raw.has(nativeSymbol);
  }

  /**
   * Forgets a market (the exchange delisted it): the id it was emitted under, or null when it
   * never was. A later patch for the symbol starts a new market.
   */
  forget(nativeSymbol: string): string | null {
    const entry = this.raw.get(nativeSymbol);
    if (entry === undefined) return null;
    this.raw.delete(nativeSymbol);
    if (entry.identity === null) return null;
    this.emitted--;
    return entry.identity.id;
  }

  /** Markets emitted at least once (those whose price is known). */
  get emittedMarkets(): number {
    return this.emitted;
  }
}

interface RawMarket {
  /** Every field merged from the patches so far; updated in place. */
  readonly fields: { -readonly [K in TickerField]: number | null };
  /** Latest event time of any stream. */
  updatedAt: number;
  /** Local receive time of the latest emitted state. */
  receivedAt: number;
  /** Latest event time per stream (`''` for an exchange with one stream per market). */
  readonly streams: Map<string, number>;
  /** The symbol info `identity` was derived from: derived again if the adapter answers with another. */
  info: SymbolInfo | null;
  identity: MarketIdentity | null;
}
