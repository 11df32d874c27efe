/**
 * Every exchange adapter against hostile input: arbitrary text, arbitrary JSON, and mutations
 * of its own fixture frames (keys deleted, values of the wrong type, garbage and extreme
 * numbers, nesting swapped or thousands deep, duplicate keys, very long strings, cut text).
 *
 * The contract under test (adapter.ts, market.ts): `parse` never throws; it answers with one
 * of the FrameEvent kinds; and garbage never becomes data: a `tickers` event carries only
 * finite numbers or null, a positive price, a finite positive event time and a non-empty
 * symbol. The Feed's side (each bad frame counted, the feed stays LIVE) is in
 * test/integration/ingest-fuzz.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExchangeAdapter, FrameEvent } from '../../src/ingest/adapter';
import { BINANCE_WS_URL, createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { BYBIT_WS_URL, createBybitAdapter } from '../../src/ingest/exchanges/bybit';
import { COINBASE_WS_URL, createCoinbaseAdapter } from '../../src/ingest/exchanges/coinbase';
import { KRAKEN_WS_URL, createKrakenAdapter } from '../../src/ingest/exchanges/kraken';
import { OKX_WS_URL, createOkxAdapter } from '../../src/ingest/exchanges/okx';
import { TICKER_FIELDS } from '../../src/market';
import {
  applyMutation,
  arbitraryJsonText,
  arbitraryText,
  deepNesting,
  extremeNumbers,
  fixtureFrames,
  garbageNumberStep,
  longString,
  mutatedFrame,
  strictGarbageNumber,
} from '../support/frame-mutations';

interface Subject {
  readonly name: string;
  readonly fixture: string;
  /** The kind of each fixture frame, as the adapter's own unit test replays them. */
  readonly kinds: readonly FrameEvent['kind'][];
  /** A new adapter; no network: REST is off and `fetchListing` is never called. */
  readonly create: () => ExchangeAdapter;
  /**
   * Whether `parse` depends on earlier frames. Coinbase follows `sequence_num`, and after a
   * gap turns the next heartbeat into a `rotate`, so its fixture is replayed on a fresh adapter.
   */
  readonly stateful: boolean;
}

const options = (exchange: string, wsUrl: string) => ({ exchange, wsUrl, restUrl: null });

const SUBJECTS: readonly Subject[] = [
  {
    name: 'binance',
    fixture: 'binance.ticker.jsonl',
    kinds: ['ack', 'tickers', 'tickers', 'tickers', 'ack', 'tickers', 'tickers', 'rotate'],
    create: () => createBinanceAdapter(options('binance', BINANCE_WS_URL)),
    stateful: false,
  },
  {
    // Event times are scaled by 0.001 on this URL: a path of its own for the time check.
    name: 'binance (timeUnit=MICROSECOND)',
    fixture: 'binance.ticker.jsonl',
    kinds: ['ack', 'tickers', 'tickers', 'tickers', 'ack', 'tickers', 'tickers', 'rotate'],
    create: () => createBinanceAdapter(options('binance', `${BINANCE_WS_URL}?timeUnit=MICROSECOND`)),
    stateful: false,
  },
  {
    name: 'coinbase',
    fixture: 'coinbase.ticker.jsonl',
    kinds: ['tickers', 'tickers', 'ack', 'ack', 'heartbeat', 'tickers', 'tickers', 'heartbeat', 'tickers'],
    create: () => createCoinbaseAdapter(options('coinbase', COINBASE_WS_URL)),
    stateful: true,
  },
  {
    name: 'kraken',
    fixture: 'kraken.ticker.jsonl',
    kinds: ['ignored', 'ack', 'ack', 'tickers', 'tickers', 'heartbeat', 'tickers', 'tickers', 'heartbeat', 'heartbeat', 'tickers'],
    create: () => createKrakenAdapter(options('kraken', KRAKEN_WS_URL)),
    stateful: false,
  },
  {
    name: 'okx',
    fixture: 'okx.ticker.jsonl',
    kinds: ['ack', 'ack', 'tickers', 'tickers', 'tickers', 'tickers', 'tickers', 'tickers'],
    create: () => createOkxAdapter(options('okx', OKX_WS_URL)),
    stateful: false,
  },
  {
    name: 'bybit',
    fixture: 'bybit.ticker.jsonl',
    kinds: ['ack', 'tickers', 'tickers', 'tickers', 'tickers', 'tickers', 'heartbeat', 'tickers'],
    create: () => createBybitAdapter(options('bybit', BYBIT_WS_URL)),
    stateful: false,
  },
];

