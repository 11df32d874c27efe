/** Feed health in Redis (src/redis/feed-health.ts): what `Query.feeds` lists, and what it forgets. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/logger';
import { announceFeedStatus, readFeedReports, writeFeedHealth, type FeedHealthReport } from '../../src/redis/feed-health';
import { Staleness } from '../../src/staleness';
import { removeMarkets } from '../../src/redis/remove-markets';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';

function report(exchange: string, overrides: Partial<FeedHealthReport> = {}): FeedHealthReport {
  return {
    exchange,
    status: 'LIVE',
    lastMessageAt: 1_785_300_000_000,
    reconnects: 1,
    connections: 2,
    messagesPerSecond: 10,
    invalidFrames: 0,
    errorFrames: 0,
    stalls: 0,
    throttledSeconds: 0,
    lastError: null,
    silentSymbols: [],
    ...overrides,
  };
}

describe('feed health', () => {
  let t: TestRedis;

  beforeEach(async () => {
    t = await openTestRedis();
  });
  afterEach(async () => {
    await t.close();
  });

  const listed = async (configured: string[]) =>
    (await readFeedReports(t.redis, t.keys, configured)).map(({ exchange, status, markets }) => ({ exchange, status, markets }));

  it('lists configured feeds, feeds with a current report and exchanges with markets, and forgets the rest', async () => {
    await writeFeedHealth(t.redis, t.keys, [report('binance'), report('okx'), report('coinbase')]);
    await upsertMarkets(t.redis, t.keys, [makeMarket({ exchange: 'kraken', quote: 'USD' }), makeMarket({ exchange: 'coinbase', quote: 'USD' })]);
    // okx: an earlier run's feed whose report has expired, without markets.
    await t.redis.del(t.keys.feed('okx'));
    // coinbase: its report expired and its last market was removed.
    await t.redis.del(t.keys.feed('coinbase'));
    await removeMarkets(t.redis, t.keys, ['coinbase:BTC/USD']);

    expect(await listed(['bybit'])).toEqual([
      { exchange: 'binance', status: 'LIVE', markets: 0 },
      { exchange: 'bybit', status: 'DOWN', markets: 0 },
      { exchange: 'kraken', status: 'DOWN', markets: 1 },
    ]);
    expect((await t.redis.smembers(t.keys.exchanges)).sort()).toEqual(['binance', 'kraken']);
  });

  it('forgets an exchange in the set that has neither markets nor a report', async () => {
    await t.redis.sadd(t.keys.exchanges, 'okx');
    expect(await listed([])).toEqual([]);
    expect(await t.redis.smembers(t.keys.exchanges)).toEqual([]);
  });

  it('reads back connections, and 0 from a report written without them', async () => {
    await writeFeedHealth(t.redis, t.keys, [report('binance', { connections: 3 }), report('kraken')]);
    await t.redis.hdel(t.keys.feed('kraken'), 'connections');
    const reports = await readFeedReports(t.redis, t.keys, []);
    expect(reports.map((r) => [r.exchange, r.connections])).toEqual([
      ['binance', 3],
      ['kraken', 0],
    ]);
  });

  it('makes every listening process follow an announced status change at once, not at its next refresh', async () => {
    const market = makeMarket({ exchange: 'binance', receivedAt: Date.now() });
    // Two serving processes, each with its own subscriber connection; their periodic refresh is an hour away.
    const subscribers = [new Redis(t.url), new Redis(t.url)];
    const views = subscribers.map((subscriber) => {
      const staleness = new Staleness(t.redis, t.keys, 60_000, silentLogger(), 3_600_000);
      staleness.listen(subscriber);
      return staleness;
    });
    try {
      await Promise.all(views.map((v) => v.start()));
      expect(views.map((v) => v.isStale(market))).toEqual([true, true]); // no report yet: DOWN
      await expect.poll(async () => (await t.redis.pubsub('NUMSUB', t.keys.feedStatusChannel))[1]).toBe(2);

      await writeFeedHealth(t.redis, t.keys, [report('binance', { status: 'LIVE' })]);
      expect(views.map((v) => v.isStale(market))).toEqual([true, true]); // written, not yet announced
      await announceFeedStatus(t.redis, t.keys, 'binance');
      await expect.poll(() => views.map((v) => v.isStale(market)), { timeout: 1000 }).toEqual([false, false]);

      await writeFeedHealth(t.redis, t.keys, [report('binance', { status: 'RECONNECTING' })]);
      await announceFeedStatus(t.redis, t.keys, 'binance');
      await expect.poll(() => views.map((v) => v.isStale(market)), { timeout: 1000 }).toEqual([true, true]);
    } finally {
      views.forEach((v) => v.stop());
      subscribers.forEach((s) => s.disconnect());
    }
  });
});
