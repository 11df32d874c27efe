/**
 * A watchlist (`filter.ids`) is answered from the ids themselves: lua/queryMarkets-n.lua's plan
 * `ids` looks each id up (ZMSCORE per key) and never reads a filter set, an index or the ids
 * zset whole, so among 20,000 markets it costs about what its own length does. Redis's MONITOR
 * shows every command a script runs; the test lists those the query ran on the live state
 * (scratch keys aside) and requires that each one reads at most the watchlist's worth. The file
 * has a redis-server of its own: ioredis's MONITOR connection can lose track of its replies
 * when other files' traffic floods the stream.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Market } from '../../src/market';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import { queryMarkets, type MarketQuery } from '../../src/redis/query-markets';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { referenceQuery } from '../support/reference-query';
import { openTestRedis, type TestRedis } from '../support/redis';
import { waitFor } from '../support/wait-for';

const SIZE = 20_000;
const MARKETS: Market[] = Array.from({ length: SIZE }, (_, i) =>
  makeMarket({ exchange: i % 2 === 0 ? 'binance' : 'okx', base: `M${i}`, quote: i % 10 === 0 ? 'BTC' : 'USDT', price: 1 + (i % 997), changePercent24h: (i % 41) - 20 }),
);
/** 50 ids spread over the universe: two unknown (one a case variant of a real id), one repeated. */
const WATCHLIST = [...Array.from({ length: 47 }, (_, i) => MARKETS[i * 401]!.id), 'binance:NOPE/USDT', 'okx:M1/usdt', MARKETS[0]!.id];

const QUERIES: Record<string, MarketQuery> = {
  'by change, with a quote and a price range': {
    sort: { field: 'changePercent24h', direction: 'desc' },
    filter: { ids: WATCHLIST, quotes: ['USDT'], ranges: [{ field: 'price', min: 10, max: null }] },
    offset: 0,
    limit: 50,
  },
  'by symbol, with two exchanges and a search': {
    sort: { field: 'symbol', direction: 'asc' },
    filter: { ids: WATCHLIST, exchanges: ['binance', 'okx'], search: 'M1' },
    offset: 2,
    limit: 10,
  },
};

interface Seen {
  readonly command: string;
  readonly args: string[];
}

describe('watchlist queries', () => {
  let server: LocalRedis;
  let t: TestRedis;
  let monitored: Redis;
  let monitor: Redis;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = await startLocalRedis();
    t = await openTestRedis(server.url);
    await upsertMarkets(t.redis, t.keys, MARKETS);
    monitored = new Redis(server.url);
    monitor = await monitored.monitor();
    // Commands of the scripts only.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source.includes('lua') && args.some((a) => a.startsWith(`{${t.prefix}}`))) seen.push({ command: args[0]!.toLowerCase(), args });
    });
  });
  afterAll(async () => {
    monitor?.disconnect();
    monitored?.disconnect();
    await t?.close();
    await server?.stop();
  });

  it.each(Object.entries(QUERIES))('%s: the right page, from lookups of the ids alone', async (_name, query) => {
    seen.length = 0;
    const page = await queryMarkets(t.redis, t.keys, query);
    const expected = referenceQuery(MARKETS, query);
    expect(page.plan).toBe('ids');
    expect(page.total).toBe(expected.total);
    expect(page.total).toBeGreaterThan(0);
    expect(page.items.map((m) => m.id)).toEqual(expected.items.map((m) => m.id));

    await waitFor(() => seen.some((c) => c.command === 'hmget'), "the script's HMGET in MONITOR");
    const scratch = `{${t.prefix}}:tmp:`;
    const onLiveState = seen.filter((c) => c.args.slice(1).some((a) => a.startsWith(`{${t.prefix}}`) && !a.startsWith(scratch)));
    for (const { command, args } of onLiveState) {
      const what = `${command} ${args.slice(1, 4).join(' ')}`;
      if (command === 'zmscore') expect(args.length - 2, what).toBeLessThanOrEqual(WATCHLIST.length); // the ids still in the running
      else if (command === 'hmget') expect(args.length - 2, what).toBeLessThanOrEqual(query.limit); // the page
      // Candidates with the sort index: Redis iterates the smaller set, the candidates.
      else if (command === 'zinterstore') expect(args[3]!.startsWith(scratch), what).toBe(true);
      else expect.fail(`${what}: a command that may read the live state beyond the watchlist`);
    }
    expect(onLiveState.filter((c) => c.command === 'zmscore').length).toBeGreaterThan(1);
    expect(onLiveState.length).toBeLessThanOrEqual(10);
  });
});
