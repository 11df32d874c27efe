import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExchangeAdapter, FrameEvent } from '../../src/ingest/adapter';
import {
  BYBIT_DEFAULT_SYMBOLS,
  BYBIT_MAX_ARGS_CHARS,
  BYBIT_WS_URL,
  createBybitAdapter,
  parseBybitFrame,
} from '../../src/ingest/exchanges/bybit';
import { MarketBook, type TickerPatch } from '../../src/ingest/market';

const fixture = readFileSync(new URL('../fixtures/exchanges/bybit.ticker.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '');

function adapter(overrides: { symbols?: readonly string[]; restUrl?: string | null; fetch?: typeof fetch } = {}) {
  return createBybitAdapter(
    {
      exchange: 'bybit',
      wsUrl: BYBIT_WS_URL,
      restUrl: overrides.restUrl === undefined ? 'https://api.bybit.test' : overrides.restUrl,
      symbols: overrides.symbols ?? ['BTCUSDT', 'ETHUSDT'],
    },
    { fetch: overrides.fetch },
  );
}

function patchesOf(event: FrameEvent): readonly TickerPatch[] {
  if (event.kind !== 'tickers') throw new Error(`expected tickers, got ${JSON.stringify(event)}`);
  return event.patches;
}

function onlyPatch(event: FrameEvent): TickerPatch {
  const patches = patchesOf(event);
  if (patches.length !== 1) throw new Error(`expected one patch, got ${patches.length}`);
  return patches[0]!;
}

function reasonOf(event: FrameEvent): string {
  if (event.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(event)}`);
  return event.reason;
}

function book(bids: unknown, asks: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    topic: 'orderbook.1.BTCUSDT',
    ts: 1785300000150,
    type: 'snapshot',
    data: { s: 'BTCUSDT', b: bids, a: asks, u: 18521288, seq: 7961638724 },
    cts: 1785300000148,
    ...extra,
  });
}

const respond = (body: unknown, status = 200): typeof fetch => async () => new Response(JSON.stringify(body), { status });

describe('Bybit adapter: replaying the fixture', () => {
  const events = fixture.map((line) => adapter().parse(line));

  it('reads every fixture frame as the kind it is, in order', () => {
    expect(events.map((e) => e.kind)).toEqual(['ack', 'tickers', 'tickers', 'tickers', 'tickers', 'tickers', 'heartbeat', 'tickers']);
  });

  it('maps every ticker frame to the exact normalized fields, the change fraction as percent', () => {
    const ticker = (
      symbol: string,
      eventTime: number,
      price: number,
      open24h: number,
      high24h: number,
      low24h: number,
      volume24h: number,
      quoteVolume24h: number,
      changePercent24h: number,
    ): TickerPatch => ({
      nativeSymbol: symbol,
      eventTime,
      stream: 'tickers',
      fields: { price, open24h, high24h, low24h, volume24h, quoteVolume24h, changePercent24h },
    });
    const tickers = events.filter((e) => e.kind === 'tickers').map(onlyPatch);
    expect(tickers).toEqual([
      ticker('BTCUSDT', 1785300000138, 96872.45, 95318.7, 97251.1, 94979.6, 6891.442107, 662115873.12640021, 1.63),
      ticker('ETHUSDT', 1785300000171, 3352.18, 3398.66, 3421.5, 3318.05, 120447.51388, 405776312.5549107, -1.37),
      ticker('BTCUSDT', 1785300000189, 96872.46, 95318.7, 97251.1, 94979.6, 6891.443617, 662116019.40381481, 1.63),
      ticker('BTCUSDT', 1785300000240, 96870.01, 95318.7, 97251.1, 94979.6, 6891.457988, 662117411.52272852, 1.63),
      ticker('ETHUSDT', 1785300000272, 3352.24, 3398.66, 3421.5, 3318.05, 120448.33288, 405779058.0394707, -1.37),
      ticker('BTCUSDT', 1785300020291, 96866.8, 95318.7, 97251.1, 94979.6, 6892.101733, 662179769.04089452, 1.62),
    ]);
  });

  it('never sets bid or ask from a ticker: spot tickers carry no book', () => {
    for (const event of events) {
      if (event.kind !== 'tickers') continue;
      expect(onlyPatch(event).fields).not.toHaveProperty('bid');
      expect(onlyPatch(event).fields).not.toHaveProperty('ask');
    }
  });

  it('yields markets whose change comes from prevPrice24h, the price 24 h ago', () => {
    const marketBook = new MarketBook('bybit', (s) => adapter().symbolInfo(s));
    const markets = events.flatMap((e) => (e.kind === 'tickers' ? e.patches : [])).map((p) => marketBook.apply(p, 1));
    const btc = markets.at(-1)!;
    expect(btc).toMatchObject({ id: 'bybit:BTC/USDT', price: 96866.8, open24h: 95318.7, change24h: 96866.8 - 95318.7, bid: null, ask: null, spreadPercent: null });
    expect(btc.changePercent24h).toBeCloseTo(((96866.8 - 95318.7) / 95318.7) * 100, 12);
    // Bybit's own rounded fraction agrees with the exact figure to its 4 decimals.
    expect(btc.changePercent24h! / 100).toBeCloseTo(0.0162, 4);
  });
});

describe('Bybit adapter: price24hPcnt is a fraction', () => {
  const withPcnt = (pcnt: string): FrameEvent =>
    parseBybitFrame(JSON.stringify({ topic: 'tickers.BTCUSDT', ts: 1, type: 'snapshot', cs: 1, data: { symbol: 'BTCUSDT', lastPrice: '1', price24hPcnt: pcnt } }));

  it.each([
    ['0.0163', 1.63],
    ['-0.0137', -1.37],
    ['0', 0],
    ['1.5e-3', 0.15],
    ['+2', 200],
  ])('reads %s as exactly %s percent', (pcnt, percent) => {
    expect(onlyPatch(withPcnt(pcnt)).fields.changePercent24h).toBe(percent);
  });

  it('rejects a change that is not a decimal', () => {
    expect(reasonOf(withPcnt('1.63%'))).toMatch(/"price24hPcnt" \(24 h change as a fraction\) is not a decimal number: string "1.63%"/);
  });
});

describe('Bybit adapter: control frames yield no patches', () => {
  it.each([
    ['the spot subscribe ack', '{"success":true,"ret_msg":"subscribe","conn_id":"c1","req_id":"sub-1","op":"subscribe"}', 'ack'],
    ['a linear-style ack with an empty ret_msg', '{"success":true,"ret_msg":"","conn_id":"c1","op":"subscribe"}', 'ack'],
    ['an unsubscribe ack', '{"success":true,"ret_msg":"","conn_id":"c1","op":"unsubscribe"}', 'ack'],
    ['the spot pong', '{"success":true,"ret_msg":"pong","conn_id":"c1","op":"ping"}', 'heartbeat'],
    ['a pong that echoes req_id', '{"success":true,"ret_msg":"pong","conn_id":"c1","req_id":"100001","op":"ping"}', 'heartbeat'],
    ['the option-style pong', '{"op":"pong","args":["1785300000000"],"conn_id":"c1"}', 'heartbeat'],
    ['a reply to another op', '{"success":true,"ret_msg":"","op":"auth","conn_id":"c1"}', 'ignored'],
    ['a push on a topic it does not read', '{"topic":"publicTrade.BTCUSDT","ts":1,"type":"snapshot","data":[]}', 'ignored'],
    ['a deeper book it did not subscribe', '{"topic":"orderbook.50.BTCUSDT","ts":1,"type":"delta","data":{}}', 'ignored'],
  ])('reads %s', (_name, frame, kind) => {
    expect(parseBybitFrame(frame)).toEqual({ kind });
  });

  it('turns a rejected subscription into an error naming the args of that request', () => {
    const a = adapter({ symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT'] });
    const [, second] = a.subscribeMessages().map((m) => JSON.parse(m) as { req_id: string });
    const event = a.parse(`{"success":false,"ret_msg":"Invalid symbol :[tickers.ADAUSDT]","conn_id":"c1","req_id":"${second!.req_id}","op":"subscribe"}`);
    expect(event).toEqual({
      kind: 'error',
      message: `Bybit rejected subscribe of tickers.ADAUSDT, orderbook.1.ADAUSDT (req_id ${second!.req_id}): Invalid symbol :[tickers.ADAUSDT]`,
    });
  });

  it('reports a rejection without req_id with Bybit’s own text', () => {
    expect(parseBybitFrame('{"success":false,"ret_msg":"args size >10","conn_id":"c1","op":"subscribe"}')).toEqual({
      kind: 'error',
      message: 'Bybit rejected subscribe: args size >10',
    });
  });
});

describe('Bybit adapter: the level-1 order book', () => {
  it('takes the best bid and ask from b[0][0] and a[0][0]', () => {
    expect(onlyPatch(parseBybitFrame(book([['96872.4', '0.51']], [['96872.5', '1.203']])))).toEqual({
      nativeSymbol: 'BTCUSDT',
      eventTime: 1785300000150,
      stream: 'orderbook',
      fields: { bid: 96872.4, ask: 96872.5 },
    });
  });

  it('reads an empty side as null', () => {
    expect(onlyPatch(parseBybitFrame(book([], [['96872.5', '1']]))).fields).toEqual({ bid: null, ask: 96872.5 });
    expect(onlyPatch(parseBybitFrame(book([['96872.4', '1']], []))).fields).toEqual({ bid: 96872.4, ask: null });
    expect(onlyPatch(parseBybitFrame(book([], []))).fields).toEqual({ bid: null, ask: null });
  });

  it('takes the first level when a side carries several (Bybit sorts best first)', () => {
    const patch = onlyPatch(parseBybitFrame(book([['10', '1'], ['9', '1']], [['11', '1'], ['12', '1']])));
    expect(patch.fields).toEqual({ bid: 10, ask: 11 });
  });

  it.each([
    ['a delta', book([], [], { type: 'delta' }), /expected type "snapshot" \(level 1 is snapshot-only\), got "delta"/],
    ['a side that is not an array', book('96872.4', []), /expected "b" \(bids\) as an array of \[price, size\], got string/],
    ['a level that is not a pair', book([['96872.4']], []), /"b\[0\]": expected \[price, size\], got array\(1\)/],
    ['a price sent as a number', book([[96872.4, '1']], []), /"b\[0\]": expected price and size as decimal strings, got number 96872.4/],
    ['a price that is not a decimal', book([], [['abc', '1']]), /"a\[0\]": price must be a positive decimal, got string "abc"/],
    ['a zero price', book([['0', '1']], []), /"b\[0\]": price must be a positive decimal/],
    ['a zero size', book([], [['96872.5', '0']]), /"a\[0\]": size must be a positive decimal, got string "0"/],
    ['a book naming another symbol', JSON.stringify({ topic: 'orderbook.1.BTCUSDT', ts: 1, type: 'snapshot', data: { s: 'ETHUSDT', b: [], a: [] } }), /expected "data.s" to be "BTCUSDT", got string "ETHUSDT"/],
    ['a book without ts', JSON.stringify({ topic: 'orderbook.1.BTCUSDT', type: 'snapshot', data: { s: 'BTCUSDT', b: [], a: [] } }), /expected "ts" as a positive number \(ms\), got nothing/],
  ])('rejects %s', (_name, frame, reason) => {
    expect(reasonOf(parseBybitFrame(frame))).toMatch(reason);
  });
});

describe('Bybit adapter: ticker and book merge into one market', () => {
  const ticker = fixture[1]!;

  it('gives a full market with bid, ask and spreadPercent', () => {
    const marketBook = new MarketBook('bybit', (s) => adapter().symbolInfo(s));
    const bookPatch = onlyPatch(parseBybitFrame(book([['96872.4', '0.5']], [['96872.5', '1']])));
    // The book arrives first: nothing is emitted until the price is known.
    expect(marketBook.apply(bookPatch, 10)).toBeNull();
    const market = marketBook.apply(onlyPatch(parseBybitFrame(ticker)), 11);
    expect(market).toMatchObject({
      id: 'bybit:BTC/USDT',
      price: 96872.45,
      bid: 96872.4,
      ask: 96872.5,
      open24h: 95318.7,
      high24h: 97251.1,
      low24h: 94979.6,
      volume24h: 6891.442107,
      quoteVolume24h: 662115873.12640021,
      change24h: 96872.45 - 95318.7,
      updatedAt: 1785300000150,
    });
    const mid = (96872.4 + 96872.5) / 2;
    expect(market!.spreadPercent).toBeCloseTo(((96872.5 - 96872.4) / mid) * 100, 12);
  });

  it('applies a book stamped earlier than the latest ticker: the streams are ordered separately', () => {
    const marketBook = new MarketBook('bybit', (s) => adapter().symbolInfo(s));
    marketBook.apply(onlyPatch(parseBybitFrame(ticker)), 1); // ts 1785300000138
    const early = book([['96000', '1']], [['96001', '1']], { ts: 1785300000100 });
    expect(marketBook.apply(onlyPatch(parseBybitFrame(early)), 2)).toMatchObject({ bid: 96000, ask: 96001, updatedAt: 1785300000138 });
    // ...but an older book than the latest book is dropped.
    const older = book([['1', '1']], [['2', '1']], { ts: 1785300000099 });
    expect(marketBook.apply(onlyPatch(parseBybitFrame(older)), 3)).toBeNull();
  });
});

describe('Bybit adapter: snapshots and missing values', () => {
  const base = JSON.parse(fixture[1]!) as { data: Record<string, unknown> } & Record<string, unknown>;
  const frame = (data: Record<string, unknown>, envelope: Record<string, unknown> = {}): string => JSON.stringify({ ...base, ...envelope, data });

  it('sets a field a snapshot leaves out, or sends as "", to null so no older value survives', () => {
    const { prevPrice24h: _prev, ...rest } = base.data;
    const fields = onlyPatch(parseBybitFrame(frame({ ...rest, turnover24h: '' }))).fields;
    expect(fields).toMatchObject({ price: 96872.45, open24h: null, quoteVolume24h: null, volume24h: 6891.442107 });
  });

  it('ignores usdIndexPrice, empty or not', () => {
    expect(parseBybitFrame(frame({ ...base.data, usdIndexPrice: '' }))).toEqual(parseBybitFrame(fixture[1]!));
  });

  it('applies only the fields a delta carries (linear style; spot sends none)', () => {
    const patch = onlyPatch(parseBybitFrame(frame({ symbol: 'BTCUSDT', volume24h: '7000' }, { type: 'delta' })));
    expect(patch.fields).toEqual({ volume24h: 7000 });
  });
});

describe('Bybit adapter: malformed frames are invalid with a reason', () => {
  const base = JSON.parse(fixture[1]!) as { data: Record<string, unknown> } & Record<string, unknown>;
  const withData = (fields: Record<string, unknown>): string => JSON.stringify({ ...base, data: { ...base.data, ...fields } });
  const withEnvelope = (fields: Record<string, unknown>): string => JSON.stringify({ ...base, ...fields });
  const without = (key: string): string => {
    const data = { ...base.data };
    delete data[key];
    return JSON.stringify({ ...base, data });
  };

  it.each([
    ['a frame that is not JSON', 'hello', /not JSON/],
    ['truncated JSON', fixture[1]!.slice(0, 40), /not JSON/],
    ['a JSON array', '[1,2]', /expected a JSON object, got array\(2\)/],
    ['JSON null', 'null', /expected a JSON object, got null/],
    ['an object of unknown shape', '{"foo":1}', /unrecognized frame.*foo/],
    ['a topic that is not a string', withEnvelope({ topic: 7 }), /expected "topic" as a string, got number 7/],
    ['a ticker without its last price', without('lastPrice'), /required field "lastPrice" is missing/],
    ['an empty last price', withData({ lastPrice: '' }), /required field "lastPrice" is empty/],
    ['a last price that is not a number', withData({ lastPrice: 'abc' }), /"lastPrice" \(last price\) is not a decimal number: string "abc"/],
    ['a last price sent as a JSON number', withData({ lastPrice: 96872.45 }), /expected "lastPrice" \(last price\) as a decimal string, got number 96872.45/],
    ['NaN', withData({ lastPrice: 'NaN' }), /"lastPrice" .* string "NaN"/],
    ['an overflowing number', withData({ lastPrice: '1e999' }), /"lastPrice" .* string "1e999"/],
    ['a zero last price', withData({ lastPrice: '0' }), /"lastPrice" must be positive/],
    ['a bad optional field', withData({ turnover24h: '12,5' }), /"turnover24h" \(24 h quote turnover\) is not a decimal number: string "12,5"/],
    ['an optional field of the wrong type', withData({ highPrice24h: null }), /expected "highPrice24h" \(24 h high\) as a decimal string, got null/],
    ['an event time sent as a string', withEnvelope({ ts: '1785300000138' }), /expected "ts" as a positive number \(ms\), got string/],
    ['an unknown type', withEnvelope({ type: 'full' }), /expected "type" to be "snapshot" or "delta", got string "full"/],
    ['data as an array', withEnvelope({ data: [base.data] }), /expected "data" as an object, got array\(1\)/],
    ['data naming another symbol', withData({ symbol: 'ETHUSDT' }), /tickers.BTCUSDT: expected "data.symbol" to be "BTCUSDT", got string "ETHUSDT"/],
    ['a missing symbol', without('symbol'), /expected "data.symbol" to be "BTCUSDT", got nothing/],
    ['a reply whose op is not a string', '{"success":true,"op":5}', /reply: expected "op" as a string, got number 5/],
    ['a reply without success', '{"op":"subscribe","ret_msg":"subscribe"}', /reply to subscribe: expected "success" as a boolean, got nothing/],
  ])('rejects %s', (_name, frame, reason) => {
    expect(reasonOf(parseBybitFrame(frame))).toMatch(reason);
  });

  it('never throws, whatever the text', () => {
    for (const text of ['', '{', '[', '{}', '[]', '{"topic":null}', '{"op":null}', '{"success":1}', '\u0000', '{"topic":"tickers.X","data":null}', '{"topic":"orderbook.1.X","ts":1,"type":"snapshot","data":{"s":"X","b":[null],"a":[]}}']) {
      expect(() => parseBybitFrame(text)).not.toThrow();
    }
  });
});

describe('Bybit adapter: subscribing', () => {
  type Request = { req_id: string; op: string; args: string[] };
  const requests = (a: ExchangeAdapter): Request[] => a.subscribeMessages().map((m) => JSON.parse(m) as Request);

  it('subscribes tickers and orderbook.1 per symbol, at most 10 args a request, req_id increasing across connections', () => {
    const a = adapter({ symbols: ['BTCUSDT', 'ethusdt', ' SOLUSDT', 'BTCUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT'], restUrl: null });
    expect(a.symbols).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT']);
    const first = a.subscribeMessages();
    expect(first[0]).toBe(
      '{"req_id":"sub-1","op":"subscribe","args":["tickers.BTCUSDT","orderbook.1.BTCUSDT","tickers.ETHUSDT","orderbook.1.ETHUSDT","tickers.SOLUSDT","orderbook.1.SOLUSDT","tickers.XRPUSDT","orderbook.1.XRPUSDT","tickers.DOGEUSDT","orderbook.1.DOGEUSDT"]}',
    );
    expect(JSON.parse(first[1]!)).toEqual({ req_id: 'sub-2', op: 'subscribe', args: ['tickers.ADAUSDT', 'orderbook.1.ADAUSDT'] });
    expect(requests(a).map((r) => r.req_id)).toEqual(['sub-3', 'sub-4']);
  });

  it('subscribes every default symbol in requests of at most 10 args', () => {
    const all = requests(adapter({ symbols: BYBIT_DEFAULT_SYMBOLS, restUrl: null }));
    expect(all.every((r) => r.args.length <= 10 && r.op === 'subscribe')).toBe(true);
    expect(all.flatMap((r) => r.args)).toEqual(BYBIT_DEFAULT_SYMBOLS.flatMap((s) => [`tickers.${s}`, `orderbook.1.${s}`]));
  });

  it('puts symbols instruments-info does not list in requests of their own, after loading it', async () => {
    const list = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].map((symbol) => ({ symbol, baseCoin: symbol.slice(0, 3), quoteCoin: 'USDT', status: 'Trading' }));
    const a = adapter({ symbols: ['BTCUSDT', 'NOPEUSDT', 'ETHUSDT', 'SOLUSDT'], fetch: respond({ retCode: 0, retMsg: 'OK', result: { category: 'spot', list } }) });
    expect(await a.loadSymbols(new AbortController().signal)).toMatch(/does not list 1 configured symbols; each is subscribed in a request of its own.*: NOPEUSDT$/);
    expect(requests(a).map((r) => r.args)).toEqual([
      ['tickers.BTCUSDT', 'orderbook.1.BTCUSDT', 'tickers.ETHUSDT', 'orderbook.1.ETHUSDT', 'tickers.SOLUSDT', 'orderbook.1.SOLUSDT'],
      ['tickers.NOPEUSDT', 'orderbook.1.NOPEUSDT'],
    ]);
    expect(a.symbols).toEqual(['BTCUSDT', 'NOPEUSDT', 'ETHUSDT', 'SOLUSDT']);
  });

  it('without metadata, isolates only symbols that cannot be Bybit symbols', () => {
    expect(requests(adapter({ symbols: ['BTCUSDT', 'BTC-USDT', 'ETHUSDT'], restUrl: null })).map((r) => r.args)).toEqual([
      ['tickers.BTCUSDT', 'orderbook.1.BTCUSDT', 'tickers.ETHUSDT', 'orderbook.1.ETHUSDT'],
      ['tickers.BTC-USDT', 'orderbook.1.BTC-USDT'],
    ]);
  });

  it('keeps the args of one connection within 21 000 characters and names the rest', async () => {
    const symbols = Array.from({ length: 600 }, (_, i) => `C${i}USDT`);
    const a = adapter({ symbols, restUrl: null });
    const args = requests(a).flatMap((r) => r.args);
    expect(JSON.stringify(args).length).toBeLessThanOrEqual(BYBIT_MAX_ARGS_CHARS);
    expect(a.symbols.length + a.skippedSymbols.length).toBe(600);
    expect(a.skippedSymbols.length).toBeGreaterThan(0);
    expect(args).toHaveLength(a.symbols.length * 2);
    expect(await a.loadSymbols(new AbortController().signal)).toMatch(new RegExp(`${a.skippedSymbols.length} configured symbols exceed the 21000-character args budget.*${a.skippedSymbols[0]}`));
  });

  it('declares Bybit keep-alive rules: JSON ping every 20 s, 30 s of silence, no rotation', () => {
    const a: ExchangeAdapter = adapter();
    expect(a.clientHeartbeat).toEqual({ intervalMs: 20_000, message: '{"op":"ping"}' });
    expect(a.silenceTimeoutMs).toBe(30_000);
    expect(a.maxConnectionAgeMs).toBeUndefined();
    expect(a.maxMessagesPerSecond).toBe(10);
  });
});

describe('Bybit adapter: symbol metadata', () => {
  const instruments = {
    retCode: 0,
    retMsg: 'OK',
    result: {
      category: 'spot',
      list: [
        { symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT', status: 'Trading' },
        { symbol: 'BTCBRZ', baseCoin: 'BTC', quoteCoin: 'BRZ', status: 'Trading' },
        { symbol: 'ABCDEF', baseCoin: 'ABCD', quoteCoin: 'EF', status: 'PreLaunch' },
        { symbol: 42 },
      ],
    },
    retExtInfo: {},
    time: 1785300000000,
  };

  it('takes base and quote from baseCoin and quoteCoin, and warns about unlisted and non-trading symbols', async () => {
    const a = adapter({ symbols: ['BTCUSDT', 'BTCBRZ', 'ABCDEF', 'NOPEUSDT'], fetch: respond(instruments) });
    const warning = await a.loadSymbols(new AbortController().signal);
    expect(a.symbolInfo('BTCBRZ')).toEqual({ nativeSymbol: 'BTCBRZ', base: 'BTC', quote: 'BRZ' });
    expect(a.symbolInfo('ABCDEF')).toEqual({ nativeSymbol: 'ABCDEF', base: 'ABCD', quote: 'EF' });
    expect(a.symbolInfo('NOPEUSDT')).toEqual({ nativeSymbol: 'NOPEUSDT', base: 'NOPE', quote: 'USDT' });
    expect(warning).toMatch(/does not list 1 configured symbols.*NOPEUSDT/);
    expect(warning).toMatch(/listed but not trading.*ABCDEF \(PreLaunch\)/);
  });

  it('asks the documented endpoint on the configured REST base, with the abort signal', async () => {
    const calls: Array<{ url: string; signal: AbortSignal | null | undefined }> = [];
    const spy: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), signal: init?.signal });
      return new Response(JSON.stringify(instruments));
    };
    const signal = new AbortController().signal;
    await adapter({ restUrl: 'http://127.0.0.1:1/', fetch: spy }).loadSymbols(signal);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/v5/market/instruments-info?category=spot', signal }]);
  });

  it.each([
    ['the request fails', (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch, /fetch failed/],
    ['the server answers 403 (a geo-block)', respond({ message: 'blocked' }, 403), /HTTP 403/],
    ['retCode is not 0', respond({ retCode: 10001, retMsg: 'params error' }), /retCode number 10001: params error/],
    ['the body has no list', respond({ retCode: 0, result: { list: 'many' } }), /expected "result.list" as an array, got string/],
  ])('derives base and quote from the text and warns when %s', async (_name, fetchImpl, reason) => {
    const a = adapter({ symbols: ['BTCUSDT', 'ETHBTC', 'MNTUSDC'], fetch: fetchImpl });
    const warning = await a.loadSymbols(new AbortController().signal);
    expect(warning).toMatch(reason);
    expect(warning).toMatch(/derived from the symbol text/);
    expect(a.symbolInfo('ETHBTC')).toEqual({ nativeSymbol: 'ETHBTC', base: 'ETH', quote: 'BTC' });
    expect(a.symbolInfo('MNTUSDC')).toEqual({ nativeSymbol: 'MNTUSDC', base: 'MNT', quote: 'USDC' });
  });

  it('keeps derived names when the caller gave up waiting before the metadata arrived', async () => {
    const abort = new AbortController();
    const late: typeof fetch = async () => {
      abort.abort();
      return new Response(JSON.stringify(instruments));
    };
    const a = adapter({ symbols: ['ABCDEF'], fetch: late });
    await a.loadSymbols(abort.signal);
    expect(a.symbolInfo('ABCDEF').quote).toBe('UNKNOWN');
  });

  it('names symbols whose quote cannot be derived', async () => {
    expect(await adapter({ symbols: ['BTCUSDT', 'BTCBRZ'], restUrl: null }).loadSymbols(new AbortController().signal)).toMatch(/quote is UNKNOWN: BTCBRZ$/);
  });

  it('has nothing to warn about without a REST base when every symbol splits', async () => {
    expect(await adapter({ restUrl: null }).loadSymbols(new AbortController().signal)).toBeNull();
  });
});
