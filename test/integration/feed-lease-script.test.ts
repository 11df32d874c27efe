/**
 * lua/acquireLease-3.lua and lua/releaseLease-1.lua through their wrappers, against a real
 * Redis: one holder at a time, a fencing token that grows with each new tenure only, expiry,
 * and release by the holder only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLease, leaseOwner, leaseToken } from '../../src/redis/acquire-lease';
import { createKeys, type Keys } from '../../src/redis/keys';
import { releaseLease } from '../../src/redis/release-lease';
import { callScript } from '../../src/redis/scripts';
import { sleep } from '../support/wait-for';
import { openTestRedis, type TestRedis } from '../support/redis';

const TIMES = { ttlMs: 3000, traceTtlMs: 30_000 };

describe('feed lease scripts', () => {
  let t: TestRedis;
  let keys: Keys;

  beforeAll(async () => {
    t = await openTestRedis();
    keys = createKeys(t.prefix);
  });
  afterAll(async () => {
    await t.close();
  });

  it('acquires a free lease with a new token, and refuses it to others while it is held', async () => {
    const first = await acquireLease(t.redis, keys, 'binance', 'a', TIMES);
    expect(first).toEqual({ held: true, lease: '1:a' });
    expect(await t.redis.get(keys.lease('binance'))).toBe('1:a');
    expect(await t.redis.get(keys.fence('binance'))).toBe('1');
    expect(await t.redis.get(keys.leaseTrace('binance'))).toBe('a');
    const ttl = await t.redis.pttl(keys.lease('binance'));
    expect(ttl).toBeGreaterThan(2500);
    expect(ttl).toBeLessThanOrEqual(3000);
    expect(await t.redis.pttl(keys.fence('binance'))).toBe(-1); // never expires

    expect(await acquireLease(t.redis, keys, 'binance', 'b', TIMES)).toEqual({ held: false, lease: '1:a' });
    expect(await t.redis.get(keys.fence('binance'))).toBe('1');
    expect(await t.redis.get(keys.leaseTrace('binance'))).toBe('a');
    // Another feed is another lease, with its own counter.
    expect(await acquireLease(t.redis, keys, 'okx', 'b', TIMES)).toEqual({ held: true, lease: '1:b' });
  });

  it('renews the holder’s lease under the same token, restarting its time to live', async () => {
    await acquireLease(t.redis, keys, 'renew', 'a', { ttlMs: 500, traceTtlMs: 30_000 });
    await sleep(300);
    expect(await acquireLease(t.redis, keys, 'renew', 'a', { ttlMs: 500, traceTtlMs: 30_000 })).toEqual({ held: true, lease: '1:a' });
    expect(await t.redis.pttl(keys.lease('renew'))).toBeGreaterThan(400);
    await sleep(300); // 600 ms after the first call: alive only because it was renewed
    expect(await t.redis.get(keys.lease('renew'))).toBe('1:a');
    expect(await t.redis.get(keys.fence('renew'))).toBe('1');
  });

  it('lets the lease expire, and gives the next holder the next token; the trace outlives the lease', async () => {
    await acquireLease(t.redis, keys, 'expiry', 'a', { ttlMs: 150, traceTtlMs: 30_000 });
    expect(await acquireLease(t.redis, keys, 'expiry', 'b', TIMES)).toMatchObject({ held: false });
    await sleep(250);
    expect(await t.redis.get(keys.lease('expiry'))).toBeNull();
    expect(await t.redis.get(keys.leaseTrace('expiry'))).toBe('a');
    expect(await acquireLease(t.redis, keys, 'expiry', 'b', TIMES)).toEqual({ held: true, lease: '2:b' });
    expect(await t.redis.get(keys.leaseTrace('expiry'))).toBe('b');
    // The same instance taking a lapsed lease back begins a new tenure too: a new token.
    await t.redis.del(keys.lease('expiry'));
    expect(await acquireLease(t.redis, keys, 'expiry', 'b', TIMES)).toEqual({ held: true, lease: '3:b' });
  });

  it('releases only the value held: not another holder’s lease, nor a later tenure of the same instance', async () => {
    const { lease } = await acquireLease(t.redis, keys, 'release', 'a', TIMES);
    expect(await releaseLease(t.redis, keys, 'release', '7:b')).toBe(false);
    expect(await releaseLease(t.redis, keys, 'release', '0:a')).toBe(false);
    expect(await t.redis.get(keys.lease('release'))).toBe(lease);
    expect(await releaseLease(t.redis, keys, 'release', lease)).toBe(true);
    expect(await t.redis.get(keys.lease('release'))).toBeNull();
    expect(await releaseLease(t.redis, keys, 'release', lease)).toBe(false);
    // The counter and the trace stay: the next tenure's token is new, and the sweep waits.
    expect(await t.redis.get(keys.fence('release'))).toBe('1');
    expect(await t.redis.get(keys.leaseTrace('release'))).toBe('a');
    expect(await acquireLease(t.redis, keys, 'release', 'b', TIMES)).toEqual({ held: true, lease: '2:b' });
  });

  it('names the owner and the token of a lease value', () => {
    expect(leaseOwner('12:abc')).toBe('abc');
    expect(leaseToken('12:abc')).toBe(12);
    expect(leaseOwner(null)).toBeNull();
    expect(leaseOwner('garbage')).toBeNull();
  });

  it('rejects a call without an instance or with a bad time to live', async () => {
    const leaseKeys = [keys.lease('x'), keys.fence('x'), keys.leaseTrace('x')];
    await expect(callScript(t.redis, 'acquireLease', leaseKeys, ['', 1000, 1000])).rejects.toThrow(/ERR acquireLease: ARGV\[1\]/);
    await expect(callScript(t.redis, 'acquireLease', leaseKeys, ['a', 0, 1000])).rejects.toThrow(/ERR acquireLease: the times to live/);
    await expect(callScript(t.redis, 'releaseLease', [keys.lease('x')], [''])).rejects.toThrow(/ERR releaseLease/);
  });
});
