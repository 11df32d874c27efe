/**
 * A stub `fetch` for adapters' `fetchListing`: answers every request with one body (JSON, or
 * a string sent as it is, such as an HTML error page) and status, and records what was asked.
 */

export interface FetchCall {
  readonly url: string;
  readonly signal: AbortSignal | null | undefined;
}

export function listingFetch(body: unknown, status = 200, calls: FetchCall[] = []): typeof fetch {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return async (input, init) => {
    calls.push({ url: String(input), signal: init?.signal });
    return new Response(text, { status });
  };
}
