/**
 * The one normalized market shape, and the rules that turn an exchange's partial ticker
 * information into it.
 *
 * Numeric policy (applies to every adapter):
 * - numbers are parsed once from the exchange's decimal text (or JSON number) into a 64-bit
 *   float and never rounded afterwards;
 * - a required value (the last price, the event time) that is not a finite number rejects the
 *   whole frame;
 * - an optional value the exchange does not send stays `null`, never an invented 0;
 * - a value is derived only where the derivation is exact (see `deriveMarket`).
 */

/** Fields an exchange can report for a market. Each has exactly one meaning across exchanges. */
export interface TickerFields {
  /** Last trade price, in quote units. */
  readonly price: number | null;
  /** Best bid price. */
  readonly bid: number | null;
  /** Best ask price. */
  readonly ask: number | null;
  /** Price at the start of the exchange's rolling 24h window. */
  readonly open24h: number | null;
  /** Highest trade price in the 24h window. */
  readonly high24h: number | null;
  /** Lowest trade price in the 24h window. */
  readonly low24h: number | null;
  /** Traded volume over 24h in base-asset units. */
  readonly volume24h: number | null;
  /** Traded volume over 24h in quote-asset units. */
  readonly quoteVolume24h: number | null;
  /** The exchange's own absolute 24h change (price - open), used only when open24h is unknown. */
  readonly change24h: number | null;
  /** The exchange's own 24h change in PERCENT (1.5 = +1.5 %), used only when open24h is unknown. */
  readonly changePercent24h: number | null;
}

export type TickerField = keyof TickerFields;

export const TICKER_FIELDS: readonly TickerField[] = [
  'price',
  'bid',
  'ask',
  'open24h',
  'high24h',
  'low24h',
  'volume24h',
  'quoteVolume24h',
  'change24h',
  'changePercent24h',
];

/**
 * What an adapter extracts from one frame for one market: the fields that frame carries.
 * A field absent from `fields` is left as it was; a field present as `null` is known to be
 * missing. Several patches (e.g. Bybit's ticker and its order book) merge into one market.
 */
export interface TickerPatch {
  /** The exchange's own spelling of the symbol, as it appears on the wire. */
  readonly nativeSymbol: string;
  /** Exchange event time, epoch milliseconds (may carry a sub-millisecond fraction). */
  readonly eventTime: number;
  readonly fields: Partial<TickerFields>;
  /**
   * The exchange stream this patch came from, when one market is fed by several (Bybit's
   * `tickers` and `orderbook.1`). Event times are compared within a stream only: two streams
   * are stamped independently, so a book update may carry an earlier time than the latest
   * ticker and still be the newest book. Default: one stream.
   */
  readonly stream?: string;
}

/** Base and quote asset of a native symbol, in common asset codes (upper case). */
export interface SymbolInfo {
  readonly nativeSymbol: string;
  readonly base: string;
  readonly quote: string;
}

/** One market's full normalized state: what Redis stores, queries sort on and clients receive. */
export interface Market {
  /** `<exchange>:<symbol>`, e.g. `binance:BTC/USDT`. */
  readonly id: string;
  /** Lower-case exchange id. */
  readonly exchange: string;
  /** `BASE/QUOTE` in common asset codes. */
  readonly symbol: string;
  readonly nativeSymbol: string;
  readonly base: string;
  readonly quote: string;
  readonly price: number;
  readonly bid: number | null;
  readonly ask: number | null;
  readonly open24h: number | null;
  readonly high24h: number | null;
  readonly low24h: number | null;
  readonly volume24h: number | null;
  readonly quoteVolume24h: number | null;
  /** price - open24h, or the exchange's own figure when open24h is unknown. */
  readonly change24h: number | null;
  /** (price - open24h) / open24h * 100, or the exchange's own figure in percent. */
  readonly changePercent24h: number | null;
  /** (ask - bid) / mid * 100 where mid = (ask + bid) / 2; null without both sides. */
  readonly spreadPercent: number | null;
  /** Exchange event time of the latest update, epoch milliseconds. */
  readonly updatedAt: number;
  /** Local receive time of the latest update, epoch milliseconds (drives staleness). */
  readonly receivedAt: number;
}

/** The Market fields that are numbers or null (everything an exchange may not provide). */
export const NULLABLE_MARKET_FIELDS = [
  'bid',
  'ask',
  'open24h',
  'high24h',
  'low24h',
  'volume24h',
  'quoteVolume24h',
  'change24h',
  'changePercent24h',
  'spreadPercent',
] as const satisfies readonly (keyof Market)[];

export function marketId(exchange: string, symbol: string): string {
  return `${exchange}:${symbol}`;
}

/** Whether `text` has the form of a normalized symbol, `BASE/QUOTE` (any case). */
export function isSymbolForm(text: string): boolean {
  return /^[^:/]+\/[^:/]+$/.test(text);
}

/** Whether `text` has the form of a market id, `<exchange>:<BASE>/<QUOTE>`. */
export function isMarketIdForm(text: string): boolean {
  const colon = text.indexOf(':');
  return colon > 0 && isSymbolForm(text.slice(colon + 1));
}

/** The fields of a Market that name it; they never change for a market. */
export type MarketIdentity = Pick<Market, 'id' | 'exchange' | 'symbol' | 'nativeSymbol' | 'base' | 'quote'>;

export function marketIdentity(exchange: string, info: SymbolInfo): MarketIdentity {
  const symbol = `${info.base}/${info.quote}`;
  return { id: marketId(exchange, symbol), exchange, symbol, nativeSymbol: info.nativeSymbol, base: info.base, quote: info.quote };
}

/** Derives the computed fields from the merged raw fields. Pure. */
export function deriveMarket(
  identity: { exchange: string; info: SymbolInfo },
  raw: TickerFields & { price: number },
  updatedAt: number,
  receivedAt: number,
): Market {
  return deriveWithIdentity(marketIdentity(identity.exchange, identity.info), raw, raw.price, updatedAt, receivedAt);
}

/** `deriveMarket` for a known identity; `price` is `raw.price`, known not to be null. */
/** `deriveMarket` for an identity already built (MarketBook builds each market's once). */
export function deriveWithIdentity(identity: MarketIdentity, raw: TickerFields, price: number, updatedAt: number, receivedAt: number): Market {
  const { bid, ask, open24h } = raw;

  const hasOpen = open24h !== null && open24h !== 0;
  const change24h = hasOpen ? price - open24h : raw.change24h;
  const changePercent24h = hasOpen ? ((price - open24h) / open24h) * 100 : raw.changePercent24h;

  let spreadPercent: number | null = null;
  if (bid !== null && ask !== null) {
    const mid = (ask + bid) / 2;
    if (mid > 0) spreadPercent = ((ask - bid) / mid) * 100;
  }

  return {
    id: identity.id,
    exchange: identity.exchange,
    symbol: identity.symbol,
    nativeSymbol: identity.nativeSymbol,
    base: identity.base,
    quote: identity.quote,
    price,
    bid,
    ask,
    open24h,
    high24h: raw.high24h,
    low24h: raw.low24h,
    volume24h: raw.volume24h,
    quoteVolume24h: raw.quoteVolume24h,
    change24h,
    changePercent24h,
    spreadPercent,
    updatedAt,
    receivedAt,
  };
}

/** Every field unknown: where a market's merged state starts. */
export const EMPTY_FIELDS: TickerFields = {
  price: null,
  bid: null,
  ask: null,
  open24h: null,
  high24h: null,
  low24h: null,
  volume24h: null,
  quoteVolume24h: null,
  change24h: null,
  changePercent24h: null,
};