/** Runs per property. Six subjects times these stay within a few seconds. */
const RUNS = { text: 300, json: 300, mutations: 500, garbage: 300, extremes: 300, heavy: 150 };

const KINDS = new Set<string>(['tickers', 'ack', 'heartbeat', 'ignored', 'error', 'rotate', 'invalid']);
const FIELDS = new Set<string>(TICKER_FIELDS);

/**
 * Throws unless `event` is a well-formed FrameEvent whose data could only have come from
 * well-formed numbers. Returns the event for chaining.
 */
function checkEvent(event: unknown, input: string): FrameEvent {
  const fail = (what: string): never => {
    throw new Error(`${what}\n  event: ${show(event)}\n  input: ${show(input)}`);
  };
  if (typeof event !== 'object' || event === null) return fail('parse returned a non-object');
  const e = event as Record<string, unknown>;
  if (typeof e.kind !== 'string' || !KINDS.has(e.kind)) return fail(`unknown kind ${String(e.kind)}`);
  switch (e.kind) {
    case 'tickers': {
      if (!Array.isArray(e.patches)) return fail('tickers without a patches array');
      for (const patch of e.patches as unknown[]) {
        const p = patch as Record<string, unknown>;
        if (typeof p.nativeSymbol !== 'string' || p.nativeSymbol === '') fail('patch without a non-empty nativeSymbol');
        if (typeof p.eventTime !== 'number' || !Number.isFinite(p.eventTime) || !(p.eventTime > 0)) fail('patch eventTime is not a finite positive number');
        if (p.stream !== undefined && typeof p.stream !== 'string') fail('patch stream is not a string');
        if (typeof p.fields !== 'object' || p.fields === null) return fail('patch without fields');
        for (const [field, value] of Object.entries(p.fields)) {
          if (!FIELDS.has(field)) fail(`unknown patch field ${field}`);
          if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) fail(`patch field ${field} is ${String(value)}, not a finite number or null`);
          if (field === 'price' && !(typeof value === 'number' && value > 0)) fail(`patch price ${String(value)} is not positive`);
        }
      }
      break;
    }
    case 'ack':
      if (e.warnings !== undefined && !(Array.isArray(e.warnings) && e.warnings.every((w) => typeof w === 'string'))) fail('ack warnings are not strings');
      break;
    case 'error':
      if (typeof e.message !== 'string') fail('error without a message');
      if (e.retryAfterMs !== undefined && !(typeof e.retryAfterMs === 'number' && Number.isFinite(e.retryAfterMs) && e.retryAfterMs >= 0)) fail('bad retryAfterMs');
      break;
    case 'rotate':
      if (typeof e.reason !== 'string') fail('rotate without a reason');
      break;
    case 'invalid':
      if (typeof e.reason !== 'string' || e.reason === '') fail('invalid without a reason');
      break;
  }
  return event as FrameEvent;
}

/** JSON for failure messages, with non-finite numbers visible and long texts cut. */
function show(value: unknown): string {
  const text = JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `<${String(v)}>` : v)) ?? String(value);
  return text.length > 600 ? `${text.slice(0, 600)}... (${text.length} chars)` : text;
}

/** Parses with `adapter`, failing the property on a throw or a malformed event. */
function parseChecked(adapter: ExchangeAdapter, text: string): FrameEvent {
  let event: FrameEvent;
  try {
    event = adapter.parse(text);
  } catch (err) {
    throw new Error(`parse threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n  input: ${show(text)}`);
  }
  return checkEvent(event, text);
}

/** What a frame means, for comparing two parses: the kind, and the patches of a tickers event. */
function meaning(event: FrameEvent): unknown {
  return event.kind === 'tickers' ? { kind: event.kind, patches: event.patches } : { kind: event.kind };
}

