import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UNDOCUMENTED_SYMBOLS_PER_CONNECTION, type ExchangeAdapter, type FrameEvent } from '../../src/ingest/adapter';
import {
  COINBASE_DEFAULT_SYMBOLS,
  COINBASE_PRODUCTS_PER_PAGE,
  COINBASE_RATE_LIMIT_RETRY_MS,
  COINBASE_REST_URL,
  COINBASE_WS_URL,
  createCoinbaseAdapter,
  parseCoinbaseFrame,
  parseRfc3339Millis,
  readCoinbaseFrame,
  splitProductId,
  type CoinbaseTuning,
} from '../../src/ingest/exchanges/coinbase';
import type { TickerPatch } from '../../src/market';
import { listingFetch, type FetchCall } from '../support/listing-fetch';

const fixtureText = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/exchanges/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
const fixture = fixtureText('coinbase.ticker.jsonl');

function adapter(overrides: { restUrl?: string | null } & CoinbaseTuning = {}) {
  const { restUrl, ...tuning } = overrides;
  return createCoinbaseAdapter({ exchange: 'coinbase', wsUrl: COINBASE_WS_URL, restUrl: restUrl === undefined ? 'https://api.coinbase.test' : restUrl }, tuning);
}

function patchesOf(event: FrameEvent): readonly TickerPatch[] {
  if (event.kind !== 'tickers') throw new Error(`expected tickers, got ${JSON.stringify(event)}`);
  return event.patches;
}

