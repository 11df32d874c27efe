import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExchangeAdapter, FrameEvent } from '../../src/ingest/adapter';
import {
  BINANCE_MAX_STREAMS_PER_CONNECTION,
  createBinanceAdapter,
  parseBinanceFrame,
} from '../../src/ingest/exchanges/binance';
import { listingFetch, type FetchCall } from '../support/listing-fetch';
import type { TickerPatch } from '../../src/market';

const fixture = readFileSync(new URL('../fixtures/exchanges/binance.ticker.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '');

function adapter(overrides: { restUrl?: string | null; wsUrl?: string; fetch?: typeof fetch; streamsPerMessage?: number } = {}) {
  return createBinanceAdapter(
    {
      exchange: 'binance',
      wsUrl: overrides.wsUrl ?? 'wss://stream.binance.com:9443/stream',
      restUrl: overrides.restUrl === undefined ? 'https://api.binance.test' : overrides.restUrl,
    },
    { fetch: overrides.fetch, streamsPerMessage: overrides.streamsPerMessage },
  );
}

function patchesOf(event: FrameEvent): readonly TickerPatch[] {
  if (event.kind !== 'tickers') throw new Error(`expected tickers, got ${JSON.stringify(event)}`);
  return event.patches;
}

function reasonOf(event: FrameEvent): string {
  if (event.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(event)}`);
  return event.reason;
}

describe('Binance adapter: replaying the fixture', () => {
  const events = fixture.map((line) => adapter().parse(line));

  it('reads every fixture frame as the kind it is, in order', () => {
    expect(events.map((e) => e.kind)).toEqual(['ack', 'tickers', 'tickers', 'tickers', 'ack', 'tickers', 'tickers', 'rotate']);
  });

  it('maps a combined-stream 24hrTicker to the exact normalized fields', () => {
    expect(patchesOf(events[1]!)).toEqual([
      {
        nativeSymbol: 'BTCUSDT',
        eventTime: 1785300000123,
        fields: {
          price: 96874.12,
          bid: 96874.11,
          ask: 96874.12,
          open24h: 95321.45,
          high24h: 97250,
          low24h: 94980.01,
          volume24h: 18234.51722,
          quoteVolume24h: 1752380578.16168097,
          change24h: 1552.67,
          changePercent24h: 1.629,
        },
      },
    ]);
  });

  it('keeps a negative change and the percent exactly as Binance sends it', () => {
    const [eth] = patchesOf(events[2]!);
    expect(eth).toEqual({
      nativeSymbol: 'ETHUSDT',
      eventTime: 1785300000160,
      fields: {
        price: 3352.1,
        bid: 3352.09,
        ask: 3352.1,
        open24h: 3398.77,
        high24h: 3421.56,
        low24h: 3318.02,
        volume24h: 412877.6541,
        quoteVolume24h: 1391157718.30515053,
        change24h: -46.67,
        changePercent24h: -1.373,
      },
    });
    const [later] = patchesOf(events[3]!);
    expect(later).toMatchObject({ nativeSymbol: 'BTCUSDT', eventTime: 1785300001124, fields: { price: 96880.55, changePercent24h: 1.639 } });
  });

  it('reads a !miniTicker@arr frame as one patch per symbol without bid, ask or change', () => {
    expect(patchesOf(events[5]!)).toEqual([
      {
        nativeSymbol: 'BTCUSDT',
        eventTime: 1785300001523,
        fields: { price: 96880.55, open24h: 95318.7, high24h: 97250, low24h: 94980.01, volume24h: 18236.90114, quoteVolume24h: 1752610900.20183536 },
      },
      {
        nativeSymbol: 'SOLUSDT',
        eventTime: 1785300001523,
        fields: { price: 184.31, open24h: 179.92, high24h: 186.4, low24h: 177.15, volume24h: 3120455.118, quoteVolume24h: 565880493.601269 },
      },
    ]);
  });

  it('turns a combined serverShutdown into a rotation', () => {
    expect(events[7]).toMatchObject({ kind: 'rotate' });
  });

  it('turns a raw-stream serverShutdown into a rotation', () => {
    expect(parseBinanceFrame('{"e":"serverShutdown","E":1785386000123}')).toMatchObject({ kind: 'rotate' });
  });

  it('reads a raw-stream 24hrTicker (no wrapper) like a combined one', () => {
    const raw = JSON.parse(fixture[2]!).data as unknown;
    expect(parseBinanceFrame(JSON.stringify(raw))).toEqual(events[2]);
  });
});

describe('Binance adapter: control frames', () => {
  it('reads acks and LIST_SUBSCRIPTIONS replies as acks', () => {
    expect(parseBinanceFrame('{"result":null,"id":3}')).toEqual({ kind: 'ack' });
    expect(parseBinanceFrame('{"result":["btcusdt@ticker"],"id":4}')).toEqual({ kind: 'ack' });
  });

  it('reads an error frame with its code, message and request id', () => {
    const event = parseBinanceFrame('{"code":2,"msg":"Invalid request: unknown variant SUBSCRIB","id":1}');
    expect(event.kind).toBe('error');
    expect(event.kind === 'error' && event.message).toBe('Binance error 2: Invalid request: unknown variant SUBSCRIB (request id 1)');
  });

  it('also reads an error nested under "error"', () => {
    expect(parseBinanceFrame('{"error":{"code":3,"msg":"Invalid JSON"},"id":null}')).toEqual({ kind: 'error', message: 'Binance error 3: Invalid JSON' });
  });

  it('ignores events of streams it does not read', () => {
    expect(parseBinanceFrame('{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","p":"1"}}')).toEqual({ kind: 'ignored' });
  });

  it('reads an empty mini-ticker array as a quiet data frame', () => {
    expect(parseBinanceFrame('{"stream":"!miniTicker@arr","data":[]}')).toEqual({ kind: 'tickers', patches: [] });
  });
});

describe('Binance adapter: malformed frames are invalid with a reason', () => {
  const ticker = JSON.parse(fixture[1]!).data as Record<string, unknown>;
  const withFields = (fields: Record<string, unknown>): string => JSON.stringify({ stream: 'btcusdt@ticker', data: { ...ticker, ...fields } });
  const without = (key: string): string => {
    const copy = { ...ticker };
    delete copy[key];
    return JSON.stringify({ stream: 'btcusdt@ticker', data: copy });
  };

  it.each([
    ['a frame that is not JSON', 'hello', /not JSON/],
    ['truncated JSON', '{"stream":"btcusdt@ticker","data":{"e":"24hrTi', /not JSON/],
    ['a JSON string', '"ticker"', /expected a JSON object or array, got string/],
    ['JSON null', 'null', /got null/],
    ['an object of unknown shape', '{"foo":1}', /unrecognized frame.*foo/],
    ['a ticker without its last price', without('c'), /required field "c" \(last price\) is missing/],
    ['a last price that is not a number', withFields({ c: 'abc' }), /"c" \(last price\) is not a decimal number: string "abc"/],
    ['a last price sent as a JSON number', withFields({ c: 96874.12 }), /expected "c" \(last price\) as a decimal string, got number 96874.12/],
    ['an empty last price', withFields({ c: '' }), /"c" \(last price\) is not a decimal number: string ""/],
    ['a dangling exponent', withFields({ c: '1e' }), /"c" .* string "1e"/],
    ['NaN', withFields({ c: 'NaN' }), /"c" .* string "NaN"/],
    ['Infinity', withFields({ c: 'Infinity' }), /"c" .* string "Infinity"/],
    ['an overflowing number', withFields({ c: '1e999' }), /"c" .* string "1e999"/],
    ['a zero last price', withFields({ c: '0.00000000' }), /"c" \(last price\) must be positive/],
    ['a bad optional field', withFields({ q: '12,5' }), /"q" \(quote volume\) is not a decimal number: string "12,5"/],
    ['an optional field of the wrong type', withFields({ b: null }), /expected "b" \(best bid\) as a decimal string, got null/],
    ['an event time sent as a string', withFields({ E: '1785300000123' }), /expected event time "E" as a positive number, got string/],
    ['a missing symbol', without('s'), /expected symbol "s" as a non-empty string, got nothing/],
    ['a symbol of the wrong type', withFields({ s: 42 }), /expected symbol "s" .* got number 42/],
    ['an event type of the wrong type', withFields({ e: 7 }), /expected event type "e" as a string, got number 7/],
    ['a combined frame whose data is a string', '{"stream":"btcusdt@ticker","data":"x"}', /"data" of btcusdt@ticker: expected an object or array, got string/],
    ['a combined frame without data', '{"stream":"btcusdt@ticker"}', /has no "data"/],
    ['a stream name that is not a string', '{"stream":5,"data":{}}', /expected "stream" as a string, got number 5/],
    ['an array of numbers', '[1,2]', /array item 0: expected a ticker object, got number 1/],
    ['an array with a foreign event', '{"stream":"!miniTicker@arr","data":[{"e":"trade"}]}', /array item 0: expected "e" to be 24hrMiniTicker or 24hrTicker, got string "trade"/],
    ['an array with one bad ticker', '{"stream":"!miniTicker@arr","data":[{"e":"24hrMiniTicker","E":1,"s":"BTCUSDT","c":"1"},{"e":"24hrMiniTicker","E":1,"s":"X","c":"x"}]}', /array item 1: .*"c"/],
    ['an error frame without a numeric code', '{"code":"2","msg":"x"}', /expected a numeric "code", got string/],
  ])('rejects %s', (_name, frame, reason) => {
    expect(reasonOf(parseBinanceFrame(frame))).toMatch(reason);
  });

  it('reads a zero bid or ask as an empty book side, not a price of 0', () => {
    const [patch] = patchesOf(parseBinanceFrame(withFields({ b: '0.00000000', a: '0.00000000' })));
    expect(patch?.fields.bid).toBeNull();
    expect(patch?.fields.ask).toBeNull();
  });

  it('leaves out an optional field the frame does not carry, so the market keeps its value', () => {
    const [patch] = patchesOf(parseBinanceFrame(without('b')));
    expect(patch?.fields).not.toHaveProperty('bid');
    expect(patch?.fields.ask).toBe(96874.12);
  });

  it('never throws, whatever the text', () => {
    for (const text of ['', '{', '[', '{}', '[]', '[null]', '{"result":1}', '{"e":null}', '\u0000', '{"stream":"s","data":null}']) {
      expect(() => parseBinanceFrame(text)).not.toThrow();
    }
  });
});

describe('Binance adapter: subscribing', () => {
  it('subscribes one lower-case @ticker stream per given symbol, batched, with ids increasing across calls', () => {
    const a = adapter({ streamsPerMessage: 2 });
    expect(a.subscribeMessages(['BTCUSDT', 'ETHBTC', 'SOLUSDT']).map((m) => JSON.parse(m))).toEqual([
      { method: 'SUBSCRIBE', params: ['btcusdt@ticker', 'ethbtc@ticker'], id: 1 },
      { method: 'SUBSCRIBE', params: ['solusdt@ticker'], id: 2 },
    ]);
    // Another connection, or symbols added to a live one: the ids go on.
    expect(a.subscribeMessages(['XRPUSDT']).map((m) => JSON.parse(m))).toEqual([{ method: 'SUBSCRIBE', params: ['xrpusdt@ticker'], id: 3 }]);
    expect(a.subscribeMessages([])).toEqual([]);
  });

  it('subscribes a full connection of 1024 streams in requests of 200', () => {
    const symbols = Array.from({ length: BINANCE_MAX_STREAMS_PER_CONNECTION }, (_, i) => `C${i}USDT`);
    const requests = adapter().subscribeMessages(symbols).map((m) => JSON.parse(m) as { params: string[] });
    expect(requests.map((r) => r.params.length)).toEqual([200, 200, 200, 200, 200, 24]);
    expect(requests.flatMap((r) => r.params)).toEqual(symbols.map((s) => `${s.toLowerCase()}@ticker`));
  });

  it('never uses the deprecated !ticker@arr stream', () => {
    expect(adapter().subscribeMessages(['BTCUSDT', 'ETHUSDT']).join('\n')).not.toContain('!ticker@arr');
  });

  it('carries 1024 streams per connection, one per symbol', () => {
    const { capacity } = adapter();
    expect(capacity.perConnection).toBe(1024);
    expect(capacity.cost('BTCUSDT')).toBe(1);
    expect(capacity.cost('1000SATSFDUSD')).toBe(1);
  });

  it('declares Binance limits and keep-alive rules: 300 connections per 5 min, 5 messages/s, 60 s of silence, rotation before 24 h', () => {
    const a: ExchangeAdapter = adapter();
    expect(a.connectionRate).toEqual({ limit: 300, windowMs: 300_000 });
    expect(a.messageRatePerIp).toBeUndefined();
    expect(a.maxMessagesPerSecond).toBe(5);
    expect(a.silenceTimeoutMs).toBe(60_000);
    expect(a.maxConnectionAgeMs).toBeLessThan(24 * 3600 * 1000);
    expect(a.clientHeartbeat).toBeUndefined();
  });

  it('converts microsecond event times to milliseconds when the URL asks for them', () => {
    const a = adapter({ wsUrl: 'wss://stream.binance.com:9443/stream?timeUnit=MICROSECOND' });
    const [patch] = patchesOf(a.parse('{"e":"24hrTicker","E":1785300000123456,"s":"BTCUSDT","c":"1.5"}'));
    expect(patch?.eventTime).toBeCloseTo(1785300000123.456, 3);
  });
});

describe('Binance adapter: configured symbols and names from the text', () => {
  it('trims, upper-cases and de-duplicates a configured list, with nothing to warn about', () => {
    expect(adapter().normalizeSymbols(['BTCUSDT', ' ethbtc', 'SOLUSDT ', 'btcusdt', ''])).toEqual({ symbols: ['BTCUSDT', 'ETHBTC', 'SOLUSDT'], warnings: [] });
  });

  it('splits a symbol on its longest known quote suffix, or gives it the quote UNKNOWN', () => {
    const a = adapter();
    expect(a.deriveSymbolInfo('BNBFDUSD')).toEqual({ nativeSymbol: 'BNBFDUSD', base: 'BNB', quote: 'FDUSD' });
    expect(a.deriveSymbolInfo('ETHBTC')).toEqual({ nativeSymbol: 'ETHBTC', base: 'ETH', quote: 'BTC' });
    expect(a.deriveSymbolInfo('FOOBAR')).toEqual({ nativeSymbol: 'FOOBAR', base: 'FOOBAR', quote: 'UNKNOWN' });
    expect(a.deriveSymbolInfo('BNBFDUSD')).toBe(a.deriveSymbolInfo('BNBFDUSD'));
  });
});

describe('Binance adapter: the listing (exchangeInfo)', () => {
  const exchangeInfo = {
    timezone: 'UTC',
    serverTime: 1785300000000,
    rateLimits: [],
    exchangeFilters: [],
    symbols: [
      { symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT', isSpotTradingAllowed: true, isMarginTradingAllowed: true, filters: [] },
      { symbol: '1000SATSFDUSD', status: 'TRADING', baseAsset: '1000SATS', quoteAsset: 'FDUSD', isSpotTradingAllowed: true, filters: [] },
      { symbol: 'LUNAUSDT', status: 'BREAK', baseAsset: 'LUNA', quoteAsset: 'USDT', isSpotTradingAllowed: true, filters: [] },
      { symbol: 'ABCDEF', status: 'CANCEL_ONLY', baseAsset: 'ABCD', quoteAsset: 'EF', filters: [] },
      { symbol: 'MARGINONLY', status: 'TRADING', baseAsset: 'MARGIN', quoteAsset: 'ONLY', isSpotTradingAllowed: false, filters: [] },
      { symbol: 42, status: 'TRADING' },
      { symbol: 'NOSTATUS', baseAsset: 'NO', quoteAsset: 'STATUS' },
      'junk',
    ],
  };

  it('lists every spot symbol with its names and status, trading only when TRADING', async () => {
    expect(await adapter({ fetch: listingFetch(exchangeInfo) }).fetchListing(new AbortController().signal)).toEqual([
      { nativeSymbol: 'BTCUSDT', base: 'BTC', quote: 'USDT', status: 'TRADING', trading: true },
      { nativeSymbol: '1000SATSFDUSD', base: '1000SATS', quote: 'FDUSD', status: 'TRADING', trading: true },
      { nativeSymbol: 'LUNAUSDT', base: 'LUNA', quote: 'USDT', status: 'BREAK', trading: false },
      { nativeSymbol: 'ABCDEF', base: 'ABCD', quote: 'EF', status: 'CANCEL_ONLY', trading: false },
    ]);
  });

  it('asks the documented endpoint on the configured REST base, with the abort signal', async () => {
    const calls: FetchCall[] = [];
    const signal = new AbortController().signal;
    await adapter({ restUrl: 'http://127.0.0.1:1/', fetch: listingFetch(exchangeInfo, 200, calls) }).fetchListing(signal);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/api/v3/exchangeInfo?showPermissionSets=false', signal }]);
  });

  it.each([
    ['the server answers 503', listingFetch({ code: -1001, msg: 'Internal error' }, 503), /exchangeInfo\?showPermissionSets=false: HTTP 503/],
    ['the body is HTML', listingFetch('<html>502 Bad Gateway</html>'), /not JSON.*<html>502 Bad Gateway/],
    ['the body has no symbols list', listingFetch({ symbols: 'many' }), /exchangeInfo: expected an object with a "symbols" array, got symbols: string/],
    ['the body is an array', listingFetch([1, 2]), /exchangeInfo: expected an object with a "symbols" array, got array\(2\)/],
    ['no entry can be read', listingFetch({ symbols: [{ name: 'BTCUSDT' }, { symbol: 'ETHBTC' }] }), /exchangeInfo: none of its 2 entries could be read/],
  ])('throws when %s', async (_name, fetchImpl, message) => {
    await expect(adapter({ fetch: fetchImpl }).fetchListing(new AbortController().signal)).rejects.toThrow(message);
  });

  it('throws when no REST base is configured', async () => {
    await expect(adapter({ restUrl: null }).fetchListing(new AbortController().signal)).rejects.toThrow('no REST URL is configured');
  });
});
