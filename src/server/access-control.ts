/**
 * Who may use the API and how much, for every transport: API keys (`API_KEYS`, off by
 * default), per-address budgets for queries and for new subscriptions, and caps on
 * long-lived connections (WebSocket connections and SSE streams) per address and in all.
 *
 *   HTTP       plugin(): a yoga plugin. Every request to yoga takes one from the address's
 *              query budget, then needs a key (x-api-key or Authorization: Bearer); an SSE
 *              request must fit under the connection caps; a subscription over SSE also
 *              takes one from the subscription budget. GraphiQL's page and CORS preflights
 *              are answered by yoga before this plugin runs: they carry no data.
 *   WebSocket  webSocket(): hooks for graphql-ws.ts. The upgrade takes one from the query
 *              budget and is refused with an HTTP error over it or over the connection
 *              caps, before the WebSocket is accepted; `connection_init` must carry the key in
 *              `payload.apiKey` (or the upgrade request a key header), else 4403 Forbidden;
 *              each operation takes one from its budget or fails with RATE_LIMITED.
 *   /metrics   guardMetrics(): needs a key too when keys are on.
 * /healthz and /readyz are never checked: orchestrators probe them without keys.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AccessLimits } from '../config';
import { ErrorCode } from '../errors';
import { API_KEY_PARAM, ApiKeys, headerValue } from './api-keys';
import { clientAddress, compileTrust, limitKey, type Trust } from './client-address';
import { ConnectionCaps, type CapRefusal } from './connection-caps';
import { RateLimits, type Budget } from './rate-limits';

export type RefusalReason = 'unauthenticated' | 'rate_limited' | 'connection_cap';
export type Transport = 'http' | 'websocket';

/** What graphql-ws.ts calls; see `AccessControl.webSocket`. */
export interface WebSocketAccess {
  /**
   * ws's `verifyClient`: refuses an upgrade over the address's query budget or the connection
   * caps with an HTTP error, before the WebSocket is accepted; counts the ones it lets in.
   */
  verifyClient(info: { req: IncomingMessage }, done: (verified: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void;
  /** graphql-ws `onConnect`: false (close 4403) without a valid key. */
  authenticate(connectionParams: Readonly<Record<string, unknown>> | undefined, request: IncomingMessage): boolean;
  /** Takes one from the operation's budget: null when allowed, else the error to send. */
  admit(request: IncomingMessage, document: DocumentNode, operationName: string | null | undefined): Promise<GraphQLError | null>;
}

interface NodeServerContext {
  readonly req?: IncomingMessage;
  readonly res?: ServerResponse;
}

interface Refusal {
  readonly status: number;
  readonly message: string;
  readonly code: string;
  readonly headers?: Record<string, string>;
  readonly extensions?: Record<string, unknown>;
}

export class AccessControl {
  private readonly keys: ApiKeys;
  private readonly rates: RateLimits;
  private readonly caps: ConnectionCaps;
  private readonly trust: Trust;

  constructor(
    private readonly limits: AccessLimits,
    /** Called for every refusal (metrics). */
    private readonly onRefused: (reason: RefusalReason, transport: Transport) => void = () => {},
  ) {
    this.keys = new ApiKeys(limits.apiKeys);
    this.rates = new RateLimits({
      query: { perSecond: limits.queriesPerSecond, burst: limits.queryBurst },
      subscription: { perSecond: limits.subscriptionsPerSecond, burst: limits.subscriptionBurst },
    });
    this.caps = new ConnectionCaps({ perAddress: limits.maxConnectionsPerAddress, total: limits.maxConnections });
    this.trust = compileTrust(limits.trustProxy);
  }

  /** The key that per-address limits count under. */
  addressOf(request: IncomingMessage): string {
    return limitKey(clientAddress(request, this.trust));
  }

  plugin(): Plugin {
    return {
      onRequest: ({ request, serverContext, endResponse, fetchAPI }) => {
        const { req, res } = serverContext as NodeServerContext;
        // Requests made in-process (yoga.fetch) have no socket and so no address.
        const address = req ? this.addressOf(req) : 'in-process';
        const refuse = (reason: RefusalReason, refusal: Refusal) => {
          this.onRefused(reason, 'http');
          endResponse(new fetchAPI.Response(errorBody(refusal), { status: refusal.status, headers: httpHeaders(refusal) }));
        };
        return this.rates.take('query', address).then((waitMs) => {
          if (waitMs !== null) return refuse('rate_limited', rateLimited('query', waitMs));
          if (this.keys.required && !this.keys.acceptsHeaders(request.headers)) return refuse('unauthenticated', unauthenticated(request.headers));
          if (res && (request.headers.get('accept') ?? '').includes('text/event-stream')) {
            const cap = this.caps.refusal(address);
            if (cap) return refuse('connection_cap', connectionCap(cap));
            res.once('close', this.caps.add(address));
          }
        });
      },
      onSubscribe: ({ args, setResultAndStopExecution }) => {
        const context = args.contextValue as { request?: Request; req?: IncomingMessage };
        // Only HTTP (SSE) subscriptions have `request`; graphql-ws.ts charges its own.
        if (!context.request) return;
        const address = context.req ? this.addressOf(context.req) : 'in-process';
        return this.rates.take('subscription', address).then((waitMs) => {
          if (waitMs === null) return;
          this.onRefused('rate_limited', 'http');
          const refusal = rateLimited('subscription', waitMs);
          setResultAndStopExecution({
            errors: [new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.extensions, http: { status: refusal.status, headers: refusal.headers } } })],
          });
        });
      },
    };
  }

  webSocket(): WebSocketAccess {
    return {
      verifyClient: ({ req }, done) => {
        const address = this.addressOf(req);
        const refuse = (reason: RefusalReason, refusal: Refusal) => {
          this.onRefused(reason, 'websocket');
          done(false, refusal.status, errorBody(refusal), { 'Content-Type': 'application/json; charset=utf-8', ...refusal.headers });
        };
        // The upgrade is an HTTP request: it takes one from the query budget like any other.
        this.rates.take('query', address).then(
          (waitMs) => {
            if (waitMs !== null) return refuse('rate_limited', rateLimited('query', waitMs));
            const cap = this.caps.refusal(address);
            if (cap) return refuse('connection_cap', connectionCap(cap));
            // Counted on the TCP socket, which closes whether the upgrade then completes and
            // the WebSocket later closes, or the upgrade fails.
            req.socket.once('close', this.caps.add(address));
            done(true);
          },
          () => done(false, 500),
        );
      },
      authenticate: (connectionParams, request) => {
        if (!this.keys.required) return true;
        if (this.keys.accepts(connectionParams?.[API_KEY_PARAM]) || this.keys.acceptsHeaders(request.headers)) return true;
        this.onRefused('unauthenticated', 'websocket');
        return false;
      },
      admit: async (request, document, operationName) => {
        const budget: Budget = getOperationAST(document, operationName)?.operation === 'subscription' ? 'subscription' : 'query';
        const waitMs = await this.rates.take(budget, this.addressOf(request));
        if (waitMs === null) return null;
        this.onRefused('rate_limited', 'websocket');
        const refusal = rateLimited(budget, waitMs);
        return new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.extensions } });
      },
    };
  }

  /** Puts /metrics behind the keys when keys are on; everything else passes through. */
  guardMetrics(next: RequestListener): RequestListener {
    return (request, response) => {
      if (this.keys.required && (request.url ?? '/').split('?')[0] === '/metrics' && !this.keys.acceptsHeaders(request.headers)) {
        this.onRefused('unauthenticated', 'http');
        const refusal = unauthenticated(request.headers);
        response.writeHead(refusal.status, httpHeaders(refusal));
        response.end(errorBody(refusal));
        return;
      }
      next(request, response);
    };
  }
}