function reasonOf(event: FrameEvent): string {
  if (event.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(event)}`);
  return event.reason;
}

/** 2026-07-29T04:40:00Z, the second the fixture starts in. */
const T0 = Date.UTC(2026, 6, 29, 4, 40, 0);
/** Fields Coinbase never sends and nothing derives exactly. */
const NEVER_SENT = { open24h: null, quoteVolume24h: null, change24h: null };

describe('Coinbase adapter: replaying the fixture', () => {
  const a = adapter();
  const events = fixture.map((line) => a.parse(line));

  it('reads every fixture frame as the kind it is, in order', () => {
    expect(events.map((e) => e.kind)).toEqual(['tickers', 'tickers', 'ack', 'ack', 'heartbeat', 'tickers', 'tickers', 'heartbeat', 'tickers']);
    expect(a.sequenceGaps).toEqual({ gaps: 0, missedMessages: 0 });
    expect(a.unconfirmedSymbols(['BTC-USD', 'ETH-USD'])).toEqual([]);
  });

  it('maps the BTC-USD snapshot to the exact normalized fields, keeping sub-millisecond time', () => {
    expect(patchesOf(events[0]!)).toEqual([
      {
        nativeSymbol: 'BTC-USD',
        eventTime: T0 + 333 + 0.418553,
        fields: {
          price: 96861.37,
          bid: 96861.36,
          ask: 96861.37,
          high24h: 97240,
          low24h: 94955.12,
          volume24h: 7321.55617264,
          changePercent24h: 1.60530119157437,
          ...NEVER_SENT,
        },
      },
    ]);
  });

  it('maps the ETH-USD snapshot with its negative percent change as sent', () => {
    expect(patchesOf(events[1]!)).toEqual([
      {
        nativeSymbol: 'ETH-USD',
        eventTime: T0 + 333 + 0.433017,
        fields: {
          price: 3351.88,
          bid: 3351.87,
          ask: 3351.88,
          high24h: 3420.99,
          low24h: 3317.4,
          volume24h: 141120.81133709,
          changePercent24h: -1.37787572343624,
          ...NEVER_SENT,
        },
      },
    ]);
  });

  it('maps every update frame', () => {
    expect(patchesOf(events[5]!)).toEqual([
      {
        nativeSymbol: 'BTC-USD',
        eventTime: T0 + 1327 + 0.03772,
        fields: { price: 96864.01, bid: 96864, ask: 96864.01, high24h: 97240, low24h: 94955.12, volume24h: 7321.59862114, changePercent24h: 1.60807048954265, ...NEVER_SENT },
      },
    ]);
    expect(patchesOf(events[6]!)).toEqual([
      {
        nativeSymbol: 'ETH-USD',
        eventTime: T0 + 1500 + 0.591006,
        fields: { price: 3352.05, bid: 3352.04, ask: 3352.05, high24h: 3420.99, low24h: 3317.4, volume24h: 141122.02455031, changePercent24h: -1.37287382565738, ...NEVER_SENT },
      },
    ]);
    expect(patchesOf(events[8]!)).toEqual([
      {
        nativeSymbol: 'BTC-USD',
        eventTime: T0 + 2174 + 0.120441,
        fields: { price: 96859.99, bid: 96859.99, ask: 96860, high24h: 97240, low24h: 94955.12, volume24h: 7321.61240552, changePercent24h: 1.60385360400004, ...NEVER_SENT },
      },
    ]);
  });

  it('reads the sequence number of every frame and the products each ack lists', () => {
    const frames = fixture.map((line) => readCoinbaseFrame(line));
    expect(frames.map((f) => f.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(frames.map((f) => f.tickerSubscriptions)).toEqual([null, null, ['BTC-USD', 'ETH-USD'], ['BTC-USD', 'ETH-USD'], null, null, null, null, null]);
  });

  it('rejects every frame of the legacy Exchange ws-feed with a reason that names it', () => {
    for (const line of fixtureText('coinbase-exchange.ticker.jsonl')) {
      expect(reasonOf(parseCoinbaseFrame(line))).toMatch(/legacy Exchange ws-feed/);
    }
  });
});

describe('Coinbase adapter: control frames', () => {
  it('reads an ack with no ticker products, and one without sequence_num or with client_id', () => {
    expect(parseCoinbaseFrame('{"channel":"subscriptions","timestamp":"2026-07-29T04:40:00Z","sequence_num":0,"events":[{"subscriptions":{"heartbeats":["heartbeats"]}}]}')).toEqual({ kind: 'ack' });
    expect(parseCoinbaseFrame('{"channel":"subscriptions","client_id":"","timestamp":"x","events":[{"subscriptions":{}}]}')).toEqual({ kind: 'ack' });
  });

  it('accepts a heartbeat counter as a number or a string', () => {
    expect(parseCoinbaseFrame('{"channel":"heartbeats","sequence_num":1,"events":[{"current_time":"x","heartbeat_counter":"51233"}]}')).toEqual({ kind: 'heartbeat' });
    expect(parseCoinbaseFrame('{"channel":"heartbeats","sequence_num":1,"events":[{"current_time":"x","heartbeat_counter":51233}]}')).toEqual({ kind: 'heartbeat' });
  });

  it('reads an error frame, and explains Coinbase’s misleading "authentication failure"', () => {
    expect(parseCoinbaseFrame('{"type":"error","message":"failure to subscribe"}')).toEqual({ kind: 'error', message: 'Coinbase error: failure to subscribe' });
    expect(parseCoinbaseFrame('{"type":"error","message":"authentication failure"}')).toEqual({
      kind: 'error',
      message: 'Coinbase error: authentication failure (Coinbase also sends this for an unknown channel name)',
    });
    expect(parseCoinbaseFrame('{"type":"error"}')).toEqual({ kind: 'error', message: 'Coinbase error: (no message; frame keys: type)' });
  });

  it('asks the loop to wait before reconnecting when the error is a rate limit', () => {
    expect(parseCoinbaseFrame('{"type":"error","message":"rate limit exceeded"}')).toEqual({
      kind: 'error',
      message: 'Coinbase error: rate limit exceeded',
      retryAfterMs: COINBASE_RATE_LIMIT_RETRY_MS,
    });
    expect(parseCoinbaseFrame('{"type":"error","message":"Too many requests"}')).toMatchObject({ retryAfterMs: COINBASE_RATE_LIMIT_RETRY_MS });
  });

  it.each(['status', 'level2', 'l2_data', 'market_trades', 'candles', 'ticker_batch', 'user', 'something_new'])('ignores the %s channel', (channel) => {
    expect(parseCoinbaseFrame(JSON.stringify({ channel, timestamp: '2026-07-29T04:40:00Z', sequence_num: 3, events: [{ type: 'update' }] }))).toEqual({ kind: 'ignored' });
  });

  it('reads an empty ticker frame as a quiet data frame, and several tickers in order', () => {
    expect(parseCoinbaseFrame('{"channel":"ticker","timestamp":"2026-07-29T04:40:00Z","sequence_num":1,"events":[]}')).toEqual({ kind: 'tickers', patches: [] });
    const two = JSON.stringify({
      channel: 'ticker',
      timestamp: '2026-07-29T04:40:00.5Z',
      sequence_num: 2,
      events: [
        { type: 'update', tickers: [{ type: 'ticker', product_id: 'BTC-USD', price: '1' }, { type: 'ticker', product_id: 'BTC-USD', price: '2' }] },
        { type: 'update', tickers: [{ type: 'ticker', product_id: 'ETH-USD', price: '3' }] },
      ],
    });
    expect(patchesOf(parseCoinbaseFrame(two)).map((p) => [p.nativeSymbol, p.fields.price, p.eventTime])).toEqual([
      ['BTC-USD', 1, T0 + 500],
      ['BTC-USD', 2, T0 + 500],
      ['ETH-USD', 3, T0 + 500],
    ]);
  });

  it('sets a field the ticker does not carry to null, and reads a zero bid or ask as an empty side', () => {
    const [patch] = patchesOf(parseCoinbaseFrame('{"channel":"ticker","timestamp":"2026-07-29T04:40:00Z","events":[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"5","best_bid":"0","best_ask":"0.0"}]}]}'));
    expect(patch?.fields).toEqual({ price: 5, bid: null, ask: null, high24h: null, low24h: null, volume24h: null, changePercent24h: null, ...NEVER_SENT });
  });
});

describe('Coinbase adapter: malformed frames are invalid with a reason', () => {
  const snapshot = JSON.parse(fixture[0]!) as { events: Array<{ tickers: Array<Record<string, unknown>> }> } & Record<string, unknown>;
  const ticker = snapshot.events[0]!.tickers[0]!;
  const withTicker = (fields: Record<string, unknown>): string => JSON.stringify({ ...snapshot, events: [{ type: 'snapshot', tickers: [{ ...ticker, ...fields }] }] });
  const without = (key: string): string => {
    const copy = { ...ticker };
    delete copy[key];
    return JSON.stringify({ ...snapshot, events: [{ type: 'snapshot', tickers: [copy] }] });
  };
  const envelope = (fields: Record<string, unknown>): string => JSON.stringify({ ...snapshot, ...fields });

  it.each([
    ['a frame that is not JSON', 'hello', /not JSON/],
    ['truncated JSON', fixture[0]!.slice(0, 40), /not JSON/],
    ['a JSON array', '[1,2]', /expected a JSON object, got array\(2\)/],
    ['JSON null', 'null', /expected a JSON object, got null/],
    ['an object of unknown shape', '{"foo":1}', /unrecognized frame.*foo/],
    ['a channel that is not a string', '{"channel":5}', /expected "channel" as a string, got number 5/],
    ['a sequence number that is a string', envelope({ sequence_num: '0' }), /expected "sequence_num" as a non-negative integer, got string/],
    ['a negative sequence number', envelope({ sequence_num: -1 }), /non-negative integer, got number -1/],
    ['ticker events that are not an array', envelope({ events: {} }), /ticker: expected "events" as an array, got object/],
    ['a missing timestamp', envelope({ timestamp: undefined }), /expected "timestamp" as an RFC 3339 string, got nothing/],
    ['a timestamp as epoch number', envelope({ timestamp: 1785300000333 }), /expected "timestamp" .* got number/],
    ['a timestamp that is not RFC 3339', envelope({ timestamp: '2026-07-29 04:40:00' }), /"timestamp" is not an RFC 3339 time/],
    ['an impossible date', envelope({ timestamp: '2026-02-30T04:40:00Z' }), /not an RFC 3339 time/],
    ['an event that is not an object', envelope({ events: ['x'] }), /events\[0\]: expected an object, got string/],
    ['an event of unknown type', envelope({ events: [{ type: 'delta', tickers: [] }] }), /events\[0\]: expected "type" to be "snapshot" or "update", got string "delta"/],
    ['an event without tickers', envelope({ events: [{ type: 'update' }] }), /events\[0\]: expected "tickers" as an array, got nothing/],
    ['a tickers array with junk', envelope({ events: [{ type: 'update', tickers: [ticker, 5] }] }), /events\[0\]\.tickers\[1\]: expected a ticker object, got number 5/],
    ['a ticker of another type', withTicker({ type: 'trade' }), /expected "type" "ticker", got string "trade"/],
    ['a missing product id', without('product_id'), /expected "product_id" as a non-empty string, got nothing/],
    ['a product id that is a number', withTicker({ product_id: 7 }), /"product_id" .* got number 7/],
    ['a missing price', without('price'), /BTC-USD: required field "price" \(last price\) is missing/],
    ['a price that is not a number', withTicker({ price: 'abc' }), /"price" \(last price\) is not a decimal number: string "abc"/],
    ['a price sent as a JSON number', withTicker({ price: 96861.37 }), /expected "price" \(last price\) as a decimal string, got number 96861.37/],
    ['an empty price', withTicker({ price: '' }), /"price" .* string ""/],
    ['a zero price', withTicker({ price: '0' }), /"price" \(last price\) must be positive/],
    ['a negative price', withTicker({ price: '-1' }), /must be positive/],
    ['Infinity', withTicker({ price: 'Infinity' }), /"price" .* string "Infinity"/],
    ['a bad optional field', withTicker({ volume_24_h: '12,5' }), /"volume_24_h" \(24h base volume\) is not a decimal number: string "12,5"/],
    ['an optional field of the wrong type', withTicker({ best_bid: null }), /expected "best_bid" \(best bid\) as a decimal string, got null/],
    ['a percent change as a number', withTicker({ price_percent_chg_24_h: 1.6 }), /"price_percent_chg_24_h" \(24h change percent\) as a decimal string, got number/],
    ['acks whose events are not objects', '{"channel":"subscriptions","events":[1]}', /subscriptions: events\[0\]: expected an object with a "subscriptions" object/],
    ['an ack listing a number', '{"channel":"subscriptions","events":[{"subscriptions":{"ticker":[1]}}]}', /subscriptions\.ticker: expected an array of strings/],
    ['heartbeats without events', '{"channel":"heartbeats","sequence_num":1}', /heartbeats: expected "events" as an array, got nothing/],
    ['a heartbeat counter of the wrong type', '{"channel":"heartbeats","events":[{"heartbeat_counter":true}]}', /"heartbeat_counter" as a number or string, got boolean true/],
  ])('rejects %s', (_name, frame, reason) => {
    expect(reasonOf(parseCoinbaseFrame(frame))).toMatch(reason);
  });

  it('does not read fields that have no Market counterpart, so junk there costs nothing', () => {
    expect(patchesOf(parseCoinbaseFrame(withTicker({ low_52_w: 'junk', best_bid_quantity: null }))).length).toBe(1);
  });

  it('still reads the sequence number of a frame whose body is invalid', () => {
    expect(readCoinbaseFrame(withTicker({ price: 'abc' })).sequence).toBe(0);
  });

  it('never throws, whatever the text', () => {
    for (const text of ['', '{', '[', '{}', '[]', '"x"', '{"type":5}', '{"channel":"ticker"}', '{"channel":"ticker","events":[null]}', '{"channel":"subscriptions","events":[{"subscriptions":null}]}', '\u0000']) {
      expect(() => adapter().parse(text)).not.toThrow();
    }
  });
});

describe('Coinbase adapter: event time', () => {
  it.each([
    ['2026-07-29T04:40:00.333418553Z', T0 + 333 + 0.418553],
    ['2026-07-29T04:40:00Z', T0],
    ['2026-07-29T04:40:00.5Z', T0 + 500],
    ['2026-07-29T04:40:00.123456Z', T0 + 123 + 0.456],
    ['2026-07-29t04:40:00.25z', T0 + 250],
    ['2026-07-29T06:40:00.001+02:00', T0 + 1],
    ['2026-07-28T23:10:00-05:30', T0],
  ])('reads %s', (text, millis) => {
    expect(parseRfc3339Millis(text)).toBe(millis);
  });

  it.each(['', '2026-07-29', '2026-07-29T04:40:00', '2026-07-29T04:40:00.Z', '2026-13-01T00:00:00Z', '2026-07-29T24:00:00Z', '2026-07-29T04:40:00.1234567890Z', '0001-01-01T00:00:00Z', '2026-07-29T04:40:00+25:00'])(
    'rejects %j',
    (text) => {
      expect(parseRfc3339Millis(text)).toBeNull();
    },
  );
});

describe('Coinbase adapter: sequence gaps', () => {
  const heartbeat = (sequence: number): string => `{"channel":"heartbeats","sequence_num":${sequence},"events":[{"heartbeat_counter":${sequence}}]}`;
  const tick = (sequence: number): string =>
    `{"channel":"ticker","timestamp":"2026-07-29T04:40:00Z","sequence_num":${sequence},"events":[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1"}]}]}`;

  function clocked(resyncCooldownMs = 60_000) {
    const clock = { now: 1_000_000 };
    return { clock, a: adapter({ now: () => clock.now, resyncCooldownMs }) };
  }

  it('counts a gap, keeps the frame’s data, and turns the next heartbeat into a rotation', () => {
    const { a } = clocked();
    expect([0, 1, 2].map((n) => a.parse(heartbeat(n)).kind)).toEqual(['heartbeat', 'heartbeat', 'heartbeat']);
    expect(a.parse(tick(5)).kind).toBe('tickers');
    expect(a.sequenceGaps).toEqual({ gaps: 1, missedMessages: 2 });
    expect(a.parse(heartbeat(6))).toEqual({ kind: 'rotate', reason: expect.stringMatching(/sequence_num jumped from 2 to 5 \(2 messages missed\)/) });
    expect(a.parse(heartbeat(7)).kind).toBe('heartbeat');
  });

  it('resyncs at most once per cooldown, but counts every gap', () => {
    // Shorter than the 10 s after which an unmoving counter is forgotten.
    const { a, clock } = clocked(5000);
    a.parse(heartbeat(0));
    a.parse(tick(2));
    expect(a.parse(heartbeat(3)).kind).toBe('rotate');
    clock.now += 1000;
    a.parse(tick(5));
    expect(a.parse(heartbeat(6)).kind).toBe('heartbeat');
    clock.now += 4000;
    a.parse(tick(8));
    expect(a.parse(heartbeat(9)).kind).toBe('rotate');
    expect(a.sequenceGaps).toEqual({ gaps: 3, missedMessages: 3 });
  });

  it('sees a new connection counting from 0 as a new counter, not a gap', () => {
    const { a } = clocked();
    for (let n = 0; n < 50; n++) a.parse(heartbeat(n));
    for (let n = 0; n < 3; n++) expect(a.parse(heartbeat(n)).kind).toBe('heartbeat');
    expect(a.sequenceGaps.gaps).toBe(0);
  });

  it('follows two interleaved connections during a rotation without false gaps', () => {
    const { a } = clocked();
    for (let n = 0; n < 10; n++) a.parse(heartbeat(n));
    // The old socket keeps counting while the new one starts from 0.
    const order = [10, 0, 11, 1, 2, 12, 3, 13, 14, 4];
    for (const n of order) a.parse(tick(n));
    expect(a.sequenceGaps.gaps).toBe(0);
    a.parse(tick(16)); // the old socket lost 15
    expect(a.sequenceGaps).toEqual({ gaps: 1, missedMessages: 1 });
    a.parse(tick(5));
    expect(a.sequenceGaps.gaps).toBe(1);
  });

  it('follows the counters of several connections at once without false gaps', () => {
    const { a } = clocked();
    // Three connections of one feed, opened one after another and counting on together.
    const starts = [0, 0, 0];
    for (let n = 0; n < 300; n++) starts[0] = n, a.parse(heartbeat(n));
    for (let n = 0; n < 100; n++) {
      a.parse(tick(300 + n));
      a.parse(heartbeat(n));
      if (n < 50) a.parse(tick(n));
    }
    expect(a.sequenceGaps.gaps).toBe(0);
  });

  it('rotates the connection that had the gap, on its next heartbeat, not another one', () => {
    const { a } = clocked();
    for (let n = 0; n < 100; n++) a.parse(heartbeat(n)); // connection A
    for (let n = 0; n < 10; n++) a.parse(heartbeat(n)); // connection B
    a.parse(tick(12)); // B lost 10 and 11
    expect(a.sequenceGaps).toEqual({ gaps: 1, missedMessages: 2 });
    expect(a.parse(heartbeat(100)).kind).toBe('heartbeat'); // A's heartbeat: A is fine
    expect(a.parse(heartbeat(13))).toEqual({ kind: 'rotate', reason: expect.stringMatching(/jumped from 9 to 12/) });
    expect(a.parse(heartbeat(14)).kind).toBe('heartbeat');
  });

  it('drops a pending resync when the connection that had the gap goes quiet', () => {
    const { a, clock } = clocked(0);
    for (let n = 0; n < 5; n++) a.parse(heartbeat(n));
    a.parse(tick(7));
    clock.now += 11_000; // that socket is gone before its next heartbeat
    for (let n = 0; n < 10; n++) expect(a.parse(heartbeat(n)).kind).toBe('heartbeat');
  });

  it('forgets a counter that stopped moving, so a new connection overtaking it is not a gap', () => {
    const { a, clock } = clocked();
    for (let n = 0; n < 5; n++) a.parse(heartbeat(n));
    clock.now += 11_000; // the old socket is gone
    for (let n = 0; n < 10; n++) a.parse(heartbeat(n));
    expect(a.sequenceGaps.gaps).toBe(0);
  });
});

describe('Coinbase adapter: subscribing', () => {
  it('subscribes heartbeats first, then ticker in product batches, one channel per message', () => {
    const a = adapter({ productsPerMessage: 2 });
    expect(a.subscribeMessages(['BTC-USD', 'ETH-USD', 'SOL-USD']).map((m) => JSON.parse(m))).toEqual([
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channel: 'ticker' },
      { type: 'subscribe', product_ids: ['SOL-USD'], channel: 'ticker' },
    ]);
  });

  it('subscribes heartbeats again with products added to a live connection, where it changes nothing', () => {
    const a = adapter();
    a.subscribeMessages(['BTC-USD']);
    expect(a.subscribeMessages(['ETH-USD']).map((m) => JSON.parse(m))).toEqual([
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'subscribe', product_ids: ['ETH-USD'], channel: 'ticker' },
    ]);
  });

  it('fits the built-in list into one ticker message, and a full connection into messages of 100', () => {
    const a = adapter();
    const messages = a.subscribeMessages(COINBASE_DEFAULT_SYMBOLS);
    expect(messages).toHaveLength(2);
    expect((JSON.parse(messages[1]!) as { product_ids: string[] }).product_ids).toEqual(COINBASE_DEFAULT_SYMBOLS);
    const full = Array.from({ length: a.capacity.perConnection }, (_, i) => `C${i}-USD`);
    const tickers = a.subscribeMessages(full).slice(1).map((m) => (JSON.parse(m) as { product_ids: string[] }).product_ids);
    expect(tickers.every((ids) => ids.length <= 100)).toBe(true);
    expect(tickers).toHaveLength(Math.ceil(full.length / 100));
    expect(tickers.flat()).toEqual(full);
  });

  it('carries its own cap of symbols per connection, since Coinbase documents none', () => {
    const { capacity } = adapter();
    expect(capacity.perConnection).toBe(UNDOCUMENTED_SYMBOLS_PER_CONNECTION);
    expect(capacity.cost('BTC-USD')).toBe(1);
  });

  it('declares Coinbase limits and keep-alive rules: 8 connections and 8 messages per second per IP, 10 s of silence, no client ping, no planned rotation', () => {
    const a: ExchangeAdapter = adapter();
    expect(a.connectionRate).toEqual({ limit: 8, windowMs: 1000 });
    expect(a.messageRatePerIp).toEqual({ limit: 8, windowMs: 1000 });
    expect(a.maxMessagesPerSecond).toBe(5);
    expect(a.silenceTimeoutMs).toBe(10_000);
    expect(a.clientHeartbeat).toBeUndefined();
    expect(a.maxConnectionAgeMs).toBeUndefined();
  });

  it('names the public endpoints and a built-in list of BASE-QUOTE products', () => {
    expect(COINBASE_WS_URL).toBe('wss://advanced-trade-ws.coinbase.com');
    expect(COINBASE_REST_URL).toBe('https://api.coinbase.com');
    expect(COINBASE_DEFAULT_SYMBOLS.length).toBeGreaterThanOrEqual(20);
    for (const symbol of COINBASE_DEFAULT_SYMBOLS) expect(splitProductId(symbol)).not.toBeNull();
    expect(COINBASE_DEFAULT_SYMBOLS.filter((s) => s.endsWith('-USDC'))).toEqual([]);
  });

  it('lists the given products no ack, on any connection, has confirmed', () => {
    const a = adapter();
    const symbols = ['BTC-USD', 'BTC-USDX', 'ETH-USD', 'SOL-USD'];
    expect(a.unconfirmedSymbols(symbols)).toEqual(symbols);
    a.parse('{"channel":"subscriptions","sequence_num":0,"events":[{"subscriptions":{"ticker":["BTC-USD","ETH-USD"]}}]}');
    a.parse('{"channel":"subscriptions","sequence_num":0,"events":[{"subscriptions":{"heartbeats":["heartbeats"],"ticker":["SOL-USD"]}}]}');
    expect(a.unconfirmedSymbols(symbols)).toEqual(['BTC-USDX']);
    expect(a.unconfirmedSymbols(['ETH-USD'])).toEqual([]);
  });
});

