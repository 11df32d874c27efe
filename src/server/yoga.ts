import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { subscribe } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { DEFAULT_GRAPHQL_LIMITS, DEFAULT_HTTP_OPTIONS, type GraphqlLimits, type HttpOptions } from '../config';
import { createContext, type Context, type Services } from '../context';
import { useUserInputErrorCodes } from '../errors';
import type { Logger } from '../logger';
import { buildSchema } from '../schema';
import { useCompression } from './compression';
import { EXAMPLE_OPERATIONS } from './example-operations';
import { corsOption, useVaryOrigin } from './cors';

export const GRAPHQL_PATH = '/graphql';

export type TickqlYoga = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * Deepest nesting an introspection document may have (GRAPHQL_MAX_DEPTH leaves it out, as
 * GraphiQL's own query is deeper than any real one). graphql-js's getIntrospectionQuery, and
 * the one GraphiQL sends, nest 21 deep counted as graphql-armor counts (each fragment spread
 * one level), whatever their options; a few levels more of `ofType` still fit, 30 do not.
 */
export const INTROSPECTION_MAX_DEPTH = 25;

/** Refuses a request whose declared body is larger than the limit, before reading it. */
function useMaxBodySize(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > maxBytes) {
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message: `request body of ${length} bytes is over the ${maxBytes}-byte limit`, extensions: { code: 'BAD_USER_INPUT' } }] }), {
            status: 413,
            headers: { 'content-type': 'application/json' },
          }),
        );
      }
    },
  };
}

/** Parts of the stack the bench turns off one at a time to price each (bench/scenarios/query-costs.ts); both on in service. */
export interface YogaStackOptions {
  /** graphql-jit execution and serialization; off: graphql-js's executor and JSON.stringify. */
  readonly jit?: boolean;
  /** graphql-armor's document limits. */
  readonly armor?: boolean;
}

/**
 * A depth limit that counts introspection too: graphql-armor's, alone. The one above skips
 * `__schema`, so this one is what bounds an introspection document; it counts the whole
 * document, so it is never below GRAPHQL_MAX_DEPTH.
 */
function introspectionDepthLimit(maxDepth: number): Plugin {
  const off = { enabled: false };
  return EnvelopArmorPlugin({
    maxDepth: { n: maxDepth, ignoreIntrospection: false },
    maxAliases: off,
    costLimit: off,
    maxTokens: off,
    maxDirectives: off,
    blockFieldSuggestion: off,
  });
}

/**
 * Subscriptions start with graphql-js's `subscribe`, not graphql-jit's: graphql-jit 0.8 hands a
 * subscription field's `subscribe` resolver empty arguments when they are written in the
 * document rather than passed as variables (`priceUpdated(ids: ["binance:BTC/USDT"])` would
 * follow every market), and it loses an error that resolver throws (graphql-jit issue 183,
 * envelop issue 2008). After the jit plugin, so its choice is the one that stays. Queries keep
 * graphql-jit; graphql-ws's shared deliveries execute each event with it too (graphql-ws.ts).
 */
const subscribeWithGraphqlJs: Plugin = {
  onSubscribe: ({ setSubscribeFn }) => setSubscribeFn(subscribe),
};

/**
 * The GraphQL HTTP handler: POST and GET queries, SSE subscriptions (`Accept:
 * text/event-stream`), and GraphiQL for browsers, whose subscriptions go over graphql-ws on
 * the same path (see graphql-ws.ts). Hostile documents are refused by graphql-armor before
 * execution; unexpected errors are masked for clients ("Unexpected error.") and logged in full.
 * Responses carry CORS headers for pages on other origins (cors.ts) and are compressed for
 * clients that accept it (compression.ts).
 */
export function createYogaServer(
  services: Services,
  logger: Logger,
  limits: GraphqlLimits = DEFAULT_GRAPHQL_LIMITS,
  extraPlugins: Plugin[] = [],
  http: HttpOptions = DEFAULT_HTTP_OPTIONS,
  stack: YogaStackOptions = {},
): TickqlYoga {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: limits.maxAliases },
    costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true },
    maxTokens: { n: limits.maxTokens },
    maxDirectives: { n: limits.maxDirectives },
    // Suggestions ("did you mean ...") map the schema for an attacker when it is hidden.
    blockFieldSuggestion: { enabled: !limits.introspection },
  });
  // Each distinct document is compiled once into a plain function (graphql-jit), with a
  // serializer made for its result shape: a page of fifty markets is twenty field reads per
  // market, and graphql-js's general executor spent more on them than the page cost in Redis.
  const jit = useGraphQlJit(
    { customJSONSerializer: true },
    { onError: (result) => logger.warn({ errors: result.errors }, 'graphql-jit could not compile a document; it runs with graphql-js') },
  );
  return createYoga<Record<string, unknown>, Context>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    context: () => createContext(services),
    graphiql: limits.graphiql ? { title: 'tickql', subscriptionsProtocol: 'WS', defaultQuery: EXAMPLE_OPERATIONS } : false,
    // GraphiQL served from this process, not from a CDN, so it works offline.
    renderGraphiQL,
    landingPage: false,
    cors: corsOption(http.corsOrigins),
    maskedErrors: true,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args.find((a) => a instanceof Error) }, args.map(String).join(' ')),
    },
    plugins: [
      useMaxBodySize(limits.maxBodyBytes),
      useUserInputErrorCodes(),
      ...(stack.armor === false ? [] : [armor, introspectionDepthLimit(Math.max(INTROSPECTION_MAX_DEPTH, limits.maxDepth))]),
      ...(limits.introspection ? [] : [useDisableIntrospection()]),
      ...(stack.jit === false ? [] : [jit, subscribeWithGraphqlJs]),
      ...extraPlugins,
      useVaryOrigin(),
      // Last, so that it compresses the response every other plugin has finished.
      useCompression(http.compressionMinBytes),
    ],
  });
}
