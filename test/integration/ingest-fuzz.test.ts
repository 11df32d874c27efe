/**
 * A real Feed, over real sockets to a local exchange server, fed batches of hostile frames
 * (mutated fixture frames and arbitrary text, the generators of test/unit/adapters.fuzz.test.ts)
 * that its adapter classifies as invalid: each is counted exactly once, nothing else moves, the
 * feed stays LIVE on the same connection, and the good frame sent after them becomes the right
 * market. No Redis, no network.
 *
 * Coinbase is left out here (its parse-level fuzzing is complete): a garbage frame may carry a
 * plausible `sequence_num`, which the adapter rightly takes as a gap and answers with a planned
 * rotation, and while two sockets are open the server's broadcast reaches both, so the count
 * would depend on timing rather than on the frames.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExchangeAdapter } from '../../src/ingest/adapter';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { createBybitAdapter } from '../../src/ingest/exchanges/bybit';
import { createKrakenAdapter } from '../../src/ingest/exchanges/kraken';
import { createOkxAdapter } from '../../src/ingest/exchanges/okx';
import type { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { BybitServer } from '../support/exchanges/bybit-server';
import { KrakenServer } from '../support/exchanges/kraken-server';
import { OkxServer } from '../support/exchanges/okx-server';
import { arbitraryText, fixtureFrames, mutatedFrame } from '../support/frame-mutations';
import { IngestHarness, type AdapterRecipe, type LocalEndpoint } from '../support/ingest-harness';
import { waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

interface FeedSubject {
  readonly name: string;
  readonly fixture: string;
  /** How the feed's adapter is built; subscribed to the one symbol of `market`. */
  readonly recipe: AdapterRecipe<never, ExchangeAdapter>;
  startServer(): Promise<LocalEndpoint & { sendRaw(text: string): number }>;
  /** Sends a good ticker with this last price through the server's own push. */
  push(server: unknown, price: number): void;
  /** The market a good ticker becomes. */
  readonly market: { readonly id: string; readonly nativeSymbol: string; readonly base: string; readonly quote: string };
}

const SUBJECTS: readonly FeedSubject[] = [
  {
    name: 'binance',
    fixture: 'binance.ticker.jsonl',
    recipe: { exchange: 'binance', create: createBinanceAdapter, symbols: ['BTCUSDT'] },
    startServer: () => harness.sim(),
    push: (server, price) => (server as BinanceSim).push('BTCUSDT', { c: String(price) }),
    market: { id: 'binance:BTC/USDT', nativeSymbol: 'BTCUSDT', base: 'BTC', quote: 'USDT' },
  },
  {
    name: 'okx',
    fixture: 'okx.ticker.jsonl',
    recipe: { exchange: 'okx', create: createOkxAdapter, symbols: ['BTC-USDT'] },
    startServer: () => harness.serve(OkxServer.start()),
    push: (server, price) => (server as OkxServer).push('BTC-USDT', { last: String(price) }),
    market: { id: 'okx:BTC/USDT', nativeSymbol: 'BTC-USDT', base: 'BTC', quote: 'USDT' },
  },
  {
    name: 'kraken',
    fixture: 'kraken.ticker.jsonl',
    recipe: { exchange: 'kraken', create: createKrakenAdapter, symbols: ['BTC/USD'] },
    startServer: () => harness.serve(KrakenServer.start()),
    push: (server, price) => (server as KrakenServer).push('BTC/USD', { last: price, change: 1.5 }),
    market: { id: 'kraken:BTC/USD', nativeSymbol: 'BTC/USD', base: 'BTC', quote: 'USD' },
  },
  {
    name: 'bybit',
    fixture: 'bybit.ticker.jsonl',
    recipe: { exchange: 'bybit', create: createBybitAdapter, symbols: ['BTCUSDT'] },
    startServer: () => harness.serve(BybitServer.start()),
    push: (server, price) => (server as BybitServer).push('BTCUSDT', { lastPrice: String(price) }),
    market: { id: 'bybit:BTC/USDT', nativeSymbol: 'BTCUSDT', base: 'BTC', quote: 'USDT' },
  },
];

/** Batches per exchange; each is a round trip through the socket. */
const RUNS = 40;

/** What the feed receives for `text`: ws sends UTF-8, so a lone surrogate arrives as U+FFFD. */
function onTheWire(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

describe.each(SUBJECTS)('$name feed fed hostile frames', (subject) => {
  it('counts each frame its adapter rejects exactly once, stays LIVE, and reads the next good frame', async () => {
    const server = await subject.startServer();
    const t = harness.feedOn(server, subject.recipe);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    // A second adapter like the feed's: how these exchanges read a frame depends on no earlier one.
    const { exchange } = subject.recipe;
    const classifier = subject.recipe.create({ exchange, wsUrl: server.wsUrl, restUrl: null });
    let price = 1000;
    const goodFrame = async (): Promise<void> => {
      price += 1.25;
      const seen = t.markets.length;
      subject.push(server, price);
      await waitFor(() => t.markets.slice(seen).some((m) => m.id === subject.market.id && m.price === price), `the ${subject.market.id} market at ${price}`);
    };
    await goodFrame(); // subscribe snapshots and the first good state are in before counting starts

    const frames = fixtureFrames(subject.fixture);
    const hostile = fc.oneof({ weight: 4, arbitrary: mutatedFrame(frames).map((m) => m.text) }, { weight: 1, arbitrary: arbitraryText });
    await fc.assert(
      fc.asyncProperty(fc.array(hostile, { minLength: 5, maxLength: 30 }), async (batch) => {
        const rejected = batch.map(onTheWire).filter((text) => classifier.parse(text).kind === 'invalid');
        const before = t.health();
        for (const text of rejected) server.sendRaw(text);
        // Frames on one socket arrive in order: once the good frame's market is out, every
        // frame sent before it has been handled.
        await goodFrame();
        const after = t.health();
        expect(after.invalidFrames - before.invalidFrames).toBe(rejected.length);
        expect(after).toMatchObject({ status: 'LIVE', reconnects: before.reconnects, errors: before.errors, markets: 1 });
        expect(t.markets.at(-1)).toMatchObject({ ...subject.market, exchange: subject.name, price });
      }),
      { numRuns: RUNS },
    );
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
  });
});
