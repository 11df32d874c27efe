/**
 * One ingester per feed across processes (src/feed-leases.ts): three apps on one Redis prefix,
 * all configured for the same feed of one local exchange. Exactly one opens exchange
 * connections; when it is cut off from Redis another takes the feed over within 5 s and
 * serves what the exchange sends afterwards; a graceful stop hands the feed over at once; and
 * `feeds { ingestedBy }` names the same process on every instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { STANDBY_MS } from '../../src/feed-leases';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { silentLogger } from '../../src/logger';
import { decodeMarket } from '../../src/redis/market-codec';
import { queryData } from '../support/post-query';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { sleep } from '../support/wait-for';

const BTC = 'binance:BTC/USDT';

describe('one ingester per feed across processes', () => {
  let t: TestRedis;
  let sim: BinanceSim;
  const apps: App[] = [];
  const stopped = new Set<App>();
  /** Apps that can still reach Redis. */
  const reachable = new Set<App>();
  let maxConnections = 0;
  let sampler: NodeJS.Timeout;

  beforeAll(async () => {
    t = await openTestRedis();
    // Like a real exchange's ticker stream, a new subscription gets each market's current state.
    sim = await BinanceSim.start({ markets: 5, tickMs: 0, pingIntervalMs: 0, snapshotOnSubscribe: true });
    sampler = setInterval(() => (maxConnections = Math.max(maxConnections, sim.connections)), 5);
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      LOG_LEVEL: 'silent',
      QUERY_CACHE_MS: '0',
      INGEST_BATCH_MS: '5',
      FEEDS: 'binance',
      BINANCE_WS_URL: sim.wsUrl,
      BINANCE_REST_URL: sim.restUrl,
      BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT',
    });
    for (let i = 0; i < 3; i++) apps.push(await buildApp(config, silentLogger(), { url: t.url, privateServer: null }));
    await Promise.all(apps.map((app) => app.start()));
    for (const app of apps) reachable.add(app);
  });

  afterAll(async () => {
    clearInterval(sampler);
    await Promise.all(apps.filter((app) => !stopped.has(app)).map((app) => app.stop()));
    await sim?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  const holders = () => apps.filter((app) => !stopped.has(app) && app.feeds.length > 0);
  const instance = (app: App) => app.services.keys.instance;
  async function ingestedBy(app: App): Promise<string | null> {
    const { feeds } = await queryData(app, '{ feeds { exchange ingestedBy } }');
    return (feeds as Array<{ exchange: string; ingestedBy: string | null }>).find((f) => f.exchange === 'binance')?.ingestedBy ?? null;
  }
  async function price(app: App): Promise<number | null> {
    return (await queryData(app, `{ market(id: "${BTC}") { price } }`)).market?.price ?? null;
  }
  /** Sends a new BTC price, with an event time after every earlier one. */
  let sequence = 0;
  function move(value: number): void {
    sim.push('BTCUSDT', { c: String(value), E: Date.now() + ++sequence });
  }

  it('ingests each feed in exactly one process; every instance names it in feeds.ingestedBy', async () => {
    expect(holders()).toHaveLength(1);
    await expect.poll(() => sim.connections, { timeout: 5000 }).toBe(1);
    await sleep(4 * STANDBY_MS); // several standby rounds: nobody else takes it
    expect(holders()).toHaveLength(1);
    expect(sim.connections).toBe(1);
    const holder = holders()[0]!;
    for (const app of apps) expect(await ingestedBy(app)).toBe(instance(holder));
    move(101.5);
    for (const app of apps) await expect.poll(() => price(app), { timeout: 5000 }).toBe(101.5);
    expect(maxConnections).toBe(1);
  });

  it('a holder whose lease another process took writes nothing more, even before it notices: Redis fences the write', async () => {
    const holder = holders()[0]!;
    const before = await price(holder);
    // Another process holds the lease now (as after a pause or a partition the holder has not noticed).
    await t.redis.set(t.keys.lease('binance'), '999:intruder', 'PX', 1500);
    const stored = decodeMarket((await t.redis.hget(t.keys.market, BTC))!);
    const fencedBefore = holder.writer.stats.fenced;
    holder.writer.push({ ...stored, price: 999.5, updatedAt: stored.updatedAt + 1_000_000 });
    await holder.writer.flush(); // sent at once, before its next renewal
    expect(holder.writer.stats.fenced).toBeGreaterThan(fencedBefore);
    expect(await price(holder)).toBe(before);
    // Its next renewal finds the lease taken: it stops ingesting, and the fenced market is dropped.
    await expect.poll(() => holder.feeds.length, { timeout: 3000, interval: 20 }).toBe(0);
    for (const app of apps) expect(await ingestedBy(app)).toBe('intruder');
    // Once that lease lapses, a standby (any of the three) takes the feed over.
    await expect.poll(() => holders().length, { timeout: 5000, interval: 20 }).toBe(1);
    await expect.poll(() => holders()[0]!.feeds[0]?.health().status, { timeout: 5000, interval: 20 }).toBe('LIVE');
    await sleep(200);
    expect(await price(holder)).not.toBe(999.5);
    expect(holder.writer.pendingCount).toBe(0);
  });

  it('a standby takes the feed over within 5 s when the holder is cut off from Redis, and serves what comes after', async () => {
    const old = holders()[0]!;
    const cutAt = Date.now();
    // Its lease can no longer be renewed: for all it knows, another may take over.
    for (const connection of old.ingestConnections) connection.disconnect();
    old.services.redis.disconnect();
    reachable.delete(old);
    await expect.poll(() => holders().filter((app) => app !== old).length, { timeout: 5000, interval: 20 }).toBe(1);
    const successor = holders().find((app) => app !== old)!;
    // The process cut off has stopped ingesting before the lease could expire.
    expect(old.feeds).toHaveLength(0);
    await expect.poll(() => successor.feeds[0]?.health().status, { timeout: 5000, interval: 20 }).toBe('LIVE');
    move(202.25);
    await expect.poll(() => price(successor), { timeout: 5000, interval: 20 }).toBe(202.25);
    const tookMs = Date.now() - cutAt;
    expect(tookMs).toBeLessThan(5000);
    for (const app of reachable) {
      expect(await ingestedBy(app)).toBe(instance(successor));
      expect(await price(app)).toBe(202.25);
    }
    expect(maxConnections).toBe(1); // never two processes connected to the exchange at once
  });

  it('a graceful stop gives the lease up, and a standby takes the feed over at once', async () => {
    const old = holders().find((app) => reachable.has(app))!;
    await old.stop();
    stopped.add(old);
    reachable.delete(old);
    const stoppedAt = Date.now();
    await expect.poll(() => holders().filter((app) => reachable.has(app)).length, { timeout: 3000, interval: 20 }).toBe(1);
    expect(Date.now() - stoppedAt).toBeLessThan(STANDBY_MS + 500);
    const successor = holders().find((app) => reachable.has(app))!;
    await expect.poll(() => successor.feeds[0]?.health().status, { timeout: 5000, interval: 20 }).toBe('LIVE');
    move(303.125);
    await expect.poll(() => price(successor), { timeout: 5000, interval: 20 }).toBe(303.125);
    expect(await ingestedBy(successor)).toBe(instance(successor));
    expect(maxConnections).toBe(1);
  });
});