describe('Coinbase adapter: symbols', () => {
  it.each([
    ['BTC-USD', 'BTC', 'USD'],
    ['ETH-BTC', 'ETH', 'BTC'],
    ['USDT-USDC', 'USDT', 'USDC'],
    ['btc-eur', 'BTC', 'EUR'],
    ['00-USD', '00', 'USD'],
  ])('splits %s into %s / %s', (id, base, quote) => {
    expect(splitProductId(id)).toEqual({ nativeSymbol: id, base, quote });
  });

  it.each(['BTCUSD', 'BTC-', '-USD', 'BTC-PERP-INTX', ''])('does not split %j', (id) => {
    expect(splitProductId(id)).toBeNull();
  });

  it('derives names by splitting on "-", or gives the quote UNKNOWN', () => {
    const a = adapter();
    expect(a.deriveSymbolInfo('ETH-BTC')).toEqual({ nativeSymbol: 'ETH-BTC', base: 'ETH', quote: 'BTC' });
    expect(a.deriveSymbolInfo('FOOBAR')).toEqual({ nativeSymbol: 'FOOBAR', base: 'FOOBAR', quote: 'UNKNOWN' });
  });

  it('trims, upper-cases and de-duplicates a configured list', () => {
    expect(adapter().normalizeSymbols(['BTC-USD', ' eth-usd ', 'SOL-USD', 'BTC-USD', ''])).toEqual({ symbols: ['BTC-USD', 'ETH-USD', 'SOL-USD'], warnings: [] });
  });

  it('warns that configured -USDC products may arrive under the -USD id', () => {
    expect(adapter().normalizeSymbols(['BTC-USD', 'btc-usdc', 'ETH-USDC'])).toEqual({
      symbols: ['BTC-USD', 'BTC-USDC', 'ETH-USDC'],
      warnings: ['Coinbase serves -USDC products from the -USD book and may deliver them as the -USD product id: BTC-USDC, ETH-USDC'],
    });
  });
});

