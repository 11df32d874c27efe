/**
 * Coverage and the leftover sweep (src/redis/coverage.ts) against a real Redis, with two or
 * three simulated ingesting processes sharing one prefix: each has its own Keys (so its own
 * instance id) and sets its marker as StateGuard does.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Market } from '../../src/market';
import { acquireLease } from '../../src/redis/acquire-lease';
import { publishCoverage, sweepLeftovers, SWEEP_ATTEMPTS, withdrawCoverage } from '../../src/redis/coverage';
import { releaseLease } from '../../src/redis/release-lease';
import { createKeys, type Keys } from '../../src/redis/keys';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { sleep } from '../support/wait-for';

const A_MARKETS = [makeMarket({ exchange: 'binance', base: 'BTC' }), makeMarket({ exchange: 'binance', base: 'ETH' })];
const B_MARKETS = [makeMarket({ exchange: 'kraken', base: 'BTC', quote: 'USD' }), makeMarket({ exchange: 'kraken', base: 'ETH', quote: 'EUR' })];
/** Nobody covers these: an exchange no process ingests, and a symbol no longer subscribed. */
const LEFTOVERS = [makeMarket({ exchange: 'okx', base: 'XRP' }), makeMarket({ exchange: 'binance', base: 'SOL' })];

const ids = (markets: readonly Market[]) => markets.map((m) => m.id);
const sorted = (list: readonly string[]) => [...list].sort();

