import type { Resolvers } from '../../generated/graphql';
import { isMarketIdForm, isSymbolForm, type Market } from '../../market';
import { badUserInput } from '../../errors';
import { getSelectedMarkets } from '../../redis/get-markets';

/** Most values accepted in one argument list; each can be a Redis subscription. */
export const MAX_SELECTION_VALUES = 1000;

/** A value whose form can never match, and what the form should be: a subscription on it would never send. */
const FORMS = {
  ids: { valid: isMarketIdForm, expected: 'a market id is <exchange>:<BASE>/<QUOTE>, e.g. binance:BTC/USDT' },
  symbols: { valid: isSymbolForm, expected: 'a symbol is the normalized BASE/QUOTE, e.g. BTC/USDT (not the exchange spelling BTCUSDT)' },
} as const;

export const priceUpdated: NonNullable<Resolvers['Subscription']>['priceUpdated'] = {
  subscribe: (_parent, args, { services }) => {
    for (const name of ['ids', 'exchanges', 'symbols'] as const) {
      const values = args[name];
      if (values && values.length > MAX_SELECTION_VALUES) {
        throw badUserInput(`${name} has ${values.length} values; at most ${MAX_SELECTION_VALUES} are allowed`, name);
      }
    }
    for (const name of ['ids', 'symbols'] as const) {
      const wrong = (args[name] ?? []).findIndex((value) => !FORMS[name].valid(value));
      if (wrong >= 0) throw badUserInput(`${name}[${wrong}] "${args[name]![wrong]}" can never match: ${FORMS[name].expected}`, name);
    }
    const selection = {
      ids: args.ids,
      exchanges: args.exchanges?.map((e) => e.toLowerCase()),
      symbols: args.symbols?.map((s) => s.toUpperCase()),
    };
    const snapshot = args.snapshot ? () => getSelectedMarkets(services.redis, services.keys, selection) : undefined;
    return services.priceUpdates.subscribe(args, snapshot);
  },
  resolve: (market: Market) => market,
};
