/**
 * What GraphiQL opens with: the README's example operations ("Try it offline"), so a newcomer
 * runs them with one click instead of reading the stock welcome text.
 * test/unit/example-operations.test.ts keeps the two the same, and checks each against the
 * schema.
 */
export const EXAMPLE_OPERATIONS = `# the 20 biggest markets by 24h volume in US dollars, whatever their quote asset
query BiggestByUsdVolume {
  markets(sort: { field: QUOTE_VOLUME_24H_USD }, page: { limit: 20 }) {
    total
    items { id price priceUsd changePercent24h quoteVolume24hUsd spreadPercent stale }
  }
}

# biggest movers among the markets under $1 that traded at least $1M in 24h
query MoversUnderOneDollar {
  markets(
    sort: { field: CHANGE_PERCENT_24H }
    filter: { maxPriceUsd: 1, minQuoteVolume24hUsd: 1000000 }
  ) {
    items { id priceUsd changePercent24h quoteVolume24hUsd }
  }
}

# top 20 USDT markets by 24h quote volume (in USDT)
query TopUsdtMarkets {
  markets(filter: { quotes: ["USDT"] }, page: { limit: 20 }) {
    total
    items { id price changePercent24h quoteVolume24h spreadPercent stale }
  }
}

# biggest losers whose symbol contains "ETH"
query EthLosers {
  markets(sort: { field: CHANGE_PERCENT_24H, direction: ASC }, filter: { search: "eth" }) {
    items { symbol exchange price changePercent24h }
  }
}

# two markets now, then every change (GraphiQL runs subscriptions over graphql-ws)
subscription TwoMarketsLive {
  priceUpdated(ids: ["sim:BTC/USDT", "sim:ETH/USDT"], snapshot: true) { id price priceUsd bid ask updatedAt }
}

query Feeds { feeds { exchange status markets connections lastMessageAt reconnects messagesPerSecond invalidFrames errorFrames stalls throttledSeconds lastError } }
`;
