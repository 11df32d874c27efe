import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UNDOCUMENTED_SYMBOLS_PER_CONNECTION, type ExchangeAdapter, type FrameEvent } from '../../src/ingest/adapter';
import {
  OKX_DEFAULT_SYMBOLS,
  OKX_RATE_LIMIT_RETRY_MS,
  OKX_WS_URL,
  createOkxAdapter,
  parseOkxFrame,
  splitInstId,
} from '../../src/ingest/exchanges/okx';
import { MarketBook } from '../../src/ingest/market-book';
import { type Market, type TickerPatch } from '../../src/market';
import { listingFetch, type FetchCall } from '../support/listing-fetch';

const fixture = readFileSync(new URL('../fixtures/exchanges/okx.ticker.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '');

function adapter(overrides: { restUrl?: string | null; fetch?: typeof fetch; maxSubscribeBytes?: number } = {}) {
  return createOkxAdapter(
    {
      exchange: 'okx',
      wsUrl: OKX_WS_URL,
      restUrl: overrides.restUrl === undefined ? 'https://www.okx.test' : overrides.restUrl,
    },
    { fetch: overrides.fetch, maxSubscribeBytes: overrides.maxSubscribeBytes },
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

describe('OKX adapter: replaying the fixture', () => {
  const events = fixture.map((line) => adapter().parse(line));

  it('reads every fixture frame as the kind it is, in order: one ack per subscribed arg, then pushes', () => {
    expect(events.map((e) => e.kind)).toEqual(['ack', 'ack', 'tickers', 'tickers', 'tickers', 'tickers', 'tickers', 'tickers']);
  });

  it('maps every push to the exact normalized fields: vol24h is base volume, volCcy24h quote volume, ts the event time', () => {
    const common = { open24h: 95330.1, high24h: 97249.9, low24h: 94985.2 };
    const eth = { open24h: 3398.5, high24h: 3421.48, low24h: 3318.1 };
    expect(events.slice(2).map(patchesOf)).toEqual([
      [{ nativeSymbol: 'BTC-USDT', eventTime: 1785300000145, fields: { price: 96871.3, bid: 96871.3, ask: 96871.4, ...common, volume24h: 8452.31876432, quoteVolume24h: 812345678.41209 } }],
      [{ nativeSymbol: 'ETH-USDT', eventTime: 1785300000184, fields: { price: 3352.11, bid: 3352.11, ask: 3352.12, ...eth, volume24h: 160554.981047, quoteVolume24h: 540992117.884731 } }],
      [{ nativeSymbol: 'BTC-USDT', eventTime: 1785300000294, fields: { price: 96871.4, bid: 96871.3, ask: 96871.4, ...common, volume24h: 8452.33196432, quoteVolume24h: 812346957.11457 } }],
      [{ nativeSymbol: 'BTC-USDT', eventTime: 1785300000398, fields: { price: 96871.4, bid: 96871.4, ask: 96871.5, ...common, volume24h: 8452.33196432, quoteVolume24h: 812346957.11457 } }],
      [{ nativeSymbol: 'ETH-USDT', eventTime: 1785300000513, fields: { price: 3352.23, bid: 3352.23, ask: 3352.24, ...eth, volume24h: 160556.481047, quoteVolume24h: 540997146.229731 } }],
      [{ nativeSymbol: 'BTC-USDT', eventTime: 1785300000635, fields: { price: 96868.9, bid: 96868.9, ask: 96869, ...common, volume24h: 8452.58196432, quoteVolume24h: 812371174.33957 } }],
    ]);
  });

  it('has volumes whose ratio is an average price inside the 24h range, so base and quote are not swapped', () => {
    for (const [patch] of events.slice(2).map(patchesOf)) {
      const { volume24h, quoteVolume24h, low24h, high24h } = patch!.fields;
      const average = quoteVolume24h! / volume24h!;
      expect(average).toBeGreaterThanOrEqual(low24h!);
      expect(average).toBeLessThanOrEqual(high24h!);
    }
  });

  it('derives change and change percent from last and open24h, since OKX sends neither', () => {
    const a = adapter();
    const book = new MarketBook('okx', (s) => a.deriveSymbolInfo(s));
    const markets: Market[] = [];
    for (const event of events) for (const patch of event.kind === 'tickers' ? event.patches : []) markets.push(book.apply(patch, 0)!);
    const btc = markets.filter((m) => m.nativeSymbol === 'BTC-USDT').at(-1)!;
    expect(btc).toMatchObject({ id: 'okx:BTC/USDT', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', price: 96868.9, open24h: 95330.1, updatedAt: 1785300000635 });
    expect(btc.change24h).toBe(96868.9 - 95330.1);
    expect(btc.changePercent24h).toBe(((96868.9 - 95330.1) / 95330.1) * 100);
    expect(btc.changePercent24h).toBeCloseTo(1.6142, 4);
    const eth = markets.filter((m) => m.nativeSymbol === 'ETH-USDT').at(-1)!;
    expect(eth.changePercent24h).toBeCloseTo(-1.3615, 4);
    expect(eth.spreadPercent).toBeCloseTo((0.01 / 3352.235) * 100, 10);
  });
});

describe('OKX adapter: control frames', () => {
  it('reads the text pong as a heartbeat that yields nothing', () => {
    expect(parseOkxFrame('pong')).toEqual({ kind: 'heartbeat' });
  });

  it('reads subscribe and unsubscribe acks as acks, with or without a request id', () => {
    expect(parseOkxFrame('{"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"a4d3ae55"}')).toEqual({ kind: 'ack' });
    expect(parseOkxFrame('{"id":"1512","event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"accb8e21"}')).toEqual({ kind: 'ack' });
    expect(parseOkxFrame('{"event":"unsubscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"d0b44253"}')).toEqual({ kind: 'ack' });
  });

  it('turns notice 64008 (service upgrade) into a rotation', () => {
    const event = parseOkxFrame('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}');
    expect(event).toEqual({ kind: 'rotate', reason: 'OKX notice 64008: The connection will soon be closed for a service upgrade. Please reconnect. (connId a4d3ae55)' });
  });

  it('ignores a notice with any other code', () => {
    expect(parseOkxFrame('{"event":"notice","code":"64099","msg":"something else"}')).toEqual({ kind: 'ignored' });
  });

  it('reads an error event with its code, message and connection id', () => {
    expect(parseOkxFrame('{"event":"error","code":"60018","msg":"Wrong URL or channel:tickers,instId:LTC-USD doesn\'t exist. Please use the correct URL, channel and parameters referring to API document.","connId":"7c1e04b2"}')).toEqual({
      kind: 'error',
      message: "OKX error 60018: Wrong URL or channel:tickers,instId:LTC-USD doesn't exist. Please use the correct URL, channel and parameters referring to API document. (connId 7c1e04b2)",
    });
    expect(parseOkxFrame('{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\"}","connId":"a"}')).toEqual({
      kind: 'error',
      message: 'OKX error 60012: Invalid request: {"op": "subscribe"} (connId a)',
    });
  });

  it('asks the loop to wait before reconnecting after 60014 Requests too frequent', () => {
    expect(parseOkxFrame('{"event":"error","code":"60014","msg":"Requests too frequent","connId":"a"}')).toEqual({
      kind: 'error',
      message: 'OKX error 60014: Requests too frequent (connId a)',
      retryAfterMs: OKX_RATE_LIMIT_RETRY_MS,
    });
  });

  it('still reports an error event without a code, and reads a numeric code like a string one', () => {
    expect(parseOkxFrame('{"event":"error","msg":"boom"}')).toEqual({ kind: 'error', message: 'OKX error: boom' });
    expect(parseOkxFrame('{"event":"error","code":60013,"msg":"Invalid args"}')).toEqual({ kind: 'error', message: 'OKX error 60013: Invalid args' });
  });

  it('keeps a very long error text short', () => {
    const event = parseOkxFrame(JSON.stringify({ event: 'error', code: '60012', msg: `Invalid request: ${'x'.repeat(5000)}` }));
    expect(event.kind === 'error' && event.message.length).toBeLessThan(400);
  });

  it('reports channel-conn-count-error and ignores channel-conn-count', () => {
    expect(parseOkxFrame('{"event":"channel-conn-count-error","channel":"orders","connCount":"30","connId":"a4d3ae55"}')).toEqual({
      kind: 'error',
      message: 'OKX error: channel-conn-count-error on channel orders, 30 connections (connId a4d3ae55)',
    });
    expect(parseOkxFrame('{"event":"channel-conn-count","channel":"orders","connCount":"2","connId":"abcd1234"}')).toEqual({ kind: 'ignored' });
  });

  it('ignores unknown events and pushes of other channels', () => {
    expect(parseOkxFrame('{"event":"login","code":"0","msg":""}')).toEqual({ kind: 'ignored' });
    expect(parseOkxFrame('{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"px":"1"}]}')).toEqual({ kind: 'ignored' });
  });

  it('reads an empty data array as a quiet data frame', () => {
    expect(parseOkxFrame('{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[]}')).toEqual({ kind: 'tickers', patches: [] });
  });
});

describe('OKX adapter: ticker values', () => {
  const ticker = JSON.parse(fixture[2]!).data[0] as Record<string, unknown>;
  const push = (fields: Record<string, unknown>): string => JSON.stringify({ arg: { channel: 'tickers', instId: 'BTC-USDT' }, data: [{ ...ticker, ...fields }] });
  const without = (...keys: string[]): string => {
    const copy = { ...ticker };
    for (const key of keys) delete copy[key];
    return JSON.stringify({ arg: { channel: 'tickers', instId: 'BTC-USDT' }, data: [copy] });
  };

  it('reads an empty string as a known-missing value (null), never 0', () => {
    const [patch] = patchesOf(parseOkxFrame(push({ bidPx: '', askPx: '', open24h: '', vol24h: '', volCcy24h: '' })));
    expect(patch?.fields).toMatchObject({ bid: null, ask: null, open24h: null, volume24h: null, quoteVolume24h: null, price: 96871.3 });
  });

  it('reads a zero bid or ask as an empty book side', () => {
    const [patch] = patchesOf(parseOkxFrame(push({ bidPx: '0', askPx: '0.0' })));
    expect(patch?.fields.bid).toBeNull();
    expect(patch?.fields.ask).toBeNull();
  });

  it('leaves out an optional field the push does not carry, so the market keeps its value', () => {
    const [patch] = patchesOf(parseOkxFrame(without('bidPx', 'vol24h')));
    expect(patch?.fields).not.toHaveProperty('bid');
    expect(patch?.fields).not.toHaveProperty('volume24h');
    expect(patch?.fields.ask).toBe(96871.4);
  });

  it('never sends change fields of its own, leaving them to open24h', () => {
    const [patch] = patchesOf(parseOkxFrame(push({})));
    expect(patch?.fields).not.toHaveProperty('change24h');
    expect(patch?.fields).not.toHaveProperty('changePercent24h');
  });

  it('accepts a ticker without instType (we only subscribe spot instIds)', () => {
    expect(patchesOf(parseOkxFrame(without('instType')))).toHaveLength(1);
  });

  it('reads every element of a data array', () => {
    const frame = JSON.stringify({ arg: { channel: 'tickers' }, data: [ticker, { ...ticker, instId: 'ETH-USDT', last: '3352.1' }] });
    expect(patchesOf(parseOkxFrame(frame)).map((p) => [p.nativeSymbol, p.fields.price])).toEqual([
      ['BTC-USDT', 96871.3],
      ['ETH-USDT', 3352.1],
    ]);
  });
});

describe('OKX adapter: malformed frames are invalid with a reason', () => {
  const ticker = JSON.parse(fixture[2]!).data[0] as Record<string, unknown>;
  const push = (fields: Record<string, unknown>): string => JSON.stringify({ arg: { channel: 'tickers', instId: 'BTC-USDT' }, data: [{ ...ticker, ...fields }] });
  const without = (key: string): string => {
    const copy = { ...ticker };
    delete copy[key];
    return JSON.stringify({ arg: { channel: 'tickers', instId: 'BTC-USDT' }, data: [copy] });
  };

  it.each([
    ['a frame that is neither JSON nor pong', 'hello', /not JSON.*hello.*the only non-JSON frame OKX sends is the text "pong"/],
    ['a pong in other letters', 'PONG', /not JSON/],
    ['a ping (OKX never sends one)', 'ping', /not JSON/],
    ['truncated JSON', '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"la', /not JSON/],
    ['a JSON string', '"tickers"', /expected a JSON object, got string/],
    ['a JSON array', '[1,2]', /expected a JSON object, got array\(2\)/],
    ['JSON null', 'null', /expected a JSON object, got null/],
    ['an object of unknown shape', '{"foo":1}', /unrecognized frame.*foo/],
    ['an event that is not a string', '{"event":5}', /expected "event" as a string, got number 5/],
    ['an error code of the wrong type', '{"event":"error","code":{"x":1},"msg":"m"}', /error: expected "code" as a string, got object/],
    ['a notice code of the wrong type', '{"event":"notice","code":true}', /notice: expected "code" as a string, got boolean true/],
    ['an arg that is not an object', '{"arg":"tickers","data":[]}', /expected "arg" as an object, got string/],
    ['an arg without a channel', '{"arg":{"instId":"BTC-USDT"},"data":[]}', /expected "arg.channel" as a string, got nothing/],
    ['a push without data', '{"arg":{"channel":"tickers","instId":"BTC-USDT"}}', /tickers BTC-USDT: push has no "data"/],
    ['data that is not an array', '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":{"last":"1"}}', /expected "data" as an array, got object/],
    ['data holding a number', '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[7]}', /data\[0\]: expected a ticker object, got number 7/],
    ['a ticker without its last price', without('last'), /required field "last" \(last price\) is missing/],
    ['an empty last price', push({ last: '' }), /required field "last" \(last price\) is empty/],
    ['a last price that is not a number', push({ last: 'abc' }), /"last" \(last price\) is not a decimal number: string "abc"/],
    ['a last price sent as a JSON number', push({ last: 96871.3 }), /expected "last" \(last price\) as a decimal string, got number 96871.3/],
    ['a last price of null', push({ last: null }), /expected "last" \(last price\) as a decimal string, got null/],
    ['NaN', push({ last: 'NaN' }), /"last" .* string "NaN"/],
    ['Infinity', push({ last: 'Infinity' }), /"last" .* string "Infinity"/],
    ['an overflowing number', push({ last: '1e999' }), /"last" .* string "1e999"/],
    ['a zero last price', push({ last: '0' }), /"last" \(last price\) must be positive/],
    ['a negative last price', push({ last: '-5' }), /"last" \(last price\) must be positive/],
    ['a bad optional field', push({ volCcy24h: '12,5' }), /"volCcy24h" \(24h quote volume\) is not a decimal number: string "12,5"/],
    ['an optional field of the wrong type', push({ bidPx: 96871.3 }), /expected "bidPx" \(best bid\) as a decimal string, got number/],
    ['an optional field of null', push({ open24h: null }), /expected "open24h" \(24h open\) as a decimal string, got null/],
    ['a missing event time', without('ts'), /expected "ts" as a string of epoch milliseconds, got nothing/],
    ['an event time sent as a number', push({ ts: 1785300000145 }), /expected "ts" as a string of epoch milliseconds, got number/],
    ['an event time that is not digits', push({ ts: 'abc' }), /expected "ts" .* got string "abc"/],
    ['an event time with a fraction', push({ ts: '1785300000145.5' }), /expected "ts" .* got string "1785300000145.5"/],
    ['an event time of zero', push({ ts: '0' }), /expected "ts" .* got string "0"/],
    ['a missing instId', without('instId'), /expected "instId" as a non-empty string, got nothing/],
    ['a ticker for another instId than the subscription', push({ instId: 'ETH-USDT' }), /ticker is for ETH-USDT, not the subscribed BTC-USDT/],
    ['a derivative ticker', push({ instType: 'SWAP' }), /expected "instType" SPOT, got string "SWAP"/],
    ['one bad ticker among good ones', JSON.stringify({ arg: { channel: 'tickers' }, data: [ticker, { ...ticker, last: 'x' }] }), /data\[1\]: .*"last"/],
  ])('rejects %s', (_name, frame, reason) => {
    expect(reasonOf(parseOkxFrame(frame))).toMatch(reason);
  });

  it('never throws, whatever the text', () => {
    const texts = ['', ' ', '{', '[', '{}', '[]', '[null]', '{"event":null}', '{"arg":null}', '\u0000', '{"arg":{"channel":"tickers"},"data":null}', '{"arg":{"channel":"tickers"},"data":[null]}', '{"event":"notice"}'];
    for (const text of texts) expect(() => parseOkxFrame(text)).not.toThrow();
  });
});

describe('OKX adapter: subscribing, limits and keep-alive', () => {
  it('subscribes one tickers arg per given instId in a single request, in the documented shape', () => {
    expect(adapter().subscribeMessages(['BTC-USDT', 'ETH-USDT', 'ETH-BTC'])).toEqual([
      '{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},{"channel":"tickers","instId":"ETH-USDT"},{"channel":"tickers","instId":"ETH-BTC"}]}',
    ]);
  });

  it('splits into several requests only when one would pass the byte budget, and subscribes every symbol once', () => {
    const symbols = Array.from({ length: 50 }, (_, i) => `C${i}-USDT`);
    const messages = adapter({ maxSubscribeBytes: 400 }).subscribeMessages(symbols);
    expect(messages.length).toBeGreaterThan(1);
    for (const message of messages) expect(Buffer.byteLength(message)).toBeLessThanOrEqual(400);
    const args = messages.flatMap((m) => (JSON.parse(m) as { op: string; args: Array<{ channel: string; instId: string }> }).args);
    expect(args).toEqual(symbols.map((instId) => ({ channel: 'tickers', instId })));
    // Greedy: no request could have taken the first argument of the next one.
    messages.slice(0, -1).forEach((message, i) => {
      const next = JSON.stringify((JSON.parse(messages[i + 1]!) as { args: unknown[] }).args[0]);
      expect(Buffer.byteLength(message) + 1 + Buffer.byteLength(next)).toBeGreaterThan(400);
    });
  });

  it('fits a full connection, and even a thousand instIds, into one request under the default budget', () => {
    const a = adapter();
    expect(a.subscribeMessages(Array.from({ length: a.capacity.perConnection }, (_, i) => `COIN${i}-USDT`))).toHaveLength(1);
    expect(a.subscribeMessages(Array.from({ length: 1000 }, (_, i) => `COIN${i}-USDT`))).toHaveLength(1);
  });

  it('subscribes nothing for no symbols', () => {
    expect(adapter().subscribeMessages([])).toEqual([]);
  });

  it('sends instIds the listing does not name last, each in a request of its own', () => {
    const a = adapter();
    a.useListing(new Set(['BTC-USDT', 'ETH-USDT']));
    const args = (text: string) => (JSON.parse(text) as { args: Array<{ instId: string }> }).args.map((arg) => arg.instId);
    expect(a.subscribeMessages(['NOPE-USDT', 'BTC-USDT', 'ALSO-NOT', 'ETH-USDT']).map(args)).toEqual([['BTC-USDT', 'ETH-USDT'], ['NOPE-USDT'], ['ALSO-NOT']]);
  });

  it('carries its own cap of symbols per connection, since OKX documents none', () => {
    const { capacity } = adapter();
    expect(capacity.perConnection).toBe(UNDOCUMENTED_SYMBOLS_PER_CONNECTION);
    expect(capacity.cost('BTC-USDT')).toBe(1);
  });

  it('declares OKX limits and keep-alive rules: 3 connections per second, text ping well under the 30 s idle close, silence limit just above the ping interval', () => {
    const a: ExchangeAdapter = adapter();
    expect(a.connectionRate).toEqual({ limit: 3, windowMs: 1000 });
    expect(a.messageRatePerIp).toBeUndefined();
    expect(a.clientHeartbeat).toEqual({ intervalMs: 15_000, message: 'ping' });
    expect(a.silenceTimeoutMs).toBeGreaterThan(a.clientHeartbeat!.intervalMs);
    expect(a.silenceTimeoutMs).toBeLessThan(30_000);
    expect(a.maxMessagesPerSecond).toBe(3);
    expect(a.maxConnectionAgeMs).toBeUndefined();
  });

  it('has about twenty liquid spot pairs by default, spelled as OKX instIds', () => {
    expect(OKX_DEFAULT_SYMBOLS.length).toBeGreaterThanOrEqual(20);
    for (const symbol of OKX_DEFAULT_SYMBOLS) expect(symbol).toMatch(/^[A-Z0-9]+-[A-Z0-9]+$/);
    expect(OKX_DEFAULT_SYMBOLS).toContain('BTC-USDT');
  });
});

describe('OKX adapter: configured symbols and names from the text', () => {
  it('trims, upper-cases and de-duplicates a configured list, with nothing to warn about', () => {
    expect(adapter().normalizeSymbols(['BTC-USDT', 'eth-usdt', ' ETH-BTC ', 'BTC-USDT', ''])).toEqual({ symbols: ['BTC-USDT', 'ETH-USDT', 'ETH-BTC'], warnings: [] });
  });

  it('splits only BASE-QUOTE', () => {
    expect(splitInstId('ETH-BTC')).toEqual({ nativeSymbol: 'ETH-BTC', base: 'ETH', quote: 'BTC' });
    for (const text of ['BTCUSDT', 'BTC-USDT-SWAP', '-USDT', 'BTC-', 'BTC/USDT']) expect(splitInstId(text)).toBeNull();
  });

  it('derives names by splitting on "-", and gives anything else an UNKNOWN quote', () => {
    const a = adapter();
    expect(a.deriveSymbolInfo('ODD-PAIR')).toEqual({ nativeSymbol: 'ODD-PAIR', base: 'ODD', quote: 'PAIR' });
    expect(a.deriveSymbolInfo('BTCUSDT')).toEqual({ nativeSymbol: 'BTCUSDT', base: 'BTCUSDT', quote: 'UNKNOWN' });
    expect(a.deriveSymbolInfo('BTC-USDT-SWAP')).toEqual({ nativeSymbol: 'BTC-USDT-SWAP', base: 'BTC-USDT-SWAP', quote: 'UNKNOWN' });
  });
});

describe('OKX adapter: the listing (instruments)', () => {
  const instrument = (instId: string, baseCcy: string, quoteCcy: string, state: unknown = 'live') => ({
    instType: 'SPOT',
    instId,
    uly: '',
    baseCcy,
    quoteCcy,
    settleCcy: '',
    listTime: '1606468572000',
    tickSz: '0.1',
    lotSz: '0.00000001',
    minSz: '0.00001',
    state,
  });
  const instruments = {
    code: '0',
    msg: '',
    data: [
      instrument('BTC-USDT', 'BTC', 'USDT'),
      instrument('ETH-BTC', 'ETH', 'BTC'),
      instrument('LUNA-USDT', 'LUNA', 'USDT', 'suspend'),
      instrument('NEW-USDT', 'NEW', 'USDT', 'preopen'),
      instrument('ODD-PAIR', 'OD', 'DPAIR'),
      instrument('NOSTATE-USDT', 'NOSTATE', 'USDT', null),
      { instId: 42 },
    ],
  };

  it('lists every instrument with its names and state, trading only when live', async () => {
    expect(await adapter({ fetch: listingFetch(instruments) }).fetchListing(new AbortController().signal)).toEqual([
      { nativeSymbol: 'BTC-USDT', base: 'BTC', quote: 'USDT', status: 'live', trading: true },
      { nativeSymbol: 'ETH-BTC', base: 'ETH', quote: 'BTC', status: 'live', trading: true },
      { nativeSymbol: 'LUNA-USDT', base: 'LUNA', quote: 'USDT', status: 'suspend', trading: false },
      { nativeSymbol: 'NEW-USDT', base: 'NEW', quote: 'USDT', status: 'preopen', trading: false },
      { nativeSymbol: 'ODD-PAIR', base: 'OD', quote: 'DPAIR', status: 'live', trading: true },
    ]);
  });

  it('asks the documented endpoint under the configured REST base, with the abort signal', async () => {
    const calls: FetchCall[] = [];
    const signal = new AbortController().signal;
    await adapter({ restUrl: 'http://127.0.0.1:1/', fetch: listingFetch(instruments, 200, calls) }).fetchListing(signal);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/api/v5/public/instruments?instType=SPOT', signal }]);
  });

  it.each([
    ['the server answers 503', listingFetch({ code: '50001', msg: 'Service temporarily unavailable', data: [] }, 503), /instruments\?instType=SPOT: HTTP 503/],
    ['the body is HTML', listingFetch('<html><h1>504 Gateway Time-out</h1></html>'), /not JSON.*504 Gateway/],
    ['OKX reports an error code in the body', listingFetch({ code: '50011', msg: 'Too Many Requests', data: [] }), /instruments: OKX code string "50011": Too Many Requests/],
    ['the body has no data list', listingFetch({ code: '0', msg: '', data: 'many' }), /instruments: expected "data" as an array, got string/],
    ['the body is not an object', listingFetch([1]), /instruments: expected a JSON object, got array/],
    ['no entry can be read', listingFetch({ code: '0', msg: '', data: [{ instId: 'BTC-USDT' }] }), /instruments: none of its 1 entries could be read/],
  ])('throws when %s', async (_name, fetchImpl, message) => {
    await expect(adapter({ fetch: fetchImpl }).fetchListing(new AbortController().signal)).rejects.toThrow(message);
  });

  it('throws when no REST base is configured', async () => {
    await expect(adapter({ restUrl: null }).fetchListing(new AbortController().signal)).rejects.toThrow('no REST URL is configured');
  });
});
