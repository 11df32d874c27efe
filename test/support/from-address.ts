/**
 * HTTP and WebSocket clients bound to a chosen loopback address (127.0.0.2, 127.0.0.3, ...:
 * all of 127.0.0.0/8 is local on Linux), so one test can be several clients as far as
 * per-address limits can tell.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { WebSocket } from 'ws';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  json(): any;
}

export interface RequestOptions {
  readonly from?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** A whole request and response. */
export function send(url: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, localAddress: options.from ?? '127.0.0.1', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POSTs a GraphQL operation. */
export function postGraphql(url: string, query: string, options: Omit<RequestOptions, 'method' | 'body'> = {}): Promise<Reply> {
  return send(url, { ...options, method: 'POST', headers: { 'content-type': 'application/json', ...options.headers }, body: JSON.stringify({ query }) });
}

export interface Stream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Everything received so far. */
  text(): string;
  close(): void;
}

/** Starts an SSE request and resolves once the response headers are in; the stream stays open until `close()`. */
export function openEventStream(url: string, query: string, options: Omit<RequestOptions, 'method' | 'body'> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...options.headers },
        localAddress: options.from ?? '127.0.0.1',
        agent: false,
      },
      (res) => {
        let received = '';
        res.on('data', (c: Buffer) => (received += c.toString()));
        res.on('error', () => {});
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: () => received, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ query }));
  });
}

/** A `ws` WebSocket class whose sockets leave from `localAddress`, for graphql-ws's `webSocketImpl`. */
export function webSocketFrom(localAddress: string): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { localAddress });
    }
  } as typeof WebSocket;
}

export interface Upgrade {
  /** The socket when the upgrade succeeded. */
  readonly socket: WebSocket | null;
  /** The HTTP status and body when it was refused. */
  readonly status: number;
  readonly body: string;
}

/** Opens a graphql-transport-ws WebSocket from `localAddress`; resolves open or refused. */
export function upgrade(url: string, localAddress: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { localAddress });
    socket.once('open', () => resolve({ socket, status: 101, body: '' }));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ socket: null, status: res.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });
}
