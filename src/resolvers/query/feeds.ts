import type { Resolvers } from '../../generated/graphql';
import { readFeedReports } from '../../redis/feed-health';

export const feeds: NonNullable<Resolvers['Query']>['feeds'] = (_parent, _args, { services }) =>
  readFeedReports(services.redis, services.keys, services.configuredFeeds);
