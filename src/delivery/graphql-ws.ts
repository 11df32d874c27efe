/**
 * Subscriptions (and queries) over WebSocket with the `graphql-transport-ws` protocol, on the
 * same port and path as HTTP. Each operation goes through yoga's envelop, so plugins, context
 * and error handling are the same as over HTTP; except that subscriptions whose results can be
 * shared among subscribers (shared-subscriptions.ts) execute each event once per selection,
 * not once per subscriber. Per-connection limits and protocol hygiene are ws-transport.ts's;
 * keep-alive, stuck clients and the outbound queue bound are slow-clients.ts's.
 */
import type { Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULT_WEBSOCKET_LIMITS, type WebSocketLimits } from '../config';
import { silentLogger, type Logger } from '../logger';
import type { WebSocketAccess } from '../server/access-control';
import { SharedPayloads, type SharedPayloadStats } from './shared-payloads';
import { sharedSelectionKey, subscribeShared, WriteScheduler, type DeliveryStats, type SharedSubscription } from './shared-subscriptions';
import { SlowClients, type SlowClientStats } from './slow-clients';
import { serveGraphqlWs, type WsTransportStats } from './ws-transport';
import type { TickqlYoga } from '../server/yoga';

interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  /** The connection's socket. */
  socket: WebSocket;
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
  /** API keys, per-address budgets and connection caps (access-control.ts); default: none. */
  readonly access?: WebSocketAccess;
  /** Per-connection limits; default DEFAULT_WEBSOCKET_LIMITS. */
  readonly limits?: WebSocketLimits;
}

export interface GraphqlWsServer {
  readonly wss: WebSocketServer;
  /** Shared payloads computed and reused since start. */
  readonly sharedPayloads: SharedPayloadStats;
  /** Messages of shared subscriptions and the socket writes they took, since start. */
  readonly sharedDelivery: DeliveryStats;
  /** Connections and operations refused by the per-connection limits, since start. */
  readonly limitStats: WsTransportStats;
  /** Stuck clients closed and writes held for slow ones, since start. */
  readonly slowClientStats: SlowClientStats;
  /** The watcher of every socket (slow-clients.ts). */
  readonly slowClients: SlowClients;
  /** Closes every socket (code 1001, going away) and stops accepting new ones. */
  close(): Promise<void>;
}

export function attachGraphqlWs(httpServer: Server, yoga: TickqlYoga, options: GraphqlWsOptions = {}): GraphqlWsServer {
  const access = options.access;
  const limits = options.limits ?? DEFAULT_WEBSOCKET_LIMITS;
  const logger = options.logger ?? silentLogger();
  // maxPayload: ws refuses a larger message with close code 1009 before reading it whole.
  const wss = new WebSocketServer({
    server: httpServer,
    path: yoga.graphqlEndpoint,
    maxPayload: limits.maxMessageBytes,
    ...(access ? { verifyClient: access.verifyClient } : {}),
  });
  const slowClients = new SlowClients({ stuckClientMs: limits.stuckClientMs, maxBufferedBytes: limits.maxBufferedBytes, logger });
  wss.on('connection', (socket, request) => slowClients.watch(socket, request.socket));
  const sharing = options.sharePayloads ?? true;
  const shared = { payloads: new SharedPayloads<Buffer>(), logger, delivery: { messages: 0, writes: 0 }, writes: new WriteScheduler(), outbound: slowClients };
  const transport = serveGraphqlWs(
    wss,
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: async (args) => {
        const root = args.rootValue as EnvelopedRoot;
        if (root.shared) {
          const stream = await subscribeShared(args, root.shared, shared);
          if (stream) return stream;
        }
        const result = await (root.subscribe(args) as Promise<unknown>);
        return heldWhileQueued(result, root.socket, limits.maxBufferedBytes, slowClients) as never;
      },
      onConnect: access ? (ctx) => access.authenticate(ctx.connectionParams, ctx.extra.request) : undefined,
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
        const refused = await access?.admit(ctx.extra.request, document, params.operationName);
        if (refused) return [refused];
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const key = sharing ? sharedSelectionKey(document, params.operationName) : null;
        const socket = ctx.extra.socket;
        const root: EnvelopedRoot = { execute, subscribe, socket, shared: key === null ? null : { key, id, socket, transport: ctx.extra.request.socket } };
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
    limits,
    logger,
  );
  return {
    wss,
    sharedPayloads: shared.payloads.stats,
    sharedDelivery: shared.delivery,
    limitStats: transport.stats,
    slowClientStats: slowClients.stats,
    slowClients,
    close: async () => {
      await transport.dispose();
      slowClients.stop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * The ordinary path's stream, taking each next value only while the connection has at most
 * WS_MAX_BUFFERED_BYTES queued (graphql-ws itself waits for each write to reach the kernel).
 * A result that is not a stream (errors) passes through.
 */
function heldWhileQueued(result: unknown, socket: WebSocket, maxBufferedBytes: number, slowClients: SlowClients): unknown {
  if (typeof result !== 'object' || result === null || !(Symbol.asyncIterator in result)) return result;
  const source = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const stream: AsyncIterableIterator<unknown> = {
    next: () =>
      socket.bufferedAmount <= maxBufferedBytes ? source.next() : new Promise<void>((resolve) => slowClients.whenWritable(socket, resolve)).then(() => source.next()),
    return: async (value?: unknown) => (await source.return?.(value)) ?? { done: true, value: undefined },
    throw: async (error?: unknown) => {
      if (source.throw) return source.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}
