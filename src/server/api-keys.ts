/**
 * API keys (`API_KEYS`): where a client puts its key, and the comparison against the
 * configured ones.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The field of graphql-ws's `connection_init` payload that carries the key. */
export const API_KEY_PARAM = 'apiKey';

export class ApiKeys {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  /** False when no key is configured: then every client is let in. */
  get required(): boolean {
    return this.digests.length > 0;
  }

  /**
   * Whether `candidate` is one of the keys. Both sides are hashed first, so the comparison
   * takes the same time whatever the lengths and wherever the first difference lies, and
   * every configured key is compared, so the time does not tell which one matched.
   */
  accepts(candidate: unknown): boolean {
    if (typeof candidate !== 'string' || candidate === '') return false;
    const given = digest(candidate);
    let match = false;
    for (const key of this.digests) match = timingSafeEqual(key, given) || match;
    return match;
  }

  /** Whether the request's headers carry a valid key. */
  acceptsHeaders(headers: Headers | IncomingHttpHeaders): boolean {
    return this.accepts(keyFromHeaders(headers));
  }
}

/** `x-api-key: <key>`, or else `Authorization: Bearer <key>`. */
export function keyFromHeaders(headers: Headers | IncomingHttpHeaders): string | null {
  const header = headerValue(headers, 'x-api-key');
  if (header !== null && header.trim() !== '') return header.trim();
  const bearer = /^\s*Bearer\s+(\S+)\s*$/i.exec(headerValue(headers, 'authorization') ?? '');
  return bearer ? bearer[1]! : null;
}

/** A header's (first) value from fetch `Headers` (yoga) or Node's request headers; null when absent. */
export function headerValue(headers: Headers | IncomingHttpHeaders, name: string): string | null {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const value = (headers as IncomingHttpHeaders)[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