describe.each(SUBJECTS)('$name adapter under fuzzing', (subject) => {
  const frames = fixtureFrames(subject.fixture);
  /** One adapter for the whole fuzz run, as in production: state left by garbage must not matter. */
  const adapter = subject.create();

  it('never throws on arbitrary text (unicode, whitespace, bytes, huge) and answers with a FrameEvent', () => {
    fc.assert(
      fc.property(arbitraryText, (text) => {
        parseChecked(adapter, text);
      }),
      { numRuns: RUNS.text },
    );
  });

  it('never throws on arbitrary JSON values and never reads one as data it cannot be', () => {
    fc.assert(
      fc.property(arbitraryJsonText, (text) => {
        parseChecked(adapter, text);
      }),
      { numRuns: RUNS.json },
    );
  });

  it('never throws on mutated fixture frames, and garbage never becomes data', () => {
    fc.assert(
      fc.property(mutatedFrame(frames), (mutated) => {
        parseChecked(adapter, mutated.text);
      }),
      { numRuns: RUNS.mutations },
    );
  });

  it('rejects a frame with a garbage number in a field it reads, and ignores it in a field it does not', () => {
    const withNumbers = frames.filter((frame) => applyMutation(frame, [{ op: 'garbage-number', pick: 0, garbage: { json: 'x' } }]) !== frame);
    fc.assert(
      fc.property(fc.constantFrom(...withNumbers), garbageNumberStep(strictGarbageNumber), (frame, step) => {
        const text = applyMutation(frame, [step]);
        // A fresh adapter for both, so Coinbase's sequence bookkeeping sees each frame alike.
        const before = subject.create().parse(frame);
        const after = parseChecked(subject.create(), text);
        if (after.kind !== 'invalid') expect(meaning(after), `garbage read as data from ${text}`).toEqual(meaning(before));
      }),
      { numRuns: RUNS.garbage },
    );
  });

  it('keeps every number finite when fields are pushed to the edges of a double', () => {
    fc.assert(
      fc.property(fc.constantFrom(...frames), extremeNumbers, (frame, step) => {
        parseChecked(adapter, applyMutation(frame, [step]));
      }),
      { numRuns: RUNS.extremes },
    );
  });

  it('survives values nested thousands deep and strings hundreds of kilobytes long', () => {
    fc.assert(
      fc.property(fc.constantFrom(...frames), fc.oneof(deepNesting, longString), (frame, step) => {
        parseChecked(adapter, applyMutation(frame, [step]));
      }),
      { numRuns: RUNS.heavy },
    );
  });

  it('rejects every truncation of every fixture frame', () => {
    for (const frame of frames) {
      for (let at = 0; at < frame.length; at++) {
        const text = frame.slice(0, at);
        expect(parseChecked(adapter, text).kind, text).toBe('invalid');
      }
    }
  });

  it('still reads the unmutated fixture exactly as before, also after the fuzzing', () => {
    const fresh = subject.create();
    const baseline = frames.map((frame) => checkEvent(fresh.parse(frame), frame));
    expect(baseline.map((e) => e.kind)).toEqual(subject.kinds);
    // The mutations start from the re-serialized frame; it must mean what the wire text means.
    const reserialized = subject.create();
    expect(frames.map((frame) => reserialized.parse(JSON.stringify(JSON.parse(frame))))).toEqual(baseline);
    // Nothing the fuzzing fed the shared adapter changed how it reads good frames.
    const replay = subject.stateful ? subject.create() : adapter;
    expect(frames.map((frame) => replay.parse(frame))).toEqual(baseline);
  });
});

describe('counterexamples the fuzzer found', () => {
  it('Kraken: rejects a ticker whose 24h open, last - change, overflows to Infinity', () => {
    // Both numbers are finite; their difference is not. open24h was Infinity, and from it
    // deriveMarket made change24h -Infinity and changePercent24h NaN.
    const frame =
      '{"channel":"ticker","type":"snapshot","data":[{"symbol":"ETH/USD","last":1.7976931348623157e+308,"change":-1.7976931348623157e+308,"timestamp":"2026-07-29T04:39:58.890506Z"}]}';
    const event = SUBJECTS.find((s) => s.name === 'kraken')!.create().parse(frame);
    expect(event).toEqual({ kind: 'invalid', reason: expect.stringMatching(/ETH\/USD: .*overflows, so the 24h open would not be finite/) });
  });

  it('Binance with timeUnit=MICROSECOND: rejects a positive event time that is 0 once scaled to milliseconds', () => {
    // E=5e-324 passed the "positive number" check and became eventTime 0.
    const frame = '{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":5e-324,"s":"BTCUSDT","c":"96880.55"}}';
    const micro = SUBJECTS.find((s) => s.name === 'binance (timeUnit=MICROSECOND)')!.create();
    expect(micro.parse(frame)).toEqual({ kind: 'invalid', reason: expect.stringMatching(/"E" number 5e-324 is 0 in milliseconds/) });
    // In milliseconds the same E is a (tiny) positive time, as before.
    const millis = SUBJECTS.find((s) => s.name === 'binance')!.create().parse(frame);
    expect(millis).toMatchObject({ kind: 'tickers', patches: [{ nativeSymbol: 'BTCUSDT', eventTime: 5e-324 }] });
  });
});
