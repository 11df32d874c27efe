/**
 * CORS: which web pages on other origins may call the API from a browser. Any origin by
 * default, or only those in `CORS_ORIGINS`; never with credentials, since tickql's API keys
 * travel in headers, never in cookies, so a page never needs the browser to send its cookies
 * along. yoga's own CORS plugin does the work; this decides what it is told per request.
 *
 * Browsers do not apply CORS to WebSockets, and clients outside a browser ignore it: CORS
 * decides what a browser lets a page read, not who may use the API (API_KEYS does that).
 */
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import { addVary } from './vary';

type CorsOption = NonNullable<YogaServerOptions<Record<string, unknown>, Record<string, unknown>>['cors']>;

/** How long a browser may reuse a preflight's answer, seconds (Chrome keeps at most 7,200). */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * yoga's `cors` option: CORS headers for a request from an allowed origin (any, when
 * `origins` is empty), none for others. The request's origin is echoed back, and the
 * headers a preflight asks for are allowed, x-api-key and Authorization among them.
 */
export function corsOption(origins: readonly string[]): CorsOption {
  const allowed = new Set(origins);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (allowed.size > 0 && (origin === null || !allowed.has(origin))) return false;
    // '*' makes yoga echo the request's origin and add Vary: Origin.
    return { origin: ['*'], credentials: false, methods: ['GET', 'POST'], maxAge: PREFLIGHT_MAX_AGE_S };
  };
}

/**
 * Every response depends on the request's Origin (whether CORS headers come with it), also
 * one sent without CORS headers: a cache must not give it to a page on an allowed origin.
 */
export function useVaryOrigin(): Plugin {
  return {
    onResponse({ response }) {
      addVary(response.headers, 'Origin');
    },
  };
}
