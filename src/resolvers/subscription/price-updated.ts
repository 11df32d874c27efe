import type { Resolvers } from '../../generated/graphql';
import type { Market } from '../../market';
import { badUserInput } from '../../errors';

/** Most values accepted in one argument list; each can be a Redis subscription. */
export const MAX_SELECTION_VALUES = 1000;

export const priceUpdated: NonNullable<Resolvers['Subscription']>['priceUpdated'] = {
  subscribe: (_parent, args, { services }) => {
    for (const name of ['ids', 'exchanges', 'symbols'] as const) {
      const values = args[name];
      if (values && values.length > MAX_SELECTION_VALUES) {
        throw badUserInput(`${name} has ${values.length} values; at most ${MAX_SELECTION_VALUES} are allowed`, name);
      }
    }
    return services.priceUpdates.subscribe(args);
  },
  resolve: (market: Market) => market,
};
