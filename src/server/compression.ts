/**
 * Compressed responses, for clients that say they accept them (Accept-Encoding): GraphQL
 * results and the GraphiQL page of at least `HTTP_COMPRESSION_MIN_BYTES`, in brotli or gzip
 * (deflate for a client that takes neither). A 500-market page of every field, 208 KB of
 * JSON, becomes 54 KB for 1.4 ms of CPU (BENCHMARKS.md, Compression). Smaller bodies go
 * as they are: below a kilobyte or so the bytes saved are not worth the CPU and the headers.
 *
 * Not @whatwg-node/server's useContentEncoding, which yoga offers: it compresses every body
 * however small, passes SSE streams through a compression stream that holds events back until
 * its buffer fills, ignores q-values in Accept-Encoding, and inflates compressed request
 * bodies, which would let a small body past GRAPHQL_MAX_BODY_BYTES grow large.
 *
 * SSE streams (text/event-stream) and multipart responses are never compressed: each event
 * must leave as soon as it is written. Compression runs on libuv's thread pool, so the event
 * loop keeps delivering subscriptions meanwhile.
 */
import { promisify } from 'node:util';
import { brotliCompress, constants, deflate, gzip } from 'node:zlib';
import type { Plugin } from 'graphql-yoga';
import { addVary } from './vary';

export type Encoding = 'br' | 'gzip' | 'deflate';

/** Ours, best first: what we send when the client likes several equally. */
const PREFERENCE: readonly Encoding[] = ['br', 'gzip', 'deflate'];

/**
 * The cheapest settings, as every response is compressed afresh (BENCHMARKS.md, Compression):
 * on a 500-market page brotli at quality 1 takes a quarter of the CPU of quality 4 for 8 %
 * more bytes, and its default (11) 370 times as much; gzip at level 1 takes two fifths of
 * its default level 6 for 15 % more bytes, and is still larger and slower than brotli at 1.
 */
const BROTLI_QUALITY = 1;
const ZLIB_LEVEL = 1;

/**
 * Output handed back per trip from the thread pool: 64 KB brings a compressed 500-market page
 * back in one trip, where zlib's default (16 KB) takes four, each a hand-off between threads.
 */
const CHUNK_BYTES = 64 * 1024;

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);

const compressors: Record<Encoding, (body: Buffer) => Promise<Buffer>> = {
  br: (body) =>
    brotliAsync(body, {
      chunkSize: CHUNK_BYTES,
      params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
    }),
  gzip: (body) => gzipAsync(body, { level: ZLIB_LEVEL, chunkSize: CHUNK_BYTES }),
  deflate: (body) => deflateAsync(body, { level: ZLIB_LEVEL, chunkSize: CHUNK_BYTES }),
};

/** `body` compressed with `encoding`, as sent for a response. */
export function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  return compressors[encoding](body);
}

/** Bodies that compress well and are sent whole: JSON results and HTML. Not SSE, not multipart. */
const COMPRESSIBLE = /^\s*(application\/json|application\/graphql-response\+json|text\/html)\s*(;|$)/i;

/**
 * The encoding to send for an Accept-Encoding header, or null for none: the supported one
 * with the highest q-value (`*` standing for any not named), ties going to PREFERENCE;
 * q=0 refuses an encoding.
 */
export function chooseEncoding(acceptEncoding: string | null): Encoding | null {
  if (acceptEncoding === null) return null;
  const weights = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (name === '') continue;
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(name, Number.isFinite(weight) ? weight : 0);
  }
  let best: Encoding | null = null;
  let bestWeight = 0;
  for (const encoding of PREFERENCE) {
    const weight = weights.get(encoding) ?? weights.get('*') ?? 0;
    if (weight > bestWeight) {
      best = encoding;
      bestWeight = weight;
    }
  }
  return best;
}

/** The yoga plugin. `minBytes`: the smallest body compressed; 0 turns compression off. */
export function useCompression(minBytes: number): Plugin {
  if (minBytes === 0) return {};
  return {
    async onResponse({ request, response, setResponse, fetchAPI }) {
      const type = response.headers.get('content-type') ?? '';
      if (response.body === null || response.headers.has('content-encoding') || !COMPRESSIBLE.test(type)) return;
      // Whether it is compressed depends on the request's Accept-Encoding: caches must know.
      addVary(response.headers, 'Accept-Encoding');
      const encoding = chooseEncoding(request.headers.get('accept-encoding'));
      if (encoding === null) return;
      const text = await response.text();
      const init = { status: response.status, statusText: response.statusText, headers: response.headers };
      if (Buffer.byteLength(text) < minBytes) {
        setResponse(new fetchAPI.Response(text, init));
        return;
      }
      const body = await compress(Buffer.from(text), encoding);
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-encoding', encoding);
      headers.set('content-length', String(body.length));
      setResponse(new fetchAPI.Response(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), { ...init, headers }));
    },
  };
}
