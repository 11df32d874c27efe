/**
 * graphql-ws's protocol core (`makeServer`) served over `ws` sockets. It does what graphql-ws's
 * own adapter (graphql-ws/use/ws) does, and adds what a public endpoint needs per connection:
 *
 * - text frames only: a binary frame closes with 4400 (the protocol's messages are JSON text);
 * - a client sending a message only the server may send (`connection_ack`, `next`, `error`)
 *   is closed with 4400; the reference adapter lets graphql-ws throw and closes with 4500;
 * - at most `maxMessagesPerSecond` inbound messages per connection (a bucket of that many,
 *   refilled continuously); past it the connection closes with 4429 "Too many messages";
 * - at most `maxSubscriptions` operations running at once; each one more gets an `error`
 *   message (`extensions.code` TOO_MANY_SUBSCRIPTIONS) and the connection stays open;
 * - nothing is processed once the socket is closing, so a flood that arrived in one read
 *   costs nothing after the message that closed it;
 * - errors are logged through our logger (the reference adapter writes to console.error).
 *
 * What graphql-ws itself already does right, and is left to it: invalid JSON or a message of
 * the wrong shape or an unknown type (4400), `subscribe` before `connection_ack` (4401), a
 * second `connection_init` (4429 "Too many initialisation requests"), no `connection_init`
 * within the timeout (4408), a `subscribe` reusing an active id (4409), a wrong subprotocol
 * (4406). Oversized messages are refused by `ws` itself (`maxPayload`, close 1009).
 * Keep-alive pings are slow-clients.ts's, which also closes clients that stop reading.
 */
import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { CloseCode, makeServer, MessageType, type ServerOptions } from 'graphql-ws';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../errors';
import type { Logger } from '../logger';

/** The close codes this server uses besides graphql-ws's own (`CloseCode`). */
export const WsCloseCode = {
  /** Inbound messages over the per-connection rate (graphql-ws's "too many" code). */
  TooManyMessages: CloseCode.TooManyInitialisationRequests,
  /** The client has not read what was sent to it `WS_STUCK_CLIENT_MS` ago (slow-clients.ts). */
  StuckClient: 4008,
} as const;

/** What graphql-ws hands to every hook as `ctx.extra`. */
export interface WsExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

export interface WsTransportLimits {
  readonly connectionInitTimeoutMs: number;
  readonly maxSubscriptions: number;
  readonly maxMessagesPerSecond: number;
}

/** Counted since start, for /metrics. */
export interface WsTransportStats {
  /** Connections closed with 4429 for sending too many messages. */
  rateLimited: number;
  /** Operations refused because the connection already ran the most it may. */
  subscriptionsRefused: number;
  /** Connections closed with 4400 by this adapter (binary frames, server-only message types). */
  badMessages: number;
}

export interface WsTransport {
  readonly stats: WsTransportStats;
  /** Closes every socket with 1001 (going away) and stops accepting. */
  dispose(): Promise<void>;
}

/** Message types only the server may send (graphql-transport-ws); unknown types are graphql-ws's to refuse. */
const SERVER_ONLY_TYPES: ReadonlySet<string> = new Set([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/** A close reason must fit in 123 bytes. */
const MAX_REASON = 120;

export function serveGraphqlWs<P extends Record<string, unknown> | undefined>(
  wss: WebSocketServer,
  options: ServerOptions<P, WsExtra>,
  limits: WsTransportLimits,
  logger: Logger,
): WsTransport {
  const stats: WsTransportStats = { rateLimited: 0, subscriptionsRefused: 0, badMessages: 0 };
  const server = makeServer<P, WsExtra>({
    ...options,
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    onSubscribe: (ctx, id, payload) => {
      // graphql-ws registers the id before this hook, so it counts itself.
      if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptions) {
        stats.subscriptionsRefused++;
        return [
          new GraphQLError(`At most ${limits.maxSubscriptions} operations may run at once on one connection; complete one first`, {
            extensions: { code: ErrorCode.TOO_MANY_SUBSCRIPTIONS },
          }),
        ];
      }
      return options.onSubscribe?.(ctx, id, payload);
    },
  });
  // An error of the HTTP server under it is re-emitted here; unheard, it would throw.
  wss.on('error', (err) => logger.error({ err }, 'WebSocket server error'));
  // graphql-ws's protocol requires it; `ws` answers the handshake with it.
  wss.options.handleProtocols = (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false);

  wss.on('connection', (socket, request) => {
    const bucket = new MessageBucket(limits.maxMessagesPerSecond);
    let handle: ((data: string) => Promise<void>) | null = null;
    const close = (code: number, reason: string) => {
      if (socket.readyState === socket.OPEN) socket.close(code, reason.slice(0, MAX_REASON));
    };
    // `ws` has already closed on a protocol error (1002, 1007, 1009 for an oversized message).
    socket.on('error', (err) => {
      logger.debug({ err }, 'WebSocket client error');
      close(CloseCode.InternalServerError, 'Internal server error');
    });
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close,
        onMessage: (cb) => {
          handle = cb;
        },
      },
      { socket, request },
    );
    socket.on('message', (data: RawData, isBinary: boolean) => {
      // Closing: whatever else the client sent in the meantime is moot.
      if (socket.readyState !== socket.OPEN || !handle) return;
      if (!bucket.take()) {
        stats.rateLimited++;
        logger.warn({ address: request.socket.remoteAddress }, 'closed a WebSocket client sending too many messages');
        return close(WsCloseCode.TooManyMessages, `Too many messages: more than ${limits.maxMessagesPerSecond} per second`);
      }
      if (isBinary) {
        stats.badMessages++;
        return close(CloseCode.BadRequest, 'Binary messages are not supported');
      }
      const text = String(data);
      const type = messageType(text);
      if (type !== undefined && SERVER_ONLY_TYPES.has(type)) {
        stats.badMessages++;
        return close(CloseCode.BadRequest, `A client may not send "${type}" messages`);
      }
      handle(text).catch((err: unknown) => {
        logger.error({ err }, 'graphql-ws message handling failed');
        close(CloseCode.InternalServerError, 'Internal server error');
      });
    });
    socket.once('close', (code, reason) => {
      closed(code, String(reason)).catch((err: unknown) => logger.error({ err }, 'graphql-ws connection cleanup failed'));
    });
  });

  return {
    stats,
    dispose: async () => {
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners('connection');
    },
  };
}

/** The `type` of a JSON message, when it is an object with a string `type`. */
function messageType(text: string): string | undefined {
  try {
    const message: unknown = JSON.parse(text);
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined; // graphql-ws refuses it with 4400
  }
}

/** A bucket of `perSecond` tokens refilled continuously: bursts up to a second's worth pass. */
class MessageBucket {
  private tokens: number;
  private at = Date.now();

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