/** The GraphQL-over-HTTP error body every refusal is sent as. */
function errorBody(refusal: Refusal): string {
  return JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code, ...refusal.extensions } }] });
}

function httpHeaders(refusal: Refusal): Record<string, string> {
  return { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...refusal.headers };
}

function rateLimited(budget: Budget, waitMs: number): Refusal {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    status: 429,
    message: `Too many ${budget === 'query' ? 'requests' : 'new subscriptions'} from your address; retry in ${seconds} s.`,
    code: ErrorCode.RATE_LIMITED,
    headers: { 'Retry-After': String(seconds) },
    extensions: { retryAfter: seconds },
  };
}

function unauthenticated(headers: Headers | IncomingMessage['headers']): Refusal {
  const given = headerValue(headers, 'x-api-key') !== null || headerValue(headers, 'authorization') !== null;
  return {
    status: 401,
    // Never echo the key: this text may end up in someone's logs.
    message: given ? 'The API key is not valid.' : 'An API key is required: send it in the x-api-key header, or as Authorization: Bearer <key>.',
    code: ErrorCode.UNAUTHENTICATED,
    headers: { 'WWW-Authenticate': 'Bearer realm="tickql"' },
  };
}

function connectionCap(cap: CapRefusal): Refusal {
  return cap === 'address'
    ? { status: 429, message: 'Too many open WebSocket connections and SSE streams from your address; close one first.', code: ErrorCode.CONNECTION_LIMIT }
    : { status: 503, message: 'The server is at its limit of open WebSocket connections and SSE streams; try again later.', code: ErrorCode.CONNECTION_LIMIT, headers: { 'Retry-After': '5' } };
}
