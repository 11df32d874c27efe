/**
 * One GraphQL POST over plain node:http, on a connection of its own, optionally from a chosen
 * local address. The bench's own questions to tickql (is every market served yet? is this
 * answer right?) go out from `CHECK_ADDRESS` while the load comes from 127.0.0.1: tickql's
 * per-address budgets count the two apart, so a check right after a load that used up
 * 127.0.0.1's budget is answered, and only the load's own refusals are what a report counts.
 */
import { request } from 'node:http';

/** A second loopback address (Linux routes all of 127.0.0.0/8 to lo). */
export const CHECK_ADDRESS = '127.0.0.2';

export interface GraphqlReply {
  readonly status: number;
  /** The parsed body, or null when it was not JSON. */
  readonly body: { readonly data?: unknown; readonly errors?: unknown } | null;
  readonly text: string;
}

export function postGraphql(url: string, query: string, options: { readonly localAddress?: string; readonly timeoutMs?: number } = {}): Promise<GraphqlReply> {
  const payload = JSON.stringify({ query });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        localAddress: options.localAddress,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: GraphqlReply['body'] = null;
          try {
            body = JSON.parse(text) as GraphqlReply['body'];
          } catch {
            // not JSON: the caller reports the text
          }
          resolve({ status: response.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
