import { describe, expect, it } from 'vitest';
import { awaitListing, fetchJson, listedSymbol, restBase } from '../../src/ingest/rest-metadata';

describe('restBase', () => {
  it('drops trailing slashes and keeps null', () => {
    expect(restBase('https://api.example.com//')).toBe('https://api.example.com');
    expect(restBase('http://127.0.0.1:8080/prefix')).toBe('http://127.0.0.1:8080/prefix');
    expect(restBase(null)).toBeNull();
  });
});

describe('fetchJson', () => {
  it('asks for JSON with the caller\'s signal and returns the parsed body', async () => {
    const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
    const spy: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), init });
      return new Response('{"symbols":[]}');
    };
    const signal = new AbortController().signal;
    expect(await fetchJson(spy, 'http://127.0.0.1:1/list', signal)).toEqual({ symbols: [] });
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/list', init: { signal, headers: { accept: 'application/json' } } }]);
  });

  it('fails with the HTTP status, after releasing the unread body', async () => {
    let cancelled = false;
    const body = new ReadableStream({ cancel: () => void (cancelled = true) });
    const unavailable: typeof fetch = async () => new Response(body, { status: 503 });
    await expect(fetchJson(unavailable, 'http://127.0.0.1:1/list', new AbortController().signal)).rejects.toThrow('HTTP 503');
    expect(cancelled).toBe(true);
  });

  it('fails when the body is not JSON', async () => {
    const html: typeof fetch = async () => new Response('<html>');
    await expect(fetchJson(html, 'http://127.0.0.1:1/list', new AbortController().signal)).rejects.toThrow(SyntaxError);
  });
});

describe('awaitListing', () => {
  it('passes an answer that arrives in time', async () => {
    expect(await awaitListing(Promise.resolve(42), new AbortController().signal)).toEqual({ ok: true, value: 42 });
  });

  it('turns a failure into its message, whatever was thrown', async () => {
    const signal = new AbortController().signal;
    expect(await awaitListing(Promise.reject(new TypeError('fetch failed')), signal)).toEqual({ ok: false, reason: 'fetch failed' });
    expect(await awaitListing(Promise.reject('boom'), signal)).toEqual({ ok: false, reason: 'boom' });
  });

  it('drops an answer that arrives after the caller gave up waiting', async () => {
    const abort = new AbortController();
    const late = Promise.resolve().then(() => {
      abort.abort();
      return 42;
    });
    expect(await awaitListing(late, abort.signal)).toEqual({ ok: false, reason: 'aborted' });
  });
});

describe('listedSymbol', () => {
  const keys = { symbol: 'instId', base: 'baseCcy', quote: 'quoteCcy' };

  it('reads the names under the given keys, asset codes upper-cased and the symbol as sent', () => {
    expect(listedSymbol({ instId: 'btc-usdt', baseCcy: 'btc', quoteCcy: 'Usdt', state: 'live' }, keys)).toEqual({
      nativeSymbol: 'btc-usdt',
      base: 'BTC',
      quote: 'USDT',
    });
  });

  it.each([
    ['a missing quote', { instId: 'BTC-USDT', baseCcy: 'BTC' }],
    ['an empty base', { instId: 'BTC-USDT', baseCcy: '', quoteCcy: 'USDT' }],
    ['a numeric symbol', { instId: 42, baseCcy: 'BTC', quoteCcy: 'USDT' }],
  ])('skips an entry with %s', (_name, entry) => {
    expect(listedSymbol(entry, keys)).toBeNull();
  });
});
