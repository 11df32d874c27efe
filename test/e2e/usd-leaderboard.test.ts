/**
 * The demo's question, asked of tickql as `npm start` runs it: are the 20 biggest markets by
 * USD volume the biggest whatever their quote asset? The simulated exchange's whole listing
 * (the demo's universe: USDT, BTC, USDC, FDUSD, ETH, BNB, EUR and TRY quotes), held still so
 * the answer can be checked against every market at the rates tickql reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { queryData } from '../support/post-query';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { startListeningTickql, waitForLiveFeeds, type TickqlProcess } from '../support/tickql-process';
import { compareCodePoints } from '../support/reference-query';
import { sleep } from '../support/wait-for';

const MARKETS = 300; // the demo's SIM_MARKETS default

interface Answer {
  quoteRates: Array<{ quote: string; rate: number | null; basis: string }>;
  top: { items: Array<{ id: string; quote: string; quoteVolume24hUsd: number | null }> };
  all: { total: number; items: Array<{ id: string; quote: string; quoteVolume24h: number | null }> };
}

describe('the biggest markets by USD volume, on the demo universe', () => {
  let t: TestRedis;
  let sim: BinanceSim;
  let app: TickqlProcess;

  beforeAll(async () => {
    t = await openTestRedis();
    sim = await BinanceSim.start({ markets: MARKETS, tickMs: 0, snapshotOnSubscribe: true, pingIntervalMs: 0 });
    app = await startListeningTickql({
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      FEEDS: 'binance',
      BINANCE_WS_URL: sim.wsUrl,
      BINANCE_REST_URL: sim.restUrl,
      INGEST_BATCH_MS: '5',
    });
    await waitForLiveFeeds(app, ['binance']);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await sim?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  it('ranks every quote asset at its rate, so the top 20 are the biggest in USD whatever their quote', async () => {
    const query = `{
      quoteRates { quote rate basis }
      top: markets(sort: { field: QUOTE_VOLUME_24H_USD }, page: { limit: 20 }) { items { id quote quoteVolume24hUsd } }
      all: markets(page: { limit: 500 }) { total items { id quote quoteVolume24h } }
    }`;
    let answer: Answer = await queryData(app, query);
    // Every market loaded, every quote asset found (each serving process looks for new ones
    // every second) and its rate read (every 100 ms).
    const QUOTES = ['BNB', 'BTC', 'ETH', 'EUR', 'FDUSD', 'TRY', 'USDC', 'USDT'];
    for (let tries = 0; answer.all.total < MARKETS || answer.quoteRates.length < QUOTES.length || answer.quoteRates.some((r) => r.rate === null); tries++) {
      if (tries > 200) throw new Error(`not loaded: ${JSON.stringify({ total: answer.all.total, rates: answer.quoteRates })}`);
      await sleep(50);
      answer = await queryData(app, query);
    }

    expect(answer.quoteRates.map((r) => r.quote)).toEqual(QUOTES);
    // Binance lists no USD market: USDT at its peg, everything else through USDT.
    expect(answer.quoteRates.find((r) => r.quote === 'USDT')?.basis).toBe('PEG');
    const rate = new Map(answer.quoteRates.map((r) => [r.quote, r.rate!]));
    const expected = answer.all.items
      .filter((m) => m.quoteVolume24h !== null)
      .map((m) => ({ id: m.id, usd: m.quoteVolume24h! * rate.get(m.quote)! }))
      .sort((a, b) => b.usd - a.usd || compareCodePoints(a.id, b.id))
      .slice(0, 20);
    expect(answer.top.items.map((m) => m.id)).toEqual(expected.map((m) => m.id));
    expect(answer.top.items.map((m) => m.quoteVolume24hUsd)).toEqual(expected.map((m) => m.usd));
    // The trap the quote-unit order falls into: the leaders are not all of one quote asset.
    expect(new Set(answer.top.items.map((m) => m.quote)).size).toBeGreaterThan(1);
  });
});
