import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExchangeAdapter, FrameEvent } from '../../src/ingest/adapter';
import {
  BYBIT_DEFAULT_SYMBOLS,
  BYBIT_MAX_ARGS_CHARS,
  BYBIT_WS_URL,
  bybitArgsCost,
  createBybitAdapter,
  parseBybitFrame,
} from '../../src/ingest/exchanges/bybit';
import { MarketBook } from '../../src/ingest/market-book';
import { type TickerPatch } from '../../src/market';
import { listingFetch, type FetchCall } from '../support/listing-fetch';

const fixture = readFileSync(new URL('../fixtures/exchanges/bybit.ticker.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '');

function adapter(overrides: { restUrl?: string | null; fetch?: typeof fetch } = {}) {
  return createBybitAdapter(
    {
      exchange: 'bybit',
      wsUrl: BYBIT_WS_URL,
      restUrl: overrides.restUrl === undefined ? 'https://api.bybit.test' : overrides.restUrl,
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
    const marketBook = new MarketBook('bybit', (s) => adapter().deriveSymbolInfo(s));
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
    const a = adapter();
    const [, second] = a.subscribeMessages(['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT']).map((m) => JSON.parse(m) as { req_id: string });
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
    const marketBook = new MarketBook('bybit', (s) => adapter().deriveSymbolInfo(s));
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
    const marketBook = new MarketBook('bybit', (s) => adapter().deriveSymbolInfo(s));
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
  const requests = (a: ExchangeAdapter, symbols: readonly string[]): Request[] => a.subscribeMessages(symbols).map((m) => JSON.parse(m) as Request);
  const topics = (symbol: string): string[] => [`tickers.${symbol}`, `orderbook.1.${symbol}`];

  it('subscribes tickers and orderbook.1 per symbol, at most 10 args a request, req_id increasing across calls', () => {
    const a = adapter();
    const first = a.subscribeMessages(['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT']);
    expect(first[0]).toBe(
      '{"req_id":"sub-1","op":"subscribe","args":["tickers.BTCUSDT","orderbook.1.BTCUSDT","tickers.ETHUSDT","orderbook.1.ETHUSDT","tickers.SOLUSDT","orderbook.1.SOLUSDT","tickers.XRPUSDT","orderbook.1.XRPUSDT","tickers.DOGEUSDT","orderbook.1.DOGEUSDT"]}',
    );
    expect(JSON.parse(first[1]!)).toEqual({ req_id: 'sub-2', op: 'subscribe', args: ['tickers.ADAUSDT', 'orderbook.1.ADAUSDT'] });
    // Another connection, or symbols added to a live one: the req_ids go on.
    expect(requests(a, ['LTCUSDT']).map((r) => r.req_id)).toEqual(['sub-3']);
    expect(a.subscribeMessages([])).toEqual([]);
  });

  it('subscribes every default symbol in requests of at most 10 args', () => {
    const all = requests(adapter(), BYBIT_DEFAULT_SYMBOLS);
    expect(all.every((r) => r.args.length <= 10 && r.op === 'subscribe')).toBe(true);
    expect(all.flatMap((r) => r.args)).toEqual(BYBIT_DEFAULT_SYMBOLS.flatMap(topics));
  });

  it('before any listing is known, isolates only symbols that cannot be Bybit symbols', () => {
    expect(requests(adapter(), ['BTCUSDT', 'BTC-USDT', 'ETHUSDT', 'ethusdt']).map((r) => r.args)).toEqual([
      [...topics('BTCUSDT'), ...topics('ETHUSDT')],
      topics('BTC-USDT'),
      topics('ethusdt'),
    ]);
  });

  it('once told the listing, puts each symbol it does not name last, in a request of its own', () => {
    const a = adapter();
    a.useListing(new Set(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']));
    expect(requests(a, ['BTCUSDT', 'NOPEUSDT', 'ETHUSDT', 'GONEUSDT', 'SOLUSDT']).map((r) => r.args)).toEqual([
      [...topics('BTCUSDT'), ...topics('ETHUSDT'), ...topics('SOLUSDT')],
      topics('NOPEUSDT'),
      topics('GONEUSDT'),
    ]);
    // A newer listing replaces the older one.
    a.useListing(new Set(['NOPEUSDT']));
    expect(requests(a, ['NOPEUSDT', 'BTCUSDT']).map((r) => r.args)).toEqual([topics('NOPEUSDT'), topics('BTCUSDT')]);
  });

  it('costs a symbol the characters its two topics add to the args, within 21 000 per connection', () => {
    const { capacity } = adapter();
    expect(capacity.perConnection).toBe(BYBIT_MAX_ARGS_CHARS);
    expect(capacity.cost).toBe(bybitArgsCost);
    // "tickers.BTCUSDT" is 17 characters as JSON, "orderbook.1.BTCUSDT" 21, each plus a separator.
    expect(capacity.cost('BTCUSDT')).toBe(18 + 22);
    expect(capacity.cost('1000SATSUSDT')).toBe(capacity.cost('BTCUSDT') + 2 * 5);
  });

  it('never exceeds 21 000 characters of args on a connection filled up to its capacity', () => {
    const { capacity } = adapter();
    const symbols: string[] = [];
    let used = 0;
    for (let i = 0; used + capacity.cost(`C${i}USDT`) <= capacity.perConnection; i++) {
      symbols.push(`C${i}USDT`);
      used += capacity.cost(`C${i}USDT`);
    }
    const args = requests(adapter(), symbols).flatMap((r) => r.args);
    expect(args).toHaveLength(symbols.length * 2);
    expect(JSON.stringify(args).length).toBeLessThanOrEqual(BYBIT_MAX_ARGS_CHARS);
  });

  it('declares Bybit limits and keep-alive rules: 500 connections per 5 min, JSON ping every 20 s, 30 s of silence, no rotation', () => {
    const a: ExchangeAdapter = adapter();
    expect(a.connectionRate).toEqual({ limit: 500, windowMs: 300_000 });
    expect(a.messageRatePerIp).toBeUndefined();
    expect(a.clientHeartbeat).toEqual({ intervalMs: 20_000, message: '{"op":"ping"}' });
    expect(a.silenceTimeoutMs).toBe(30_000);
    expect(a.maxConnectionAgeMs).toBeUndefined();
    expect(a.maxMessagesPerSecond).toBe(10);
  });
});

describe('Bybit adapter: configured symbols and names from the text', () => {
  it('trims, upper-cases and de-duplicates a configured list, with nothing to warn about', () => {
    expect(adapter().normalizeSymbols(['BTCUSDT', 'ethusdt', ' SOLUSDT', 'BTCUSDT', ''])).toEqual({ symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], warnings: [] });
  });

  it('splits a symbol on its longest known quote suffix, or gives it the quote UNKNOWN', () => {
    const a = adapter();
    expect(a.deriveSymbolInfo('ETHBTC')).toEqual({ nativeSymbol: 'ETHBTC', base: 'ETH', quote: 'BTC' });
    expect(a.deriveSymbolInfo('MNTUSDC')).toEqual({ nativeSymbol: 'MNTUSDC', base: 'MNT', quote: 'USDC' });
    expect(a.deriveSymbolInfo('BTCBRZ')).toEqual({ nativeSymbol: 'BTCBRZ', base: 'BTCBRZ', quote: 'UNKNOWN' });
  });
});

describe('Bybit adapter: the listing (instruments-info)', () => {
  const instruments = {
    retCode: 0,
    retMsg: 'OK',
    result: {
      category: 'spot',
      list: [
        { symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT', innovation: '0', status: 'Trading', marginTrading: 'utaOnly', lotSizeFilter: {}, priceFilter: { tickSize: '0.01' } },
        { symbol: 'BTCBRZ', baseCoin: 'BTC', quoteCoin: 'BRZ', status: 'Trading' },
        { symbol: 'ABCDEF', baseCoin: 'ABCD', quoteCoin: 'EF', status: 'PreLaunch' },
        { symbol: 'OLDUSDT', baseCoin: 'OLD', quoteCoin: 'USDT', status: 'Closed' },
        { symbol: 42, status: 'Trading' },
        { symbol: 'NOSTATUS', baseCoin: 'NO', quoteCoin: 'STATUS' },
      ],
    },
    retExtInfo: {},
    time: 1785300000000,
  };

  it('lists every instrument with its names and status, trading only when Trading', async () => {
    expect(await adapter({ fetch: listingFetch(instruments) }).fetchListing(new AbortController().signal)).toEqual([
      { nativeSymbol: 'BTCUSDT', base: 'BTC', quote: 'USDT', status: 'Trading', trading: true },
      { nativeSymbol: 'BTCBRZ', base: 'BTC', quote: 'BRZ', status: 'Trading', trading: true },
      { nativeSymbol: 'ABCDEF', base: 'ABCD', quote: 'EF', status: 'PreLaunch', trading: false },
      { nativeSymbol: 'OLDUSDT', base: 'OLD', quote: 'USDT', status: 'Closed', trading: false },
    ]);
  });

  it('asks the documented endpoint on the configured REST base, with the abort signal', async () => {
    const calls: FetchCall[] = [];
    const signal = new AbortController().signal;
    await adapter({ restUrl: 'http://127.0.0.1:1/', fetch: listingFetch(instruments, 200, calls) }).fetchListing(signal);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/v5/market/instruments-info?category=spot', signal }]);
  });

  it.each([
    ['the server answers 403 (a geo-block)', listingFetch({ message: 'blocked' }, 403), /instruments-info\?category=spot: HTTP 403/],
    ['the body is HTML', listingFetch('<!DOCTYPE html><title>403 Forbidden</title>'), /not JSON.*<!DOCTYPE html>/],
    ['retCode is not 0', listingFetch({ retCode: 10001, retMsg: 'params error' }), /instruments-info: retCode number 10001: params error/],
    ['the body has no list', listingFetch({ retCode: 0, result: { list: 'many' } }), /instruments-info: expected "result.list" as an array, got string/],
    ['the body has no result', listingFetch({ retCode: 0 }), /expected "result.list" as an array, got result: nothing/],
    ['the body is a string', listingFetch('"maintenance"'), /instruments-info: expected a JSON object, got string/],
    ['no entry can be read', listingFetch({ retCode: 0, result: { list: [{ name: 'BTCUSDT' }] } }), /instruments-info: none of its 1 entries could be read/],
  ])('throws when %s', async (_name, fetchImpl, message) => {
    await expect(adapter({ fetch: fetchImpl }).fetchListing(new AbortController().signal)).rejects.toThrow(message);
  });

  it('throws when no REST base is configured', async () => {
    await expect(adapter({ restUrl: null }).fetchListing(new AbortController().signal)).rejects.toThrow('no REST URL is configured');
  });
});
