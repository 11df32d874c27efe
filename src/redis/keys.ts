/**
 * The only place Redis key and channel names are built.
 *
 * Every key carries the hash tag `{<prefix>}`, so in Redis Cluster all of tickql's keys live
 * in one slot: a query intersects filter sets with sort indexes, and multi-key commands need
 * their keys in one slot. The price is that one deployment's state lives on one shard (about
 * 40 MB per 10k markets; BENCHMARKS.md section 7).
 *
 * Layout (prefix `tickql`):
 *   {tickql}:market              hash    market id -> JSON of the Market (what queries return)
 *   {tickql}:ids                 zset    every market id, score 0 (so ZRANGE is id order)
 *   {tickql}:idx:<field>         zset    market id, score = numeric field; absent when null
 *   {tickql}:idx:symbol          zset    "<symbol>\0<id>", score 0 (lexicographic index)
 *   {tickql}:idx:search          zset    "<run>\0<id>" for every 3-byte and 2-byte run of the symbol, and
 *                                        "\1\0<id>" marking a market that has its 2-byte runs; score 0
 *   {tickql}:exchange:<id>       zset    market ids of one exchange, score 0
 *   {tickql}:base:<ASSET>        zset    market ids with this base asset, score 0
 *   {tickql}:quote:<ASSET>       zset    market ids with this quote asset, score 0
 *   {tickql}:quotes              zset    every quote asset code with markets, score 0
 *   {tickql}:idx:<field>:<QUOTE> zset    `price` and `quoteVolume24h` again, per quote asset, in quote units:
 *                                        the USD sorts merge these by each quote's current rate
 *                                        (src/quote-rates.ts), so a rate move rewrites no market
 *   {tickql}:filter-counts       hash    "<filter key> <filter key> ..." -> markets in all of them: the
 *                                        walk plan's totals, kept by queryMarkets and deleted whenever
 *                                        a market joins or leaves a filter set (upsert, removal)
 *   {tickql}:exchanges           set     exchange ids with markets or a recent health report (an id
 *                                        leaves with its last market, or when `feeds` finds neither)
 *   {tickql}:feed:<id>           hash    a feed's health, written by the process ingesting it (expires)
 *   {tickql}:ingest:<instance>   string  an ingesting process's "my state is here" marker (expires;
 *                                        its absence means Redis lost the state: ingest/state-guard.ts)
 *   {tickql}:ingesters           set     instances that have published their coverage
 *   {tickql}:covers:<instance>   set     market ids one ingesting process covers; with its marker gone
 *                                        it is dead and its markets are leftovers (redis/coverage.ts)
 *   {tickql}:lease:<feed>        string  "<token>:<instance>": the one process ingesting the feed (expires
 *                                        3 s after its last renewal; feed-leases.ts, lua/acquireLease-3.lua)
 *   {tickql}:fence:<feed>        string  integer, the feed's last fencing token; never expires
 *   {tickql}:held:<feed>         string  the instance that last held the feed's lease (expires 30 s after
 *                                        its last renewal): the sweep leaves the feed's markets alone meanwhile
 *   {tickql}:tmp:<nonce>:<n>     zset    a query's scratch space; deleted by the query itself
 * Channels (pub/sub is not slot-bound, but shares the prefix so deployments stay apart):
 *   tickql:tick:<market id>      JSON of the Market after each update
 *   tickql:feed-status           a feed's id, each time its status changed (serving processes then
 *                                re-read statuses at once, instead of at their next refresh)
 */

/** Numeric fields with a sorted-set index: sortable and range-filterable. */
export const NUMERIC_INDEX_FIELDS = [
  'price',
  'changePercent24h',
  'volume24h',
  'quoteVolume24h',
  'spreadPercent',
  'updatedAt',
] as const;
export type NumericIndexField = (typeof NUMERIC_INDEX_FIELDS)[number];

/**
 * Fields with a USD counterpart (`priceUsd`, `quoteVolume24hUsd`): value in quote units times
 * the quote asset's USD rate. Each also has an index per quote asset (`Keys.quoteIndex`).
 */
export const USD_FIELDS = ['price', 'quoteVolume24h'] as const satisfies readonly NumericIndexField[];
export type UsdField = (typeof USD_FIELDS)[number];

/** Separates symbol and id in the lexicographic symbol index; sorts below every printable byte. */
export const SYMBOL_INDEX_SEPARATOR = '\0';

/** A market's member of the symbol index: `<symbol>\0<id>`. */
export function symbolIndexMember(market: { readonly symbol: string; readonly id: string }): string {
  return `${market.symbol}${SYMBOL_INDEX_SEPARATOR}${market.id}`;
}

