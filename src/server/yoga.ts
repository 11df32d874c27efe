import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { createContext, type Context, type Services } from '../context';
import { useUserInputErrorCodes } from '../errors';
import type { Logger } from '../logger';
import { buildSchema } from '../schema';

export const GRAPHQL_PATH = '/graphql';

export type TickqlYoga = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * The GraphQL HTTP handler: POST and GET queries, SSE subscriptions (`Accept:
 * text/event-stream`), and GraphiQL for browsers, whose subscriptions go over graphql-ws on
 * the same path (see graphql-ws.ts).
 */
export function createYogaServer(services: Services, logger: Logger): TickqlYoga {
  return createYoga<Record<string, unknown>, Context>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    context: () => createContext(services),
    graphiql: { title: 'tickql', subscriptionsProtocol: 'WS' },
    // GraphiQL served from this process, not from a CDN, so it works offline.
    renderGraphiQL,
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args.find((a) => a instanceof Error) }, args.map(String).join(' ')),
    },
    plugins: [useUserInputErrorCodes()],
  });
}
