/**
 * Feed leases against real process failures: a tickql child process (src/main.ts under tsx)
 * ingests a local exchange, and in-process apps on the same Redis prefix stand by.
 * - SIGSTOP past the lease, then SIGCONT: a standby has taken the feed over meanwhile, and the
 *   resumed process writes nothing afterwards, though it holds a newer state than anything
 *   written since (its queued markets are fenced), and it closes its exchange connection.
 * - SIGKILL (no goodbye): a standby takes the feed over within 5 s, writes every market's
 *   latest state, serves what comes after, and nothing rolls back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { silentLogger } from '../../src/logger';
import { leaseOwner } from '../../src/redis/acquire-lease';
import { createKeys } from '../../src/redis/keys';
import { decodeMarket } from '../../src/redis/market-codec';
import { queryData } from '../support/post-query';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { sleep } from '../support/wait-for';

const BTC = 'binance:BTC/USDT';
const ETH = 'binance:ETH/USDT';

describe('feed leases across processes that stop or die', () => {
  let t: TestRedis;
  let sim: BinanceSim;
  let env: Record<string, string>;
  let child: ChildProcess | null = null;
  let childLog = '';
  /** The child's instance id (its lease's owner). */
  let childInstance: string | null = null;
  const apps: App[] = [];
  const stopped = new Set<App>();

  beforeAll(async () => {
    t = await openTestRedis();
    sim = await BinanceSim.start({ markets: 5, tickMs: 0, pingIntervalMs: 0, snapshotOnSubscribe: true });
    env = {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      QUERY_CACHE_MS: '0',
      INGEST_BATCH_MS: '20',
      FEEDS: 'binance',
      BINANCE_WS_URL: sim.wsUrl,
      BINANCE_REST_URL: sim.restUrl,
      BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT',
    };
  });

  afterAll(async () => {
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      signalAll(child, 'SIGKILL');
      await once(child, 'exit');
    }
    await Promise.all(apps.filter((app) => !stopped.has(app)).map((app) => app.stop()));
    await sim?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  const keys = () => createKeys(t.prefix);
  const holder = async () => leaseOwner(await t.redis.get(keys().lease('binance')));
  async function stored(id: string) {
    const json = await t.redis.hget(keys().market, id);
    return json === null ? null : decodeMarket(json);
  }
  async function standby(): Promise<App> {
    const app = await buildApp(loadConfig({ ...env, LOG_LEVEL: 'silent', INGEST_BATCH_MS: '20' }), silentLogger(), { url: t.url, privateServer: null });
    apps.push(app);
    await app.start();
    return app;
  }
  async function stop(app: App): Promise<void> {
    stopped.add(app);
    await app.stop();
  }

  it('a process paused past its lease writes nothing once resumed: its queued markets are fenced', async () => {
    // A long batch window: what it receives waits a while in its write queue.
    // A process group of its own: a signal then reaches the supervisor and its processes alike,
    // as when a machine pauses or dies.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'info', INGEST_BATCH_MS: '1500', WORKERS: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    child.stdout!.on('data', (chunk: Buffer) => (childLog += chunk.toString()));
    await expect.poll(holder, { timeout: 15_000 }).not.toBeNull();
    childInstance = await holder();
    await expect.poll(() => sim.connections, { timeout: 10_000 }).toBe(1);
    // Subscribed, and the snapshot the subscription brought is written: what is pushed from
    // here on is newer than anything stored.
    await expect.poll(() => sim.subscribers('BTCUSDT'), { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await stored(BTC)) !== null, { timeout: 10_000 }).toBe(true);
    const now = Date.now() + 1;
    sim.push('BTCUSDT', { c: '100', E: now });
    await expect.poll(async () => (await stored(BTC))?.price, { timeout: 10_000 }).toBe(100);

    const b = await standby();
    expect(b.feeds).toHaveLength(0);
    expect(await holder()).toBe(childInstance);

    // Only the ingesting process gets this (the standby is not connected): a state newer than
    // any the exchange sends afterwards. It is queued, not yet written, when the process stops.
    expect(sim.push('BTCUSDT', { c: '111', E: now + 600_000 }).delivered).toBe(1);
    await sleep(200);
    signalAll(child, 'SIGSTOP');
    expect((await stored(BTC))?.price).toBe(100);
    await expect.poll(() => b.feeds.length, { timeout: 6000, interval: 20 }).toBe(1);
    expect(await holder()).toBe(b.services.keys.instance);
    await expect.poll(() => b.feeds[0]!.health().status, { timeout: 10_000, interval: 20 }).toBe('LIVE');
    sim.push('BTCUSDT', { c: '222', E: now + 300_000 });
    await expect.poll(async () => (await stored(BTC))?.price, { timeout: 10_000 }).toBe(222);

    signalAll(child, 'SIGCONT');
    // It finds its lease gone, drops its connection, and writes nothing of what it had queued.
    await expect.poll(() => /stopped ingesting feed binance/.test(childLog), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => sim.connections, { timeout: 10_000 }).toBe(1);
    await sleep(1000); // several of its batch windows and retries
    expect(await stored(BTC)).toMatchObject({ price: 222, updatedAt: now + 300_000 });
    expect(await holder()).toBe(b.services.keys.instance);
    const { feeds } = await queryData(b, '{ feeds { exchange ingestedBy } }');
    expect(feeds).toEqual([{ exchange: 'binance', ingestedBy: b.services.keys.instance }]);
  }, 30_000);

  it('a standby takes the feed of a process killed without a goodbye over within 5 s; nothing rolls back', async () => {
    // Hand the feed back to the child (now standing by) with a graceful stop, and start a new standby.
    const b = apps.find((app) => !stopped.has(app))!;
    await stop(b);
    await expect.poll(holder, { timeout: 3000, interval: 20 }).toBe(childInstance);
    await expect.poll(() => sim.connections, { timeout: 5000 }).toBe(1);
    const c = await standby();
    expect(c.feeds).toHaveLength(0);
    // Event times after the paused process's 111 (which it wrote when it took the feed back,
    // with the rest of what its last tenure knew).
    const before = Date.now() + 600_000;
    sim.push('BTCUSDT', { c: '333', E: before + 400_000 });
    await expect.poll(async () => (await stored(BTC))?.price, { timeout: 5000 }).toBe(333);
    const ethBefore = (await stored(ETH))!;

    const killedAt = Date.now();
    signalAll(child!, 'SIGKILL');
    await once(child!, 'exit');
    await expect.poll(() => c.feeds.length, { timeout: 5000, interval: 20 }).toBe(1);
    await expect.poll(() => c.feeds[0]!.health().status, { timeout: 5000, interval: 20 }).toBe('LIVE');
    sim.push('BTCUSDT', { c: '444', E: before + 500_000 });
    await expect.poll(async () => (await queryData(c, `{ market(id: "${BTC}") { price } }`)).market?.price, { timeout: 5000, interval: 20 }).toBe(444);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(await holder()).toBe(c.services.keys.instance);

    // The new holder wrote every market's latest state (the exchange's snapshot on subscribe).
    const eth = (await stored(ETH))!;
    expect(eth.receivedAt).toBeGreaterThanOrEqual(killedAt);
    expect(eth.updatedAt).toBeGreaterThanOrEqual(ethBefore.updatedAt);
    // Nothing rolls back: a frame older than the stored state changes nothing.
    sim.push('BTCUSDT', { c: '1', E: before + 450_000 });
    await sleep(300);
    expect(await stored(BTC)).toMatchObject({ price: 444, updatedAt: before + 500_000 });
    const { feeds } = await queryData(c, '{ feeds { exchange status ingestedBy } }');
    expect(feeds).toEqual([{ exchange: 'binance', status: 'LIVE', ingestedBy: c.services.keys.instance }]);
  }, 30_000);
});

/** Signals the child's whole process group: the supervisor and every process it runs. */
function signalAll(child: ChildProcess, signal: NodeJS.Signals): void {
  process.kill(-child.pid!, signal);
}
