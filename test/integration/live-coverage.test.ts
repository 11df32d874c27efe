/**
 * LiveCoverage (src/live-coverage.ts) against a real Redis: the start-up sweep runs only once
 * every feed's markets are in the published coverage, however the feeds' choices interleave
 * with its Redis round trips.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchWriter } from '../../src/ingest/batch-writer';
import type { Feed } from '../../src/ingest/feed';
import { silentLogger } from '../../src/logger';
import { LiveCoverage } from '../../src/live-coverage';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { waitFor } from '../support/wait-for';

describe('live coverage', () => {
  let t: TestRedis;
  beforeEach(async () => {
    t = await openTestRedis();
  });
  afterEach(() => t.close());

  it('does not sweep a feed that chose its symbols while the coverage of the others was being published', async () => {
    const first = makeMarket({ exchange: 'binance', base: 'BTC' });
    const second = makeMarket({ exchange: 'kraken', base: 'ETH', quote: 'USD' });
    const leftover = makeMarket({ exchange: 'okx', base: 'OLD' });
    await upsertMarkets(t.redis, t.keys, [first, second, leftover]);
    const feedA = { coveredIds: () => [first.id] } as unknown as Feed;
    // A feed covers nothing until it has chosen its symbols.
    let bChose = false;
    const feedB = { coveredIds: () => (bChose ? [second.id] : []) } as unknown as Feed;
    const writer = new BatchWriter(async () => ({ applied: 0, skipped: 0 }), { batchMs: 0, logger: silentLogger() });
    let publishing = false;
    const coverage = new LiveCoverage({
      redis: t.redis,
      keys: t.keys,
      writer,
      feeds: [feedA, feedB],
      // The marker is set; then, while this pass goes on to publish A's coverage, B chooses.
      markerWritten: async () => {
        await t.redis.set(t.keys.ingestMarker(t.keys.instance), '1', 'PX', 30_000);
        if (!publishing) {
          publishing = true;
          setImmediate(() => {
            bChose = true;
            coverage.symbolsChanged(feedB, []);
          });
        }
      },
      logger: silentLogger(),
    });
    coverage.symbolsChanged(feedA, []);
    await waitFor(() => coverage.stats.removedLeftovers === 1, 'the sweep of the leftover');
    expect(await t.redis.hexists(t.keys.market, second.id)).toBe(1);
    expect(await t.redis.hexists(t.keys.market, first.id)).toBe(1);
    expect(await t.redis.hexists(t.keys.market, leftover.id)).toBe(0);
    await coverage.stop();
  });
});
