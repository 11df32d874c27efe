import { describe, expect, it } from 'vitest';
import type { ListedMarket } from '../../src/ingest/adapter';
import { fetchJson, listedSymbol, listingUrl, readEntries, restBase, textField } from '../../src/ingest/rest-metadata';

describe('restBase', () => {
  it('drops trailing slashes and keeps null', () => {
    expect(restBase('https://api.example.com//')).toBe('https://api.example.com');
    expect(restBase('http://127.0.0.1:8080/prefix')).toBe('http://127.0.0.1:8080/prefix');
    expect(restBase(null)).toBeNull();
  });
});

describe('listingUrl', () => {
  it('appends the path to the REST base', () => {
    expect(listingUrl('http://127.0.0.1:8080/prefix', '/list?a=1')).toBe('http://127.0.0.1:8080/prefix/list?a=1');
  });

  it('throws when no REST base is configured', () => {
    expect(() => listingUrl(null, '/list')).toThrow('no REST URL is configured');
  });
});

describe('fetchJson', () => {
  it("asks for JSON with the caller's signal and returns the parsed body", async () => {
    const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
    const spy: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), init });
      return new Response('{"symbols":[]}');
    };
    const signal = new AbortController().signal;
    expect(await fetchJson(spy, 'http://127.0.0.1:1/list', signal)).toEqual({ symbols: [] });
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/list', init: { signal, headers: { accept: 'application/json' } } }]);
  });

  it('fails with the URL and the HTTP status, after releasing the unread body', async () => {
    let cancelled = false;
    const body = new ReadableStream({ cancel: () => void (cancelled = true) });
    const unavailable: typeof fetch = async () => new Response(body, { status: 503 });
    await expect(fetchJson(unavailable, 'http://127.0.0.1:1/list', new AbortController().signal)).rejects.toThrow('GET http://127.0.0.1:1/list: HTTP 503');
    expect(cancelled).toBe(true);
  });

  it('fails with the start of the body when it is not JSON (an HTML error page)', async () => {
    const html: typeof fetch = async () => new Response('<html><body>Access denied</body></html>');
    await expect(fetchJson(html, 'http://127.0.0.1:1/list', new AbortController().signal)).rejects.toThrow(
      /^GET http:\/\/127\.0\.0\.1:1\/list: not JSON \(.*\): <html><body>Access denied/,
    );
  });

  it('passes on a failed request as it is', async () => {
    const down: typeof fetch = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(fetchJson(down, 'http://127.0.0.1:1/list', new AbortController().signal)).rejects.toThrow('fetch failed');
  });
});

describe('textField', () => {
  it('reads a non-empty string, and nothing else', () => {
    const entry = { a: 'TRADING', b: '', c: 42, d: null };
    expect(textField(entry, 'a')).toBe('TRADING');
    for (const key of ['b', 'c', 'd', 'missing']) expect(textField(entry, key)).toBeNull();
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

describe('readEntries', () => {
  const read = (entry: Readonly<Record<string, unknown>>): ListedMarket | null =>
    typeof entry.s === 'string' ? { nativeSymbol: entry.s, base: entry.s, quote: 'USD', status: 'up', trading: true } : null;

  it('keeps the entries it can read, in order, and skips the others', () => {
    expect(readEntries([{ s: 'A' }, 'junk', null, [], { s: 7 }, { s: 'B' }], read, 'list').map((m) => m.nativeSymbol)).toEqual(['A', 'B']);
  });

  it('reads an empty list as an empty listing', () => {
    expect(readEntries([], read, 'list')).toEqual([]);
  });

  it('throws, naming the endpoint, when not one of several entries can be read', () => {
    expect(() => readEntries([{ s: 1 }, 'junk'], read, 'exchangeInfo')).toThrow('exchangeInfo: none of its 2 entries could be read as a spot market');
  });
});
