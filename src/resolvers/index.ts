import { ratesFor } from '../context';
import type { Resolvers } from '../generated/graphql';
import { usdValue } from '../quote-rates';
import { feeds } from './query/feeds';
import { market } from './query/market';
import { markets } from './query/markets';
import { QuoteRate, quoteRates } from './query/quote-rates';
import { priceUpdated } from './subscription/price-updated';

export const resolvers: Resolvers = {
  Query: { markets, market, feeds, quoteRates },
  Subscription: { priceUpdated },
  Market: {
    stale: (parent, _args, { services }) => services.staleness.isStale(parent),
    priceUsd: (parent, _args, context, info) => usdValue(parent.price, ratesFor(context, info.operation.operation).rateOf(parent.quote)),
    quoteVolume24hUsd: (parent, _args, context, info) => usdValue(parent.quoteVolume24h, ratesFor(context, info.operation.operation).rateOf(parent.quote)),
  },
  QuoteRate,
};
