import type { Resolvers } from '../../generated/graphql';

export const quoteRates: NonNullable<Resolvers['Query']>['quoteRates'] = (_parent, _args, { rates }) => [...rates.entries];

export const QuoteRate: Resolvers['QuoteRate'] = {
  ageMs: (rate) => (rate.source === null ? null : Math.max(0, Date.now() - rate.source.receivedAt)),
};
