import type { GraphQLResolveInfo } from 'graphql';
import type { Market as MarketModel } from '../market';
import type { FeedReport } from '../redis/feed-health';
import type { MarketPageParent } from '../resolvers/query/markets';
import type { QuoteRate as QuoteRateModel } from '../quote-rates';
import type { Context } from '../context';
export type Maybe<T> = T | null;
export type InputMaybe<T> = T | null | undefined;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
};

/** An exchange feed's health, as reported by the process that ingests it. */
export type Feed = {
  __typename?: 'Feed';
  /** Open connections (WebSockets) to the exchange; 0 while the feed is down or waiting to reconnect. */
  connections: Scalars['Int']['output'];
  /**
   * Error frames the exchange sent: a rejected subscription, an error event. The feed keeps its
   * connection; the text of the latest one is in `lastError`.
   */
  errorFrames: Scalars['Int']['output'];
  /** Lower-case exchange id. */
  exchange: Scalars['String']['output'];
  /**
   * The tickql process ingesting this feed now: the holder of its lease in Redis. Any number of
   * processes may share a Redis; each feed is ingested by exactly one of them at a time, and
   * when that one stops or dies another takes the feed over within seconds. Null while no
   * process holds it (none is configured for it, or one is about to take it over).
   */
  ingestedBy: Maybe<Scalars['String']['output']>;
  /** Frames that could not be understood and were dropped. */
  invalidFrames: Scalars['Int']['output'];
  /** The last error the exchange or the connection reported; null when none. */
  lastError: Maybe<Scalars['String']['output']>;
  /** When the last frame of any kind arrived, epoch milliseconds; null before the first. */
  lastMessageAt: Maybe<Scalars['Float']['output']>;
  /** Markets of this exchange present in the live state. */
  markets: Scalars['Int']['output'];
  /** Frames received per second, averaged over the last few seconds. */
  messagesPerSecond: Scalars['Float']['output'];
  /** Connections re-established after a loss (a planned rotation is not a reconnect). */
  reconnects: Scalars['Int']['output'];
  /**
   * Subscribed symbols that have sent no data since a minute after the feed first went LIVE.
   * Some exchanges accept a subscription to a symbol they do not list and then stay silent, so
   * a misspelt `<EXCHANGE>_SYMBOLS` entry shows up here.
   */
  silentSymbols: Array<Scalars['String']['output']>;
  /**
   * Connections that stayed open but went silent (no data, no heartbeat, no ping) for longer
   * than the exchange's silence limit, and were replaced.
   */
  stalls: Scalars['Int']['output'];
  /** Connection state. */
  status: FeedStatus;
  /**
   * One-second intervals in which the exchange sent more frames than `FEED_MAX_FRAMES_PER_S`;
   * the feed stopped reading its socket for the rest of each, dropping nothing.
   */
  throttledSeconds: Scalars['Int']['output'];
};

/** Connection state of an exchange feed. */
export type FeedStatus =
  /** Opening the first connection and subscribing. */
  | 'CONNECTING'
  /** Not ingesting: stopped, failed for good, or no process is running this feed. */
  | 'DOWN'
  /** Connected; data is flowing. */
  | 'LIVE'
  /** The connection was lost; retrying with backoff. */
  | 'RECONNECTING';

/**
 * One trading pair on one exchange, in its latest known state. Prices are in quote units,
 * volumes as documented per field; a field the exchange does not provide (and that cannot be
 * derived exactly) is null.
 */
