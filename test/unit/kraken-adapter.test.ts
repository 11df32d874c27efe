import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UNDOCUMENTED_SYMBOLS_PER_CONNECTION, type ExchangeAdapter, type FrameEvent } from '../../src/ingest/adapter';
import {
  KRAKEN_DEFAULT_SYMBOLS,
  KRAKEN_REST_URL,
  KRAKEN_WS_URL,
  commonAssetCode,
  createKrakenAdapter,
  decimalDifference,
  parseKrakenFrame,
  parseKrakenTimestamp,
  splitKrakenSymbol,
  toV2Symbol,
  type KrakenTuning,
} from '../../src/ingest/exchanges/kraken';
import { MarketBook } from '../../src/ingest/market-book';
import { type Market, type TickerPatch } from '../../src/market';
import { listingFetch, type FetchCall } from '../support/listing-fetch';

const fixture = readFileSync(new URL('../fixtures/exchanges/kraken.ticker.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '');

function adapter(overrides: { restUrl?: string | null } & KrakenTuning = {}) {
  const { restUrl, ...tuning } = overrides;
  return createKrakenAdapter({ exchange: 'kraken', wsUrl: KRAKEN_WS_URL, restUrl: restUrl === undefined ? 'https://api.kraken.test' : restUrl }, tuning);
}

function patchesOf(event: FrameEvent | undefined): readonly TickerPatch[] {
  if (event?.kind !== 'tickers') throw new Error(`expected tickers, got ${JSON.stringify(event)}`);
  return event.patches;
}

function reasonOf(event: FrameEvent): string {
  if (event.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(event)}`);
  return event.reason;
}

function errorOf(event: FrameEvent): string {
  if (event.kind !== 'error') throw new Error(`expected error, got ${JSON.stringify(event)}`);
  return event.message;
}

describe('Kraken adapter: replaying the fixture', () => {
  const events = fixture.map((line) => adapter().parse(line));

  it('reads every fixture frame as the kind it is, in order', () => {
    expect(events.map((e) => e.kind)).toEqual([
      'ignored', // status banner (connection_id > 2^53)
      'ack',
      'ack',
      'tickers',
      'tickers',
      'heartbeat',
      'tickers',
      'tickers',
      'heartbeat',
      'heartbeat', // pong
      'tickers',
    ]);
  });

  it('maps the BTC/USD snapshot exactly: open = last - change, quote volume = vwap × volume, µs kept', () => {
    expect(patchesOf(events[3])).toEqual([
      {
        nativeSymbol: 'BTC/USD',
        eventTime: 1785299997233.117,
        fields: {
          price: 96858.5,
          bid: 96858.4,
          ask: 96858.5,
          open24h: 95322.8,
          high24h: 97244.9,
          low24h: 94950,
          volume24h: 1183.51229014,
          quoteVolume24h: 96110.7 * 1183.51229014,
          change24h: 1535.7,
          changePercent24h: 1.61,
        },
      },
    ]);
  });

  it('maps a negative change to an open above the last price', () => {
    expect(patchesOf(events[4])).toEqual([
      {
        nativeSymbol: 'ETH/USD',
        eventTime: 1785299998890.506,
        fields: {
          price: 3351.61,
          bid: 3351.61,
          ask: 3351.62,
          open24h: 3398.7,
          high24h: 3421,
          low24h: 3317.2,
          volume24h: 24418.77401122,
          quoteVolume24h: 3369.58 * 24418.77401122,
          change24h: -47.09,
          changePercent24h: -1.39,
        },
      },
    ]);
  });

  it('maps the updates exactly, with the open derived in decimal (95322.8, not 95322.79999999999)', () => {
    expect(patchesOf(events[6])[0]).toEqual({
      nativeSymbol: 'BTC/USD',
      eventTime: 1785300001434.882,
      fields: { price: 96862.1, bid: 96862, ask: 96862.1, open24h: 95322.8, high24h: 97244.9, low24h: 94950, volume24h: 1183.53729014, quoteVolume24h: 96110.7 * 1183.53729014, change24h: 1539.3, changePercent24h: 1.61 },
    });
    expect(patchesOf(events[7])[0]).toEqual({
      nativeSymbol: 'ETH/USD',
      eventTime: 1785300001625.014,
      fields: { price: 3352.04, bid: 3352.04, ask: 3352.05, open24h: 3398.7, high24h: 3421, low24h: 3317.2, volume24h: 24419.27401122, quoteVolume24h: 3369.58 * 24419.27401122, change24h: -46.66, changePercent24h: -1.37 },
    });
    expect(96859.9 - 1537.1).not.toBe(95322.8); // why the decimal subtraction exists
    expect(patchesOf(events[10])[0]).toEqual({
      nativeSymbol: 'BTC/USD',
      eventTime: 1785300030535.65,
      fields: { price: 96859.9, bid: 96859.9, ask: 96860, open24h: 95322.8, high24h: 97244.9, low24h: 94950, volume24h: 1183.6421493, quoteVolume24h: 96110.7 * 1183.6421493, change24h: 1537.1, changePercent24h: 1.61 },
    });
  });

  it('yields markets whose change and percent are computed from price and the derived open (API.md)', () => {
    const a = adapter();
    const book = new MarketBook('kraken', (symbol) => a.deriveSymbolInfo(symbol));
    const markets: Market[] = [];
    for (const event of events) {
      if (event.kind !== 'tickers') continue;
      for (const patch of event.patches) {
        const market = book.apply(patch, 1);
        if (market) markets.push(market);
      }
    }
    expect(markets).toHaveLength(5);
    const btc = markets[4]!;
    expect(btc).toEqual({
      id: 'kraken:BTC/USD',
      exchange: 'kraken',
      symbol: 'BTC/USD',
      nativeSymbol: 'BTC/USD',
      base: 'BTC',
      quote: 'USD',
      price: 96859.9,
      bid: 96859.9,
      ask: 96860,
      open24h: 95322.8,
      high24h: 97244.9,
      low24h: 94950,
      volume24h: 1183.6421493,
      quoteVolume24h: 96110.7 * 1183.6421493,
      change24h: 96859.9 - 95322.8,
      changePercent24h: ((96859.9 - 95322.8) / 95322.8) * 100,
      spreadPercent: ((96860 - 96859.9) / ((96860 + 96859.9) / 2)) * 100,
      updatedAt: 1785300030535.65,
      receivedAt: 1,
    });
    // Kraken's own change_pct is the same figure rounded to 2 decimals.
    expect(btc.changePercent24h).toBeCloseTo(1.61, 2);
    expect(btc.change24h).toBeCloseTo(1537.1, 9);

    const eth = markets[3]!;
    expect(eth).toMatchObject({ id: 'kraken:ETH/USD', price: 3352.04, open24h: 3398.7, quoteVolume24h: 3369.58 * 24419.27401122 });
    expect(eth.changePercent24h).toBe(((3352.04 - 3398.7) / 3398.7) * 100);
    expect(eth.changePercent24h).toBeCloseTo(-1.37, 2);
  });
});

describe('Kraken adapter: control frames yield no patches', () => {
  it('ignores the online status banner, whatever the size of connection_id', () => {
    expect(parseKrakenFrame(fixture[0]!)).toEqual({ kind: 'ignored' });
    const huge = '{"channel":"status","data":[{"api_version":"v2","connection_id":123456789012345678901234567890,"system":"online","version":"2.0.10"}],"type":"snapshot"}';
    expect(parseKrakenFrame(huge)).toEqual({ kind: 'ignored' });
  });

  it('reports a system status other than online as an exchange error', () => {
    const frame = '{"channel":"status","data":[{"api_version":"v2","connection_id":1,"system":"maintenance","version":"2.0.10"}],"type":"update"}';
    expect(errorOf(parseKrakenFrame(frame))).toBe('Kraken reports system status "maintenance"');
  });

  it('reads heartbeats and pongs as heartbeats', () => {
    expect(parseKrakenFrame('{"channel":"heartbeat"}')).toEqual({ kind: 'heartbeat' });
    expect(parseKrakenFrame('{"method":"pong","time_in":"2026-07-29T04:40:30.124215Z","time_out":"2026-07-29T04:40:30.124226Z"}')).toEqual({ kind: 'heartbeat' });
  });

  it('reads successful subscribe and unsubscribe replies as acks, warnings included', () => {
    expect(parseKrakenFrame(fixture[1]!)).toEqual({ kind: 'ack' });
    expect(parseKrakenFrame('{"method":"unsubscribe","result":{"channel":"ticker","symbol":"BTC/USD"},"success":true}')).toEqual({ kind: 'ack' });
    expect(parseKrakenFrame('{"method":"subscribe","result":{"channel":"ticker","symbol":"BTC/USD","warnings":["event_trigger is deprecated"]},"success":true}')).toEqual({ kind: 'ack' });
  });

  it('turns a rejected symbol into an error naming the symbol, the reason and the request', () => {
    const frame = '{"error":"Currency pair not supported XBT/USD","method":"subscribe","req_id":42,"success":false,"symbol":"XBT/USD","time_in":"2026-07-29T04:40:00.224402Z","time_out":"2026-07-29T04:40:00.224431Z"}';
    expect(errorOf(parseKrakenFrame(frame))).toBe('Kraken rejected subscribe XBT/USD: Currency pair not supported XBT/USD (req_id 42)');
    expect(errorOf(parseKrakenFrame('{"error":"Exceeded msg rate","method":"subscribe","success":false}'))).toBe('Kraken rejected subscribe: Exceeded msg rate');
    expect(errorOf(parseKrakenFrame('{"method":"subscribe","success":false,"symbol":"BTC/USD"}'))).toBe('Kraken rejected subscribe BTC/USD: no error text (error: nothing)');
  });

  it('turns a refused request (method "error") into an error', () => {
    expect(errorOf(parseKrakenFrame('{"error":"Malformed request","method":"error","success":false}'))).toBe('Kraken refused a request: Malformed request');
  });

  it('ignores channels it does not read', () => {
    expect(parseKrakenFrame('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":1}]}')).toEqual({ kind: 'ignored' });
    expect(parseKrakenFrame('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[]}}')).toEqual({ kind: 'ignored' });
  });

  it('reads an empty ticker data array as a quiet data frame', () => {
    expect(parseKrakenFrame('{"channel":"ticker","type":"update","data":[]}')).toEqual({ kind: 'tickers', patches: [] });
  });
});

describe('Kraken adapter: malformed frames are invalid with a reason', () => {
  const snapshot = JSON.parse(fixture[3]!) as { data: Array<Record<string, unknown>> };
  const entry = snapshot.data[0]!;
  const withFields = (fields: Record<string, unknown>): string => JSON.stringify({ channel: 'ticker', type: 'snapshot', data: [{ ...entry, ...fields }] });
  const without = (key: string): string => {
    const copy = { ...entry };
    delete copy[key];
    return JSON.stringify({ channel: 'ticker', type: 'update', data: [copy] });
  };

  it.each([
    ['a frame that is not JSON', 'hello', /not JSON/],
    ['truncated JSON', '{"channel":"ticker","type":"upd', /not JSON/],
    ['a JSON array', '[1,2]', /expected a JSON object, got array\(2\)/],
    ['JSON null', 'null', /expected a JSON object, got null/],
    ['an object of unknown shape', '{"foo":1}', /unrecognized frame: expected "channel" or "method"; keys: foo/],
    ['an empty object', '{}', /keys: none/],
    ['a channel that is not a string', '{"channel":7}', /expected "channel" as a string, got number 7/],
    ['a method that is not a string', '{"method":null}', /expected "method" as a string, got null/],
    ['a reply without success', '{"method":"subscribe","result":{}}', /reply to "subscribe": expected "success" as a boolean, got nothing/],
    ['a status without data', '{"channel":"status","type":"update"}', /status: expected "data" as a non-empty array, got nothing/],
    ['a status without system', '{"channel":"status","data":[{"api_version":"v2"}],"type":"update"}', /status: expected data\[0\].system as a string, got nothing/],
    ['an unknown ticker type', JSON.stringify({ ...snapshot, type: 'delta' }), /ticker: expected "type" to be snapshot or update, got string "delta"/],
    ['ticker data that is an object', JSON.stringify({ channel: 'ticker', type: 'update', data: entry }), /ticker update: expected "data" as an array, got object/],
    ['a ticker element that is not an object', '{"channel":"ticker","type":"update","data":[5]}', /data\[0\]: expected a ticker object, got number 5/],
    ['a ticker without a symbol', without('symbol'), /data\[0\]: expected "symbol" as a non-empty string, got nothing/],
    ['a ticker without its last price', without('last'), /BTC\/USD: required field "last" \(last trade price\) is missing/],
    ['a last price sent as a string', withFields({ last: '96858.5' }), /expected "last" \(last trade price\) as a finite JSON number, got string "96858.5"/],
    ['a last price of null', withFields({ last: null }), /"last" .* got null/],
    ['an overflowing last price', withFields({ last: 1e999 }).replace('null', '1e999'), /"last" .* got number Infinity/],
    ['a zero last price', withFields({ last: 0 }), /"last" \(last trade price\) must be positive, got number 0/],
    ['a negative last price', withFields({ last: -1 }), /must be positive, got number -1/],
    ['a bid sent as a string', withFields({ bid: '96858.4' }), /expected "bid" \(best bid\) as a finite JSON number, got string/],
    ['a volume of the wrong type', withFields({ volume: [1] }), /expected "volume" \(24h base volume\) .* got array\(1\)/],
    ['a change_pct of the wrong type', withFields({ change_pct: true }), /"change_pct" \(24h change percent\) .* got boolean true/],
    ['a change that would make the open non-positive', withFields({ change: 96858.5 }), /"change" 96858.5 is not below "last" 96858.5/],
    ['a ticker without a timestamp', without('timestamp'), /BTC\/USD: expected "timestamp" as an RFC 3339 string, got nothing/],
    ['a timestamp sent as a number', withFields({ timestamp: 1785299997233 }), /expected "timestamp" as an RFC 3339 string, got number/],
    ['a timestamp that is not RFC 3339', withFields({ timestamp: '29/07/2026 04:39' }), /"timestamp" is not a valid RFC 3339 time after 1970: string "29\/07\/2026 04:39"/],
    ['a timestamp at epoch 0', withFields({ timestamp: '1970-01-01T00:00:00.000000Z' }), /"timestamp" is not a valid/],
    ['one bad element among good ones', JSON.stringify({ channel: 'ticker', type: 'update', data: [entry, { ...entry, symbol: 'ETH/USD', high: 'x' }] }), /data\[1\]: ETH\/USD: expected "high" \(24h high\)/],
  ])('rejects %s', (_name, frame, reason) => {
    expect(reasonOf(parseKrakenFrame(frame))).toMatch(reason);
  });

  it('reads a zero bid or ask as an empty book side, not a price of 0', () => {
    const [patch] = patchesOf(parseKrakenFrame(withFields({ bid: 0, ask: 0 })));
    expect(patch?.fields.bid).toBeNull();
    expect(patch?.fields.ask).toBeNull();
  });

  it('leaves out optional fields the frame does not carry; without change there is no open', () => {
    const [patch] = patchesOf(parseKrakenFrame(without('change')));
    expect(patch?.fields).not.toHaveProperty('change24h');
    expect(patch?.fields).not.toHaveProperty('open24h');
    expect(patch?.fields.changePercent24h).toBe(1.61); // then the exchange's own percent is used
  });

  it('has no quote volume without vwap or without volume', () => {
    for (const missing of ['vwap', 'volume']) expect(patchesOf(parseKrakenFrame(without(missing)))[0]?.fields.quoteVolume24h, missing).toBeNull();
  });

  it('rejects a vwap that is not a finite number, or a product that overflows', () => {
    expect(parseKrakenFrame(withFields({ vwap: 'n/a' }))).toMatchObject({ kind: 'invalid' });
    expect(parseKrakenFrame(withFields({ vwap: 1e200, volume: 1e200 }))).toMatchObject({ kind: 'invalid' });
  });

  it('ignores fields it does not map (quantities, unknown fields), whatever they hold', () => {
    expect(patchesOf(parseKrakenFrame(withFields({ bid_qty: null, ask_qty: 'x', extra: {} })))).toHaveLength(1);
  });

  it('never throws, whatever the text', () => {
    for (const text of ['', '{', '[', '{}', '[]', '"x"', '1', '{"channel":null}', '{"channel":"ticker"}', '{"channel":"ticker","type":"update","data":[null]}', '{"method":"pong","x":1e999}', '\u0000']) {
      expect(() => parseKrakenFrame(text)).not.toThrow();
    }
  });
});

describe('Kraken adapter: asset codes and symbols', () => {
  it('maps the legacy codes XBT and XDG to the common codes, and nothing else', () => {
    expect(commonAssetCode('XBT')).toBe('BTC');
    expect(commonAssetCode('xbt')).toBe('BTC');
    expect(commonAssetCode('XDG')).toBe('DOGE');
    for (const code of ['XRP', 'XLM', 'XTZ', 'ZEC', 'BTC', 'USD', 'XXBT']) expect(commonAssetCode(code)).toBe(code);
  });

  it('splits on "/" only, keeping the case of tokenized assets', () => {
    expect(splitKrakenSymbol('XBT/EUR')).toEqual({ base: 'BTC', quote: 'EUR' });
    expect(splitKrakenSymbol('ETH/XBT')).toEqual({ base: 'ETH', quote: 'BTC' });
    expect(splitKrakenSymbol('AAPLx/USD')).toEqual({ base: 'AAPLx', quote: 'USD' });
    for (const bad of ['BTCUSD', 'BTC/', '/USD', 'A/B/C', 'BTC-USD']) expect(splitKrakenSymbol(bad)).toBeNull();
    expect(toV2Symbol('XBT/USD')).toBe('BTC/USD');
    expect(toV2Symbol('XDG/XBT')).toBe('DOGE/BTC');
    expect(toV2Symbol('BTCUSD')).toBe('BTCUSD');
  });

  it('spells configured symbols in v2, keeping their case, once each, and names every rewrite in a warning', () => {
    expect(adapter().normalizeSymbols([' XBT/USD', 'BTC/USD', 'XDG/USD', 'ETH/USD', 'AAPLx/USD', 'xbt/eur', ''])).toEqual({
      symbols: ['BTC/USD', 'DOGE/USD', 'ETH/USD', 'AAPLx/USD', 'BTC/eur'],
      warnings: ['Kraken v2 rejects legacy asset codes, so these configured symbols are subscribed in v2 spelling: XBT/USD -> BTC/USD, XDG/USD -> DOGE/USD, xbt/eur -> BTC/eur'],
    });
  });

  it('has nothing to warn about when every configured symbol is in v2 spelling', () => {
    expect(adapter().normalizeSymbols(['BTC/USD', 'ETH/USD '])).toEqual({ symbols: ['BTC/USD', 'ETH/USD'], warnings: [] });
  });

  it('names markets in common codes even for a wire symbol in legacy spelling', () => {
    const a = adapter({ restUrl: null });
    expect(a.deriveSymbolInfo('BTC/USD')).toEqual({ nativeSymbol: 'BTC/USD', base: 'BTC', quote: 'USD' });
    expect(a.deriveSymbolInfo('XBT/EUR')).toEqual({ nativeSymbol: 'XBT/EUR', base: 'BTC', quote: 'EUR' });
    expect(a.deriveSymbolInfo('AAPLx/USD')).toEqual({ nativeSymbol: 'AAPLx/USD', base: 'AAPLX', quote: 'USD' });
    expect(a.deriveSymbolInfo('WEIRD')).toEqual({ nativeSymbol: 'WEIRD', base: 'WEIRD', quote: 'UNKNOWN' });
    expect(a.deriveSymbolInfo('XBT/EUR')).toBe(a.deriveSymbolInfo('XBT/EUR'));
  });
});

describe('Kraken adapter: timestamps', () => {
  it('keeps microseconds as a fraction of a millisecond, which Date.parse drops', () => {
    expect(parseKrakenTimestamp('2026-07-29T04:39:57.233117Z')).toBe(1785299997233.117);
    expect(Date.parse('2026-07-29T04:39:57.233117Z')).toBe(1785299997233);
    expect(parseKrakenTimestamp('2026-07-29T04:40:30.535650Z')).toBe(1785300030535.65);
    expect(parseKrakenTimestamp('2026-07-29T04:40:30.000001Z')! - 1785300030000).toBeCloseTo(0.001, 3);
  });

  it('reads whole seconds, short and nanosecond fractions, offsets and lower-case separators', () => {
    expect(parseKrakenTimestamp('2026-07-29T04:39:57Z')).toBe(1785299997000);
    expect(parseKrakenTimestamp('2026-07-29T04:39:57.5Z')).toBe(1785299997500);
    expect(parseKrakenTimestamp('2026-07-29T04:39:57.233117900Z')).toBe(1785299997233.1179);
    expect(parseKrakenTimestamp('2026-07-29T06:39:57.233117+02:00')).toBe(1785299997233.117);
    expect(parseKrakenTimestamp('2026-07-28T23:09:57.233-05:30')).toBe(1785299997233);
    expect(parseKrakenTimestamp('2026-07-29t04:39:57.233117z')).toBe(1785299997233.117);
  });

  it.each([
    ['no time zone', '2026-07-29T04:39:57.233117'],
    ['a date only', '2026-07-29'],
    ['February 30th', '2026-02-30T00:00:00Z'],
    ['hour 24', '2026-07-29T24:00:00Z'],
    ['a leap second', '2026-06-30T23:59:60Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['a bad offset', '2026-07-29T04:39:57+24:00'],
    ['a year before 1970', '1969-12-31T23:59:59Z'],
    ['an empty fraction', '2026-07-29T04:39:57.Z'],
    ['surrounding spaces', ' 2026-07-29T04:39:57Z'],
  ])('rejects %s', (_name, text) => {
    expect(parseKrakenTimestamp(text)).toBeNull();
  });
});

describe('Kraken adapter: decimal difference', () => {
  it.each([
    [96859.9, 1537.1, 95322.8],
    [3351.61, -47.09, 3398.7],
    [0.21432, 0.00512, 0.2092],
    [1e-7, 3e-8, 7e-8],
    [1.5e21, 1, 1.5e21],
    [5, 5, 0],
    [1, 2.5, -1.5],
  ])('%s - %s = %s exactly', (a, b, expected) => {
    expect(decimalDifference(a, b)).toBe(expected);
  });
});

describe('Kraken adapter: subscribing, limits and keep-alive', () => {
  it('sends one ticker subscribe per batch of the given symbols, in the documented shape, req_ids increasing across calls', () => {
    const a = adapter({ symbolsPerMessage: 2 });
    const params = (symbol: string[]) => ({ channel: 'ticker', symbol, event_trigger: 'trades', snapshot: true });
    expect(a.subscribeMessages(['BTC/USD', 'ETH/USD', 'SOL/USD']).map((m) => JSON.parse(m))).toEqual([
      { method: 'subscribe', params: params(['BTC/USD', 'ETH/USD']), req_id: 1 },
      { method: 'subscribe', params: params(['SOL/USD']), req_id: 2 },
    ]);
    // Another connection, or symbols added to a live one: the req_ids go on.
    expect(a.subscribeMessages(['AAPLx/USD']).map((m) => JSON.parse(m))).toEqual([{ method: 'subscribe', params: params(['AAPLx/USD']), req_id: 3 }]);
    expect(a.subscribeMessages([])).toEqual([]);
  });

  it('puts up to 100 symbols in one request by default', () => {
    const symbols = Array.from({ length: 250 }, (_, i) => `C${i}/USD`);
    const sizes = adapter().subscribeMessages(symbols).map((m) => (JSON.parse(m) as { params: { symbol: string[] } }).params.symbol.length);
    expect(sizes).toEqual([100, 100, 50]);
  });

  it('carries its own cap of symbols per connection, since Kraken documents none', () => {
    const { capacity } = adapter();
    expect(capacity.perConnection).toBe(UNDOCUMENTED_SYMBOLS_PER_CONNECTION);
    expect(capacity.cost('BTC/USD')).toBe(1);
  });

  it('declares Kraken limits and keep-alive rules: 150 connections per 10 min, JSON ping every 20 s, 10 s of silence, a low message rate, no rotation', () => {
    const a: ExchangeAdapter = adapter();
    expect(a.connectionRate).toEqual({ limit: 150, windowMs: 600_000 });
    expect(a.messageRatePerIp).toBeUndefined();
    expect(a.clientHeartbeat).toEqual({ intervalMs: 20_000, message: '{"method":"ping"}' });
    expect(a.silenceTimeoutMs).toBe(10_000);
    expect(a.maxMessagesPerSecond).toBe(5);
    expect(a.maxConnectionAgeMs).toBeUndefined();
    expect(adapter({ pingIntervalMs: 50 }).clientHeartbeat.intervalMs).toBe(50);
  });

  it('has public defaults: the v2 endpoint, the REST base and about 20 liquid pairs in v2 spelling', () => {
    expect(KRAKEN_WS_URL).toBe('wss://ws.kraken.com/v2');
    expect(KRAKEN_REST_URL).toBe('https://api.kraken.com');
    expect(KRAKEN_DEFAULT_SYMBOLS.length).toBeGreaterThanOrEqual(20);
    for (const symbol of KRAKEN_DEFAULT_SYMBOLS) {
      expect(symbol).toMatch(/^[A-Z0-9]+\/[A-Z0-9]+$/);
      expect(toV2Symbol(symbol)).toBe(symbol);
    }
    expect(new Set(KRAKEN_DEFAULT_SYMBOLS).size).toBe(KRAKEN_DEFAULT_SYMBOLS.length);
  });
});

describe('Kraken adapter: the listing (AssetPairs)', () => {
  const pair = (altname: string, wsname: string | undefined, base: string, quote: string, status: unknown = 'online') => ({
    altname,
    wsname,
    aclass_base: 'currency',
    base,
    aclass_quote: 'currency',
    quote,
    pair_decimals: 1,
    ordermin: '0.0001',
    status,
  });
  const assetPairs = {
    error: [],
    result: {
      XXBTZUSD: pair('XBTUSD', 'XBT/USD', 'XXBT', 'ZUSD'),
      XETHXXBT: pair('ETHXBT', 'ETH/XBT', 'XETH', 'XXBT'),
      XDGUSD: pair('XDGUSD', 'XDG/USD', 'XXDG', 'ZUSD', 'cancel_only'),
      AAPLXUSD: pair('AAPLxUSD', 'AAPLx/USD', 'AAPLx', 'ZUSD'),
      SOLEUR: pair('SOLEUR', 'SOL/EUR', 'SOL', 'ZEUR', 'some_new_state'),
      OLDUSD: pair('OLDUSD', 'OLD/USD', 'OLD', 'ZUSD', 'delisted'),
      'XXBTZUSD.d': pair('XBTUSD.d', undefined, 'XXBT', 'ZUSD'),
      NOSTATUS: pair('NOUSD', 'NO/USD', 'NO', 'ZUSD', null),
      BADNAME: pair('BAD', 'BADNAME', 'BAD', 'ZUSD'),
      junk: 42,
    },
  };

  it('lists every pair under its v2 symbol, names in common codes, trading only when online', async () => {
    expect(await adapter({ fetch: listingFetch(assetPairs) }).fetchListing(new AbortController().signal)).toEqual([
      { nativeSymbol: 'BTC/USD', base: 'BTC', quote: 'USD', status: 'online', trading: true },
      { nativeSymbol: 'ETH/BTC', base: 'ETH', quote: 'BTC', status: 'online', trading: true },
      { nativeSymbol: 'DOGE/USD', base: 'DOGE', quote: 'USD', status: 'cancel_only', trading: false },
      { nativeSymbol: 'AAPLx/USD', base: 'AAPLX', quote: 'USD', status: 'online', trading: true },
      { nativeSymbol: 'SOL/EUR', base: 'SOL', quote: 'EUR', status: 'some_new_state', trading: false },
      { nativeSymbol: 'OLD/USD', base: 'OLD', quote: 'USD', status: 'delisted', trading: false },
    ]);
  });

  it('asks /0/public/AssetPairs on the configured REST base with the abort signal', async () => {
    const calls: FetchCall[] = [];
    const signal = new AbortController().signal;
    await adapter({ restUrl: 'http://127.0.0.1:1/', fetch: listingFetch(assetPairs, 200, calls) }).fetchListing(signal);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:1/0/public/AssetPairs', signal }]);
  });

  it.each([
    ['the server answers 503', listingFetch({ error: ['EService:Unavailable'] }, 503), /AssetPairs: HTTP 503/],
    ['the body is HTML', listingFetch('<html>Attention Required! | Cloudflare</html>'), /not JSON.*Cloudflare/],
    ['Kraken reports an error in the body', listingFetch({ error: ['EService:Unavailable', 7], result: {} }), /AssetPairs: Kraken answered EService:Unavailable, number 7/],
    ['the body has no error list', listingFetch({ result: {} }), /AssetPairs: expected "error" as an array, got nothing/],
    ['the body has no result', listingFetch({ error: [] }), /AssetPairs: expected "result" as an object, got nothing/],
    ['the result is a list', listingFetch({ error: [], result: [] }), /AssetPairs: expected "result" as an object, got array\(0\)/],
    ['the body is not an object', listingFetch([1]), /AssetPairs: expected a JSON object, got array\(1\)/],
    ['no pair can be read', listingFetch({ error: [], result: { A: { altname: 'AUSD' }, B: 'b' } }), /AssetPairs: none of its 2 entries could be read/],
  ])('throws when %s', async (_name, fetchImpl, message) => {
    await expect(adapter({ fetch: fetchImpl }).fetchListing(new AbortController().signal)).rejects.toThrow(message);
  });

  it('throws when no REST base is configured', async () => {
    await expect(adapter({ restUrl: null }).fetchListing(new AbortController().signal)).rejects.toThrow('no REST URL is configured');
  });
});

describe('Kraken ack warnings', () => {
  it('passes the warnings an ack carries on to the feed', () => {
    const ack = '{"method":"subscribe","result":{"channel":"ticker","symbol":"BTC/USD"},"success":true,"warnings":["channel ticker event_trigger bbo is deprecated"],"time_in":"2026-07-29T04:40:00.224402Z","time_out":"2026-07-29T04:40:00.224431Z"}';
    expect(parseKrakenFrame(ack)).toEqual({ kind: 'ack', warnings: ['channel ticker event_trigger bbo is deprecated'] });
  });
});
