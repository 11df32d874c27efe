/**
 * Endpoints for orchestrators, beside GraphQL:
 *   GET /healthz  200 while the process serves requests (liveness)
 *   GET /readyz   200 when Redis is reachable, else 503 (readiness: take the instance out
 *                 of rotation while it cannot answer queries)
 *   GET /metrics  Prometheus text format (src/metrics.ts)
 * Everything else goes to the GraphQL handler.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface Readiness {
  /** Components that are not ready, by name, with a reason; empty when ready. */
  notReady(): Record<string, string> | Promise<Record<string, string>>;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

export interface MetricsEndpoint {
  text(): Promise<string>;
  readonly contentType: string;
}

export function withOpsRoutes(next: RequestListener, readiness: Readiness, metrics?: MetricsEndpoint): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/metrics' && metrics) {
      metrics.text().then(
        (text) => {
          response.writeHead(200, { 'content-type': metrics.contentType });
          response.end(text);
        },
        (err: unknown) => json(response, 500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    if (request.method === 'GET' && path === '/healthz') return json(response, 200, { status: 'ok' });
    if (request.method === 'GET' && path === '/readyz') {
      Promise.resolve(readiness.notReady()).then(
        (problems) => {
          const ready = Object.keys(problems).length === 0;
          json(response, ready ? 200 : 503, ready ? { status: 'ready' } : { status: 'not ready', problems });
        },
        (err: unknown) => json(response, 503, { status: 'not ready', problems: { instance: err instanceof Error ? err.message : String(err) } }),
      );
      return;
    }
    return next(request, response);
  };
}