export interface Keys {
  readonly market: string;
  readonly ids: string;
  readonly symbolIndex: string;
  /** Substring search: `<run>\0<id>` for every 3-byte and 2-byte run of each market's symbol (lua/README.md). */
  readonly searchIndex: string;
  readonly exchanges: string;
  /** Cached intersection counts of filter sets (the walk plan's totals); see the layout above. */
  readonly filterCounts: string;
  index(field: NumericIndexField): string;
  /** A USD field's index restricted to one quote asset's markets (values in that quote's units). */
  quoteIndex(field: UsdField, quote: string): string;
  /** Every quote asset with markets (written by upsertMarkets, emptied by removeMarkets). */
  readonly quotes: string;
  exchange(exchangeId: string): string;
  base(asset: string): string;
  quote(asset: string): string;
  feed(exchangeId: string): string;
  /** Unique to this Keys object (one per app, so one per process in production). */
  readonly instance: string;
  /** One ingesting process's presence marker; `instance` is unique to the process (`Keys.instance`). */
  ingestMarker(instance: string): string;
  /** Registry of the ingesting processes that publish their coverage (`covers`). */
  readonly ingesters: string;
  /** The market ids one ingesting process covers (redis/coverage.ts). */
  covers(instance: string): string;
  /** The lease of one feed (an exchange id): which process ingests it now, with its fencing token. */
  lease(feed: string): string;
  /** A feed's fencing counter: the token of its latest tenure. Never expires. */
  fence(feed: string): string;
  /** The instance that last held a feed's lease; outlives the lease (the sweep waits for the next holder). */
  leaseTrace(feed: string): string;
  /** `count` scratch keys for one script call, unique to it. */
  scratch(count: number): string[];
  /** The pub/sub channel carrying one market's updates. */
  tickChannel(marketId: string): string;
  /** The pub/sub channel announcing that a feed's status changed (its message: the feed's id). */
  readonly feedStatusChannel: string;
  /** A PSUBSCRIBE pattern; `exchangeId`/`symbol` are escaped so they match as plain text. */
  tickPattern(exchangeId: string | null, symbol: string | null): string;
}

/**
 * The market state and its indexes, in the order lua/upsertMarkets-n.lua and
 * lua/removeMarkets-n.lua take them as KEYS[1..13].
 */
export function marketStateKeys(keys: Keys): string[] {
  return [
    keys.market,
    keys.ids,
    ...NUMERIC_INDEX_FIELDS.map((f) => keys.index(f)),
    keys.symbolIndex,
    keys.exchanges,
    keys.searchIndex,
    keys.filterCounts,
    keys.quotes,
  ];
}

/**
 * The keys one market is filed under besides the state's own: its exchange, base and quote
 * zsets, then its quote's `price` and `quoteVolume24h` indexes (USD_FIELDS order).
 */
export function marketSetKeys(keys: Keys, market: { readonly exchange: string; readonly base: string; readonly quote: string }): string[] {
  return [keys.exchange(market.exchange), keys.base(market.base), keys.quote(market.quote), ...USD_FIELDS.map((f) => keys.quoteIndex(f, market.quote))];
}

let scratchCounter = 0;

/** Escapes Redis glob metacharacters so user text matches literally in a pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export function createKeys(prefix: string): Keys {
  const tag = `{${prefix}}`;
  const instance = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return {
    market: `${tag}:market`,
    ids: `${tag}:ids`,
    symbolIndex: `${tag}:idx:symbol`,
    searchIndex: `${tag}:idx:search`,
    exchanges: `${tag}:exchanges`,
    filterCounts: `${tag}:filter-counts`,
    index: (field) => `${tag}:idx:${field}`,
    quoteIndex: (field, quote) => `${tag}:idx:${field}:${quote.toUpperCase()}`,
    quotes: `${tag}:quotes`,
    exchange: (exchangeId) => `${tag}:exchange:${exchangeId.toLowerCase()}`,
    base: (asset) => `${tag}:base:${asset.toUpperCase()}`,
    quote: (asset) => `${tag}:quote:${asset.toUpperCase()}`,
    feed: (exchangeId) => `${tag}:feed:${exchangeId}`,
    instance,
    ingestMarker: (id) => `${tag}:ingest:${id}`,
    ingesters: `${tag}:ingesters`,
    covers: (id) => `${tag}:covers:${id}`,
    lease: (feed) => `${tag}:lease:${feed}`,
    fence: (feed) => `${tag}:fence:${feed}`,
    leaseTrace: (feed) => `${tag}:held:${feed}`,
    scratch: (count) => {
      const nonce = `${instance}${(scratchCounter++).toString(36)}`;
      return Array.from({ length: count }, (_, i) => `${tag}:tmp:${nonce}:${i}`);
    },
    tickChannel: (marketId) => `${prefix}:tick:${marketId}`,
    feedStatusChannel: `${prefix}:feed-status`,
    tickPattern: (exchangeId, symbol) =>
      exchangeId === null && symbol === null
        ? `${escapeGlob(prefix)}:tick:*`
        : `${escapeGlob(prefix)}:tick:${exchangeId === null ? '*' : escapeGlob(exchangeId)}:${symbol === null ? '*' : escapeGlob(symbol)}`,
  };
}
