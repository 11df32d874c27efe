/**
 * StateGuard against a real Redis: it restores when its marker is gone, and a reconnect to the
 * same server with the state intact (a network blip) costs no restore.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateGuard } from '../../src/ingest/state-guard';
import { silentLogger } from '../../src/logger';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';

describe('StateGuard', () => {
  let t: TestRedis;
  let client: Redis;
  let guard: StateGuard;
  let restoreCalls = 0;

  beforeEach(async () => {
    t = await openTestRedis();
    client = new Redis(t.url, { enableOfflineQueue: false, lazyConnect: true });
    await client.connect();
    restoreCalls = 0;
    guard = new StateGuard({
      redis: client,
      markerKey: t.keys.ingestMarker('test'),
      restore: () => ++restoreCalls,
      logger: silentLogger(),
      intervalMs: 60_000, // the test calls check() itself
    });
  });

  afterEach(async () => {
    guard.stop();
    client.disconnect();
    await t.close();
  });

  it('sets its marker on the first check, and restores only when the marker is gone', async () => {
    guard.start();
    await guard.check();
    expect(await t.redis.pttl(t.keys.ingestMarker('test'))).toBeGreaterThan(25_000);
    const afterFirst = restoreCalls;
    await guard.check();
    expect(restoreCalls).toBe(afterFirst);
    expect(guard.stats.restores).toBe(0);

    await t.redis.del(t.keys.ingestMarker('test'));
    await guard.check();
    expect(restoreCalls).toBe(afterFirst + 1);
    expect(guard.stats.restores).toBe(1);
  });

  it('does not restore after a reconnect to the same server with the state intact', async () => {
    guard.start();
    await guard.check();
    const readyAgain = new Promise<void>((resolve) => client.once('ready', () => resolve()));
    client.disconnect(true); // drop the socket; ioredis reconnects, and 'ready' runs a check
    await readyAgain;
    await guard.check();
    expect(guard.stats.restores).toBe(0);
  });

  it('lets every process sharing the Redis notice a flush, not just the first to check', async () => {
    let otherRestores = 0;
    const other = new StateGuard({
      redis: client,
      markerKey: t.keys.ingestMarker('other'),
      restore: () => ++otherRestores,
      logger: silentLogger(),
      intervalMs: 60_000,
    });
    guard.start();
    other.start();
    await Promise.all([guard.check(), other.check()]);
    await deletePrefix(t.redis, t.prefix); // a FLUSHALL, limited to this test's keys (the server is shared)
    await guard.check(); // sets its own marker again before the other process looks
    await other.check();
    expect([guard.stats.restores, other.stats.restores]).toEqual([1, 1]);
    other.stop();
  });

  it('removes its marker when stopped', async () => {
    guard.start();
    await guard.check();
    guard.stop();
    await expect.poll(() => t.redis.exists(t.keys.ingestMarker('test'))).toBe(0);
  });
});
