import type { Resolvers } from '../../generated/graphql';

export const market: NonNullable<Resolvers['Query']>['market'] = (_parent, { id }, { marketLoader }) => marketLoader.load(id);