export type Market = {
  __typename?: 'Market';
  /** Best ask price. */
  ask: Maybe<Scalars['Float']['output']>;
  /** Base asset code. */
  base: Scalars['String']['output'];
  /** Best bid price. */
  bid: Maybe<Scalars['Float']['output']>;
  /** `price - open24h` when both are known, else the exchange's own figure. */
  change24h: Maybe<Scalars['Float']['output']>;
  /** `(price - open24h) / open24h * 100` when both are known, else the exchange's own figure, in percent. */
  changePercent24h: Maybe<Scalars['Float']['output']>;
  /** Lower-case exchange id (`binance`, `coinbase`, `kraken`, `okx`, `bybit`, `sim`). */
  exchange: Scalars['String']['output'];
  /** Highest trade price in the 24-hour window. */
  high24h: Maybe<Scalars['Float']['output']>;
  /** `<exchange>:<symbol>`, e.g. `binance:BTC/USDT`. */
  id: Scalars['ID']['output'];
  /** Lowest trade price in the 24-hour window. */
  low24h: Maybe<Scalars['Float']['output']>;
  /** The exchange's own spelling of the symbol (`BTCUSDT`, `BTC-USD`, `BTC/USD`). */
  nativeSymbol: Scalars['String']['output'];
  /** Price at the start of the exchange's rolling 24-hour window. */
  open24h: Maybe<Scalars['Float']['output']>;
  /** Last trade price. */
  price: Scalars['Float']['output'];
  /**
   * `price` in US dollars: times the USD rate of the quote asset (`Query.quoteRates`); null when
   * the quote asset has no rate. In a `markets` page, at the rates the page was sorted and
   * filtered with.
   */
  priceUsd: Maybe<Scalars['Float']['output']>;
  /** Quote asset code. */
  quote: Scalars['String']['output'];
  /** 24-hour traded volume in quote-asset units. */
  quoteVolume24h: Maybe<Scalars['Float']['output']>;
  /** `quoteVolume24h` in US dollars, at the quote asset's rate; null when either is unknown. */
  quoteVolume24hUsd: Maybe<Scalars['Float']['output']>;
  /** `(ask - bid) / mid * 100`, with `mid = (ask + bid) / 2`; null without both sides of the book. */
  spreadPercent: Maybe<Scalars['Float']['output']>;
  /** True when the market's feed is not LIVE, or it has had no update for longer than STALE_AFTER_MS. */
  stale: Scalars['Boolean']['output'];
  /** Normalized `BASE/QUOTE` in common asset codes, upper case (Kraken's `XBT` is `BTC`). */
  symbol: Scalars['String']['output'];
  /** Exchange event time of the latest update, epoch milliseconds (may carry a fraction). */
  updatedAt: Scalars['Float']['output'];
  /** 24-hour traded volume in base-asset units. */
  volume24h: Maybe<Scalars['Float']['output']>;
};

/**
 * Conditions a market must meet; every given condition must hold. A market lacking a field
 * that a condition tests does not match that condition. Bounds are inclusive.
 */
export type MarketFilter = {
  /** Any of these base assets (case-insensitive). An empty list matches nothing. */
  bases?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Any of these exchange ids (case-insensitive). An empty list matches nothing. */
  exchanges?: InputMaybe<Array<Scalars['String']['input']>>;
  /**
   * Any of these market ids (a watchlist), matched exactly (`binance:BTC/USDT`). Unknown ids
   * match nothing, as does an empty list; a repeated id counts once. At most 500 ids.
   */
  ids?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** Highest 24-hour change in percent. */
  maxChangePercent24h?: InputMaybe<Scalars['Float']['input']>;
  /** Highest price. */
  maxPrice?: InputMaybe<Scalars['Float']['input']>;
  /** Highest price in USD (`priceUsd`). */
  maxPriceUsd?: InputMaybe<Scalars['Float']['input']>;
  /** Lowest 24-hour change in percent. */
  minChangePercent24h?: InputMaybe<Scalars['Float']['input']>;
  /** Lowest price. */
  minPrice?: InputMaybe<Scalars['Float']['input']>;
  /** Lowest price in USD (`priceUsd`); markets whose quote asset has no rate do not match. */
  minPriceUsd?: InputMaybe<Scalars['Float']['input']>;
  /** Lowest 24-hour quote volume. */
  minQuoteVolume24h?: InputMaybe<Scalars['Float']['input']>;
  /** Lowest 24-hour quote volume in USD (`quoteVolume24hUsd`). */
  minQuoteVolume24hUsd?: InputMaybe<Scalars['Float']['input']>;
  /** Any of these quote assets (case-insensitive). An empty list matches nothing. */
  quotes?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Case-insensitive substring of the symbol, matched as plain text (never a pattern). At most 64 characters. */
  search?: InputMaybe<Scalars['String']['input']>;
};

/** One page of markets. */
export type MarketPage = {
  __typename?: 'MarketPage';
  /** The markets on this page, in order. */
  items: Array<Market>;
  /** The page size asked for. */
  limit: Scalars['Int']['output'];
  /** The offset this page starts at. */
  offset: Scalars['Int']['output'];
  /** Markets matching the filter, on all pages. */
  total: Scalars['Int']['output'];
};