describe('Coinbase adapter: the listing (products)', () => {
  const product = (id: string, base: string, quote: string, extra: Record<string, unknown> = {}) => ({
    product_id: id,
    price: '1.5',
    base_increment: '0.00000001',
    quote_increment: '0.01',
    base_currency_id: base,
    quote_currency_id: quote,
    status: 'online',
    trading_disabled: false,
    product_type: 'SPOT',
    ...extra,
  });
  const listing = {
    products: [
      product('BTC-USD', 'BTC', 'USD'),
      product('WEIRD-ID', 'WEIRDCOIN', 'USD'),
      product('OLD-USD', 'OLD', 'USD', { status: 'delisted', trading_disabled: true }),
      product('HALT-USD', 'HALT', 'USD', { trading_disabled: true }),
      product('OFF-USD', 'OFF', 'USD', { is_disabled: true }),
      product('BTC-PERP-INTX', 'BTC', 'USD', { product_type: 'FUTURE' }),
      product('NOTYPE-USD', 'NOTYPE', 'USD', { product_type: undefined }),
      { product_id: 42 },
      'junk',
    ],
    num_products: 9,
  };

  it('lists every spot product, trading only when online and neither trading_disabled nor is_disabled', async () => {
    expect(await adapter({ fetch: listingFetch(listing) }).fetchListing(new AbortController().signal)).toEqual([
      { nativeSymbol: 'BTC-USD', base: 'BTC', quote: 'USD', status: 'online', trading: true },
      { nativeSymbol: 'WEIRD-ID', base: 'WEIRDCOIN', quote: 'USD', status: 'online', trading: true },
      { nativeSymbol: 'OLD-USD', base: 'OLD', quote: 'USD', status: 'delisted, trading disabled', trading: false },
      { nativeSymbol: 'HALT-USD', base: 'HALT', quote: 'USD', status: 'online, trading disabled', trading: false },
      { nativeSymbol: 'OFF-USD', base: 'OFF', quote: 'USD', status: 'online, disabled', trading: false },
      { nativeSymbol: 'NOTYPE-USD', base: 'NOTYPE', quote: 'USD', status: 'online', trading: true },
    ]);
  });

  it('asks the documented endpoint for spot products, one page of `limit` at `offset` 0, with the abort signal', async () => {
    const calls: FetchCall[] = [];
    const signal = new AbortController().signal;
    await adapter({ restUrl: 'http://127.0.0.1:1/', fetch: listingFetch(listing, 200, calls) }).fetchListing(signal);
    expect(calls).toEqual([{ url: `http://127.0.0.1:1/api/v3/brokerage/market/products?product_type=SPOT&limit=${COINBASE_PRODUCTS_PER_PAGE}&offset=0`, signal }]);
  });

  /** A server that pages its products by `limit` and `offset`, counting all of them in `num_products` unless told not to. */
  function pagingServer(all: readonly unknown[], options: { count?: boolean } = {}) {
    const asked: string[] = [];
    const fetchImpl: typeof fetch = async (input) => {
      const url = new URL(String(input));
      asked.push(`${url.searchParams.get('offset')}+${url.searchParams.get('limit')}`);
      const offset = Number(url.searchParams.get('offset'));
      const page = all.slice(offset, offset + Number(url.searchParams.get('limit')));
      return new Response(JSON.stringify(options.count === false ? { products: page } : { products: page, num_products: all.length }));
    };
    return { asked, fetchImpl };
  }
  const many = (n: number) => Array.from({ length: n }, (_, i) => product(`C${i}-USD`, `C${i}`, 'USD'));

  it('follows the pages until a short one, counting skipped entries in the offset', async () => {
    const all = [...many(3), 'junk', ...many(6).slice(3)];
    const server = pagingServer(all, { count: false });
    const listed = await adapter({ productsPerPage: 4, fetch: server.fetchImpl }).fetchListing(new AbortController().signal);
    expect(listed.map((m) => m.nativeSymbol)).toEqual(many(6).map((p) => p.product_id));
    expect(server.asked).toEqual(['0+4', '4+4']);
  });

  it('asks once more after a full last page, and stops at the empty one', async () => {
    const server = pagingServer(many(8));
    expect(await adapter({ productsPerPage: 4, fetch: server.fetchImpl }).fetchListing(new AbortController().signal)).toHaveLength(8);
    expect(server.asked).toEqual(['0+4', '4+4', '8+4']);
  });

  it('reads on past a short page while num_products says there are more', async () => {
    // A server that caps `limit` below what was asked: every page is short.
    const all = many(5);
    const fetchImpl: typeof fetch = async (input) => {
      const offset = Number(new URL(String(input)).searchParams.get('offset'));
      return new Response(JSON.stringify({ products: all.slice(offset, offset + 2), num_products: all.length }));
    };
    expect(await adapter({ productsPerPage: 4, fetch: fetchImpl }).fetchListing(new AbortController().signal)).toHaveLength(5);
  });

  it('throws when the paging stops advancing short of num_products (a server that ignores offset)', async () => {
    const stuck = listingFetch({ products: listing.products.slice(0, 1), num_products: 700 });
    await expect(adapter({ fetch: stuck }).fetchListing(new AbortController().signal)).rejects.toThrow('products: paging stopped advancing after 2 entries of 700');
  });

  it.each([
    ['the server answers 503', listingFetch({ error: 'UNAVAILABLE' }, 503), /market\/products\?product_type=SPOT&limit=500&offset=0: HTTP 503/],
    ['the body is HTML', listingFetch('<html><body>Cloudflare</body></html>'), /not JSON.*Cloudflare/],
    ['the body has no products list', listingFetch({ products: 'many' }), /products: expected an object with a "products" array, got products: string/],
    ['the body is null', listingFetch(null), /products: expected an object with a "products" array, got null/],
    ['no entry can be read', listingFetch({ products: [{ id: 'BTC-USD' }, 7] }), /products: none of its 2 entries could be read/],
  ])('throws when %s', async (_name, fetchImpl, message) => {
    await expect(adapter({ fetch: fetchImpl }).fetchListing(new AbortController().signal)).rejects.toThrow(message);
  });

  it('throws when no REST base is configured', async () => {
    await expect(adapter({ restUrl: null }).fetchListing(new AbortController().signal)).rejects.toThrow('no REST URL is configured');
  });
});