describe('coverage and the leftover sweep', () => {
  let t: TestRedis;
  /** Two processes sharing the prefix. */
  let a: Keys;
  let b: Keys;

  beforeEach(async () => {
    t = await openTestRedis();
    a = t.keys;
    b = createKeys(t.prefix);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await t.close();
  });

  /** What StateGuard does for a process every second. */
  const setMarker = (keys: Keys, ttlMs = 30_000) => t.redis.set(keys.ingestMarker(keys.instance), '1', 'PX', ttlMs);
  /** A process that is up: marker set, coverage published, markets written. */
  async function ingesting(keys: Keys, markets: readonly Market[]): Promise<void> {
    await setMarker(keys);
    await publishCoverage(t.redis, keys, keys.instance, ids(markets));
    await upsertMarkets(t.redis, keys, markets);
  }
  const storedIds = async () => sorted(await t.redis.zrange(t.keys.ids, 0, -1));

  it('a sweep by either process removes only what neither covers', async () => {
    await ingesting(a, A_MARKETS);
    await ingesting(b, B_MARKETS);
    for (const sweeper of [a, b]) {
      await upsertMarkets(t.redis, t.keys, LEFTOVERS);
      expect(sorted((await sweepLeftovers(t.redis, sweeper)).removed)).toEqual(sorted(ids(LEFTOVERS)));
      expect(await storedIds()).toEqual(sorted(ids([...A_MARKETS, ...B_MARKETS])));
    }
    expect((await sweepLeftovers(t.redis, a)).removed).toEqual([]);
    expect(sorted(await t.redis.smembers(t.keys.ingesters))).toEqual(sorted([a.instance, b.instance]));
  });

  it.each([
    ['expired', () => setMarker(b, 20).then(() => sleep(60))],
    ['deleted', () => t.redis.del(b.ingestMarker(b.instance))],
  ])("removes a dead process's markets when its marker is %s, and drops it from the registry", async (_how, die) => {
    await ingesting(a, A_MARKETS);
    // B also covers one of A's markets: A still does, so it stays.
    await ingesting(b, [...B_MARKETS, A_MARKETS[0]!]);
    await die();
    expect(sorted((await sweepLeftovers(t.redis, a)).removed)).toEqual(sorted(ids(B_MARKETS)));
    expect(await storedIds()).toEqual(sorted(ids(A_MARKETS)));
    expect(await t.redis.smembers(t.keys.ingesters)).toEqual([a.instance]);
    expect(await t.redis.exists(t.keys.covers(b.instance))).toBe(0);
  });

  it('drops a dead process from the registry even when nothing is left over', async () => {
    await ingesting(a, A_MARKETS);
    await setMarker(b);
    await publishCoverage(t.redis, b, b.instance, ids(A_MARKETS));
    await t.redis.del(b.ingestMarker(b.instance));
    expect((await sweepLeftovers(t.redis, a)).removed).toEqual([]);
    expect(await t.redis.smembers(t.keys.ingesters)).toEqual([a.instance]);
    expect(await t.redis.exists(t.keys.covers(b.instance))).toBe(0);
  });

  it("makes a withdrawn process's markets leftovers", async () => {
    await ingesting(a, A_MARKETS);
    await ingesting(b, B_MARKETS);
    await withdrawCoverage(t.redis, b, b.instance);
    expect(await t.redis.smembers(t.keys.ingesters)).toEqual([a.instance]);
    expect(sorted((await sweepLeftovers(t.redis, a)).removed)).toEqual(sorted(ids(B_MARKETS)));
  });

  it('replaces a coverage whole: a market left out of it is a leftover', async () => {
    await ingesting(a, A_MARKETS);
    await publishCoverage(t.redis, a, a.instance, ids(A_MARKETS.slice(1)));
    expect((await sweepLeftovers(t.redis, a)).removed).toEqual(ids(A_MARKETS.slice(0, 1)));
    await publishCoverage(t.redis, a, a.instance, []);
    expect((await sweepLeftovers(t.redis, a)).removed).toEqual(ids(A_MARKETS.slice(1)));
    expect(await t.redis.smembers(t.keys.ingesters)).toEqual([a.instance]);
  });

  /**
   * Runs `meanwhile` once, after the sweep has read the registry and computed its candidates
   * (its ZDIFF) and before it removes them.
   */
  function duringSweep(meanwhile: () => Promise<unknown>) {
    const zdiff = t.redis.zdiff.bind(t.redis) as (...args: unknown[]) => Promise<string[]>;
    return vi.spyOn(t.redis, 'zdiff').mockImplementation((async (...args: unknown[]) => {
      const candidates = await zdiff(...args);
      await meanwhile();
      return candidates;
    }) as never);
  }

  it('never removes the markets of a process that registers while the sweep runs', async () => {
    await ingesting(a, A_MARKETS);
    // B's markets are in Redis (from its previous run) but nobody covers them yet.
    await upsertMarkets(t.redis, b, B_MARKETS);
    let registered = false;
    const spy = duringSweep(async () => {
      if (registered) return;
      registered = true;
      await setMarker(b);
      await publishCoverage(t.redis, b, b.instance, ids(B_MARKETS));
    });
    expect((await sweepLeftovers(t.redis, a)).removed).toEqual([]);
    expect(spy).toHaveBeenCalledTimes(2); // refused once, then read again
    expect(await storedIds()).toEqual(sorted(ids([...A_MARKETS, ...B_MARKETS])));
  });

  it('never removes markets that a registered process starts covering while the sweep runs', async () => {
    await ingesting(a, A_MARKETS);
    await ingesting(b, []);
    await upsertMarkets(t.redis, b, B_MARKETS);
    const spy = duringSweep(() => publishCoverage(t.redis, b, b.instance, ids(B_MARKETS.slice(0, 1))));
    expect((await sweepLeftovers(t.redis, a)).removed).toEqual(ids(B_MARKETS.slice(1)));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(await storedIds()).toEqual(sorted(ids([...A_MARKETS, ...B_MARKETS.slice(0, 1)])));
  });

  describe('a feed changing hands (feed leases)', () => {
    const TIMES = { ttlMs: 3000, traceTtlMs: 30_000 };
    /** A holds binance's lease and covers its markets for that tenure; `lease` is its value. */
    async function aHoldsBinance(): Promise<string> {
      const { lease } = await acquireLease(t.redis, a, 'binance', a.instance, TIMES);
      await setMarker(a);
      await publishCoverage(t.redis, a, a.instance, ids(A_MARKETS), [lease]);
      await upsertMarkets(t.redis, a, A_MARKETS);
      return lease;
    }

    it('keeps a feed’s markets while it has no holder but had one recently, and while its new holder has not published', async () => {
      const lease = await aHoldsBinance();
      await ingesting(b, B_MARKETS);
      // A stops gracefully: it withdraws its coverage, removes its marker, gives the lease up.
      await withdrawCoverage(t.redis, a, a.instance);
      await t.redis.del(a.ingestMarker(a.instance));
      expect(await releaseLease(t.redis, a, 'binance', lease)).toBe(true);
      // Between tenures: no lease, but the holder trace says someone held it a moment ago.
      expect((await sweepLeftovers(t.redis, b)).removed).toEqual([]);
      // B takes binance over: until it publishes coverage of this tenure, the markets stay.
      const taken = await acquireLease(t.redis, b, 'binance', b.instance, TIMES);
      expect(taken.held).toBe(true);
      await publishCoverage(t.redis, b, b.instance, [...ids(B_MARKETS), ...ids(A_MARKETS)]); // no tenure member yet
      await upsertMarkets(t.redis, t.keys, LEFTOVERS); // okx and an unsubscribed binance symbol
      expect((await sweepLeftovers(t.redis, b)).removed).toEqual(ids(LEFTOVERS.slice(0, 1))); // okx has no lease nor trace: a leftover
      expect(await storedIds()).toEqual(sorted(ids([...A_MARKETS, ...B_MARKETS, ...LEFTOVERS.slice(1)])));
      // Once B's coverage carries the tenure, binance is settled: what B does not cover goes.
      await publishCoverage(t.redis, b, b.instance, [...ids(B_MARKETS), ...ids(A_MARKETS.slice(1))], [taken.lease]);
      expect(sorted((await sweepLeftovers(t.redis, b)).removed)).toEqual(sorted([A_MARKETS[0]!.id, LEFTOVERS[1]!.id]));
    });

    it('keeps a dead holder’s feed while its trace lasts, and removes it once the trace is gone', async () => {
      await aHoldsBinance();
      await ingesting(b, B_MARKETS);
      // A dies: its marker (and so its coverage) and its lease lapse; the trace has not yet.
      await t.redis.del(a.ingestMarker(a.instance), a.lease('binance'));
      expect((await sweepLeftovers(t.redis, b)).removed).toEqual([]);
      expect(await storedIds()).toEqual(sorted(ids([...A_MARKETS, ...B_MARKETS])));
      // Nobody took binance over within the trace's lifetime: it is no longer ingested anywhere.
      await t.redis.del(a.leaseTrace('binance'));
      expect(sorted((await sweepLeftovers(t.redis, b)).removed)).toEqual(sorted(ids(A_MARKETS)));
    });

    it('removes nothing of a feed held by a process whose coverage lapsed with its marker', async () => {
      await aHoldsBinance();
      await ingesting(b, B_MARKETS);
      await t.redis.del(a.ingestMarker(a.instance)); // the lease is still A's
      expect((await sweepLeftovers(t.redis, b)).removed).toEqual([]);
    });
  });

  it(`gives up when processes keep registering through ${SWEEP_ATTEMPTS} attempts, removing nothing`, async () => {
    await ingesting(a, A_MARKETS);
    await upsertMarkets(t.redis, t.keys, LEFTOVERS);
    duringSweep(async () => {
      const newcomer = createKeys(t.prefix);
      await setMarker(newcomer);
      await publishCoverage(t.redis, newcomer, newcomer.instance, []);
    });
    await expect(sweepLeftovers(t.redis, a)).rejects.toThrow(/registered during each of 5 attempts/);
    expect(await storedIds()).toEqual(sorted(ids([...A_MARKETS, ...LEFTOVERS])));
  });
});