/**
 * How to order markets. Ties are broken by `id` ascending, so pages are stable; markets that
 * lack the sort field come after all others in either direction.
 */
export type MarketSort = {
  /** Direction; descending unless given. */
  direction?: InputMaybe<SortDirection>;
  /** The field to sort by. */
  field: MarketSortField;
};

/** A field to sort markets by. */
export type MarketSortField =
  /** 24-hour change in percent. */
  | 'CHANGE_PERCENT_24H'
  /** Last trade price. */
  | 'PRICE'
  /** `priceUsd`: the price converted to USD at the current rate of the quote asset. */
  | 'PRICE_USD'
  /** 24-hour volume in quote-asset units. */
  | 'QUOTE_VOLUME_24H'
  /** `quoteVolume24hUsd`: the 24-hour quote volume in USD, comparable across quote assets. */
  | 'QUOTE_VOLUME_24H_USD'
  /** Bid-ask spread in percent of the mid price. */
  | 'SPREAD_PERCENT'
  /** Normalized symbol, in code-point (byte) order. */
  | 'SYMBOL'
  /** Exchange event time of the latest update. */
  | 'UPDATED_AT'
  /** 24-hour volume in base-asset units. */
  | 'VOLUME_24H';

/** Which slice of the sorted, filtered list to return. */
export type PageInput = {
  /** Markets to return; 1 to 500. */
  limit?: InputMaybe<Scalars['Int']['input']>;
  /** Markets to skip; at least 0. */
  offset?: InputMaybe<Scalars['Int']['input']>;
};

/** Read the live market state. */
export type Query = {
  __typename?: 'Query';
  /**
   * Every feed some process runs or that has markets in the live state: those configured in the
   * process answering, those with a current health report, and those with markets.
   */
  feeds: Array<Feed>;
  /** One market by id; null when it is unknown. */
  market: Maybe<Market>;
  /** A page of markets, filtered and sorted. Without `sort`, by 24-hour quote volume, largest first. */
  markets: MarketPage;
  /**
   * The USD rate of every quote asset with markets, as USD fields are computed now; each from
   * the deepest live market that prices it, read again every 100 ms.
   */
  quoteRates: Array<QuoteRate>;
};


/** Read the live market state. */
export type QueryMarketArgs = {
  id: Scalars['ID']['input'];
};


/** Read the live market state. */
export type QueryMarketsArgs = {
  filter?: InputMaybe<MarketFilter>;
  page?: InputMaybe<PageInput>;
  sort?: InputMaybe<MarketSort>;
};

/** One quote asset's USD rate, and where it comes from. */
export type QuoteRate = {
  __typename?: 'QuoteRate';
  /** Milliseconds since tickql received the source's state the rate was read from; null without a source. */
  ageMs: Maybe<Scalars['Float']['output']>;
  /** How the rate was found. */
  basis: QuoteRateBasis;
  /** The quote asset's code. */
  quote: Scalars['String']['output'];
  /** US dollars per unit of the asset; null when no live market prices it. */
  rate: Maybe<Scalars['Float']['output']>;
  /** The market the rate comes from (basis MARKET), in the state the rate was read from. */
  source: Maybe<Market>;
  /** What the source prices the asset against: `USD`, or `USDT` (whose own rate is then part of this one). */
  via: Maybe<Scalars['String']['output']>;
};

/** How a quote asset is priced in US dollars (README, USD values). */
export type QuoteRateBasis =
  /** USD itself: 1. */
  | 'DEFINITION'
  /** From a live market against USD or USDT (`source`). */
  | 'MARKET'
  /** No live market prices it: its markets' USD fields are null. */
  | 'NONE'
  /** USDT while no live market prices it against USD: its peg, 1. */
  | 'PEG';

/** Sort direction. */
export type SortDirection =
  /** Smallest first. */
  | 'ASC'
  /** Largest first. */
  | 'DESC';

