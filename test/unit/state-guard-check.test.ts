/**
 * StateGuard.check against a scripted Redis whose replies the test releases one by one, so the
 * order of "a check reads the marker" and "the marker disappears" is exact: a caller that
 * asks for a check after the marker is gone must get a check that reads Redis after that.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StateGuard } from '../../src/ingest/state-guard';
import { silentLogger } from '../../src/logger';

/** The part of ioredis StateGuard uses; each exec reads the marker when called and replies when released. */
function scriptedRedis() {
  let marker = false;
  const pending: Array<() => void> = [];
  const redis = {
    status: 'ready',
    on: () => redis,
    off: () => redis,
    del: async () => 1,
    pipeline: () => {
      const chain = {
        set: () => chain,
        info: () => chain,
        exec: () => {
          const previous = marker ? '1' : null;
          marker = true;
          return new Promise((resolve) => pending.push(() => resolve([[null, previous], [null, 'run_id:abc\r\n']])));
        },
      };
      return chain;
    },
  };
  return {
    redis: redis as unknown as Redis,
    dropMarker: () => void (marker = false),
    /** Releases the oldest reply and lets the guard handle it. */
    release: async () => {
      pending.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    },
    get waiting() {
      return pending.length;
    },
  };
}

describe('StateGuard.check', () => {
  it('answers with a check that read Redis after the call, not one already under way', async () => {
    const r = scriptedRedis();
    let restores = 0;
    const guard = new StateGuard({ redis: r.redis, markerKey: 'm', restore: () => ++restores, logger: silentLogger(), intervalMs: 60_000 });
    guard.start(); // the first check: no marker yet, which is not counted as a loss
    await r.release();
    expect(guard.stats.restores).toBe(0);

    const underWay = guard.check(); // reads the marker now: present
    r.dropMarker(); // Redis loses the state while that check waits for its reply
    let restoresWhenAnswered: number | null = null;
    const asked = guard.check().then(() => void (restoresWhenAnswered = guard.stats.restores));
    await r.release(); // the check under way: marker was present
    await underWay;
    expect(restoresWhenAnswered).toBeNull(); // that check cannot answer for a loss after it read
    expect(r.waiting).toBe(1); // a follow-up check has read Redis after the loss
    await r.release();
    await asked;
    expect(restoresWhenAnswered).toBe(1);
    guard.stop();
  });
});
