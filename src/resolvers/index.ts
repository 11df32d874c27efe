import type { Resolvers } from '../generated/graphql';
import { feeds } from './query/feeds';
import { market } from './query/market';
import { markets } from './query/markets';
import { priceUpdated } from './subscription/price-updated';

export const resolvers: Resolvers = {
  Query: { markets, market, feeds },
  Subscription: { priceUpdated },
  Market: {
    stale: (parent, _args, { services }) => services.staleness.isStale(parent),
  },
};
