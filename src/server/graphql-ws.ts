/**
 * Subscriptions (and queries) over WebSocket with the `graphql-transport-ws` protocol, on the
 * same port and path as HTTP. Each operation goes through yoga's envelop, so plugins, context
 * and error handling are the same as over HTTP; except that subscriptions whose results can be
 * shared among subscribers (shared-subscriptions.ts) execute each event once per selection,
 * not once per subscriber.
 */
import type { Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger, type Logger } from '../logger';
import { SharedPayloads, type SharedPayloadStats } from '../subscriptions/shared-payloads';
import { sharedSelectionKey, subscribeShared, WriteScheduler, type DeliveryStats, type SharedSubscription } from './shared-subscriptions';
import type { TickqlYoga } from './yoga';

interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  /** Set when this subscription's results are shared. */
  shared: SharedSubscription | null;
}

export interface GraphqlWsOptions {
  /**
   * Execute each event once per distinct selection and share the serialized payload among
   * subscribers (shared-subscriptions.ts). Default true; false executes and serializes every
   * event for every subscriber, the plain graphql-ws behaviour (kept for comparison in the bench).
   */
  readonly sharePayloads?: boolean;
  /** Default: silent. */
  readonly logger?: Logger;
}

export interface GraphqlWsServer {
  readonly wss: WebSocketServer;
  /** Shared payloads computed and reused since start. */
  readonly sharedPayloads: SharedPayloadStats;
  /** Messages of shared subscriptions and the socket writes they took, since start. */
  readonly sharedDelivery: DeliveryStats;
  /** Closes every socket (code 1001, going away) and stops accepting new ones. */
  close(): Promise<void>;
}

export function attachGraphqlWs(httpServer: Server, yoga: TickqlYoga, options: GraphqlWsOptions = {}): GraphqlWsServer {
  const wss = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
  const sharing = options.sharePayloads ?? true;
  const shared = { payloads: new SharedPayloads<Buffer>(), logger: options.logger ?? silentLogger(), delivery: { messages: 0, writes: 0 }, writes: new WriteScheduler() };
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: async (args) => {
        const root = args.rootValue as EnvelopedRoot;
        if (root.shared) {
          const stream = await subscribeShared(args, root.shared, shared);
          if (stream) return stream;
        }
        return root.subscribe(args) as never;
      },
      onSubscribe: async (ctx, id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (err) {
          // A syntax error is the client's mistake: report it as an operation error rather
          // than letting it close the socket.
          return [err instanceof GraphQLError ? err : new GraphQLError('Could not parse the query')];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const key = sharing ? sharedSelectionKey(document, params.operationName) : null;
        const root: EnvelopedRoot = { execute, subscribe, shared: key === null ? null : { key, id, socket: ctx.extra.socket as WebSocket, transport: ctx.extra.request.socket } };
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: root,
        };
      },
    },
    wss,
  );
  return {
    wss,
    sharedPayloads: shared.payloads.stats,
    sharedDelivery: shared.delivery,
    close: async () => {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