/** Follow the live market state. */
export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Every change of a matching market's state. No arguments: every market. Arguments combine
   * with AND; each list matches any of its values. A client that falls behind receives the
   * latest state of each market, not a growing backlog. `ids` are market ids
   * (`binance:BTC/USDT`) and `symbols` normalized symbols (`BTC/USDT`): other forms are refused
   * with BAD_USER_INPUT, since they could never match. With `snapshot: true` the current state
   * of every matching market comes first, then the changes, with no update lost between them.
   */
  priceUpdated: Market;
};


/** Follow the live market state. */
export type SubscriptionPriceUpdatedArgs = {
  exchanges?: InputMaybe<Array<Scalars['String']['input']>>;
  ids?: InputMaybe<Array<Scalars['ID']['input']>>;
  snapshot?: InputMaybe<Scalars['Boolean']['input']>;
  symbols?: InputMaybe<Array<Scalars['String']['input']>>;
};



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;





/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  Feed: ResolverTypeWrapper<FeedReport>;
  FeedStatus: FeedStatus;
  Float: ResolverTypeWrapper<Scalars['Float']['output']>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  Market: ResolverTypeWrapper<MarketModel>;
  MarketFilter: MarketFilter;
  MarketPage: ResolverTypeWrapper<MarketPageParent>;
  MarketSort: MarketSort;
  MarketSortField: MarketSortField;
  PageInput: PageInput;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  QuoteRate: ResolverTypeWrapper<QuoteRateModel>;
  QuoteRateBasis: QuoteRateBasis;
  SortDirection: SortDirection;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Boolean: Scalars['Boolean']['output'];
  Feed: FeedReport;
  Float: Scalars['Float']['output'];
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  Market: MarketModel;
  MarketFilter: MarketFilter;
  MarketPage: MarketPageParent;
  MarketSort: MarketSort;
  PageInput: PageInput;
  Query: Record<PropertyKey, never>;
  QuoteRate: QuoteRateModel;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
};

export type FeedResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Feed'] = ResolversParentTypes['Feed']> = {
  connections?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  errorFrames?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  exchange?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  ingestedBy?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  invalidFrames?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  lastError?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  lastMessageAt?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  markets?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  messagesPerSecond?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  reconnects?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  silentSymbols?: Resolver<Array<ResolversTypes['String']>, ParentType, ContextType>;
  stalls?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  status?: Resolver<ResolversTypes['FeedStatus'], ParentType, ContextType>;
  throttledSeconds?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type MarketResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Market'] = ResolversParentTypes['Market']> = {
  ask?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  base?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  bid?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  change24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  changePercent24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  exchange?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  high24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  low24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  nativeSymbol?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  open24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  price?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  priceUsd?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  quote?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  quoteVolume24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  quoteVolume24hUsd?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  spreadPercent?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  stale?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  symbol?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  volume24h?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
};

export type MarketPageResolvers<ContextType = Context, ParentType extends ResolversParentTypes['MarketPage'] = ResolversParentTypes['MarketPage']> = {
  items?: Resolver<Array<ResolversTypes['Market']>, ParentType, ContextType>;
  limit?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  offset?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  total?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  feeds?: Resolver<Array<ResolversTypes['Feed']>, ParentType, ContextType>;
  market?: Resolver<Maybe<ResolversTypes['Market']>, ParentType, ContextType, RequireFields<QueryMarketArgs, 'id'>>;
  markets?: Resolver<ResolversTypes['MarketPage'], ParentType, ContextType, Partial<QueryMarketsArgs>>;
  quoteRates?: Resolver<Array<ResolversTypes['QuoteRate']>, ParentType, ContextType>;
};

export type QuoteRateResolvers<ContextType = Context, ParentType extends ResolversParentTypes['QuoteRate'] = ResolversParentTypes['QuoteRate']> = {
  ageMs?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  basis?: Resolver<ResolversTypes['QuoteRateBasis'], ParentType, ContextType>;
  quote?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  rate?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  source?: Resolver<Maybe<ResolversTypes['Market']>, ParentType, ContextType>;
  via?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  priceUpdated?: SubscriptionResolver<ResolversTypes['Market'], "priceUpdated", ParentType, ContextType, RequireFields<SubscriptionPriceUpdatedArgs, 'snapshot'>>;
};

export type Resolvers<ContextType = Context> = {
  Feed?: FeedResolvers<ContextType>;
  Market?: MarketResolvers<ContextType>;
  MarketPage?: MarketPageResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  QuoteRate?: QuoteRateResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
};

