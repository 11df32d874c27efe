import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger';
import { createRedisClient } from '../../src/redis/connect';
import { startLocalRedis } from '../../src/redis/local-server';
import { createKeys } from '../../src/redis/keys';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { createPricePubSub } from '../../src/subscriptions/price-pubsub';
import { PriceUpdates } from '../../src/subscriptions/price-updates';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';

describe('PriceUpdates over Redis pub/sub', () => {
  let t: TestRedis;
  let subscriber: Redis;
  let updates: PriceUpdates;

  beforeAll(async () => {
    t = await openTestRedis();
  });
  // Each test gets its own subscriber connection and counters.
  beforeEach(() => {
    subscriber = new Redis(t.url);
    const pubsub = createPricePubSub(t.redis, subscriber, silentLogger());
    updates = new PriceUpdates(pubsub, t.keys, silentLogger());
  });
  afterEach(() => {
    updates.close();
    subscriber.disconnect();
  });
  afterAll(async () => {
    await t.close();
  });

  const btc = (price: number, updatedAt: number) => makeMarket({ base: 'BTC', price, updatedAt });

  const eth = (price: number, updatedAt: number) => makeMarket({ base: 'ETH', price, updatedAt });

  it('gives a client that does not read the latest state of each market, not a backlog', async () => {
    const stream = updates.subscribe({ exchanges: ['binance'] });
    await stream.ready;
    for (let i = 1; i <= 50; i++) await upsertMarkets(t.redis, t.keys, [btc(i, i), eth(-i + 100, i)]);
    await expect.poll(() => stream.conflated).toBe(98);
    expect(stream.size).toBe(2);
    expect((await stream.next()).value).toMatchObject({ id: 'binance:BTC/USDT', price: 50 });
    expect((await stream.next()).value).toMatchObject({ id: 'binance:ETH/USDT', price: 50 });
    await stream.return();
  });

  it('listens only to the channels of the markets asked for, and releases them when the client leaves', async () => {
    const stream = updates.subscribe({ ids: ['binance:ETH/USDT'] });
    const channel = t.keys.tickChannel('binance:ETH/USDT');
    await stream.ready;
    expect(await t.redis.pubsub('NUMSUB', channel)).toEqual([channel, 1]);
    const allChannels = (await t.redis.pubsub('CHANNELS', `${t.prefix}:*`)) as string[];
    expect(allChannels).toEqual([channel]);

    await upsertMarkets(t.redis, t.keys, [btc(1000, 1000), eth(2000, 1000)]);
    expect((await stream.next()).value).toMatchObject({ id: 'binance:ETH/USDT', price: 2000 });
    expect(stream.size).toBe(0); // BTC never reached it

    await stream.return();
    await expect.poll(() => t.redis.pubsub('NUMSUB', channel)).toEqual([channel, 0]);
  });

  it('drops and counts a message that is not a market', async () => {
    const stream = updates.subscribe({ ids: ['binance:SOL/USDT'] });
    const channel = t.keys.tickChannel('binance:SOL/USDT');
    await stream.ready;
    await t.redis.publish(channel, '{"not":"a market"}');
    await t.redis.publish(channel, JSON.stringify(makeMarket({ base: 'SOL', price: 7 })));
    expect((await stream.next()).value).toMatchObject({ id: 'binance:SOL/USDT', price: 7 });
    expect(updates.droppedMessages).toBe(1);
    await stream.return();
  });

  it('decodes a market reaching one process by its channel and by a pattern once, for both', async () => {
    const byId = updates.subscribe({ ids: ['binance:BTC/USDT'] });
    const wide = updates.subscribe({ exchanges: ['binance'] });
    await Promise.all([byId.ready, wide.ready]);
    // Later than any state the tests above left in Redis.
    await upsertMarkets(t.redis, t.keys, [btc(1, 5000)]);
    const [a, b] = await Promise.all([byId.next(), wide.next()]);
    expect(a.value).toMatchObject({ id: 'binance:BTC/USDT', price: 1 });
    // One object: shared delivery executes and serializes it once for both subscriptions.
    expect(b.value).toBe(a.value);
    await upsertMarkets(t.redis, t.keys, [btc(2, 5001)]);
    const [c, d] = await Promise.all([byId.next(), wide.next()]);
    expect(c.value).toMatchObject({ price: 2 });
    expect(d.value).toBe(c.value);
    expect(c.value).not.toBe(a.value);
    await Promise.all([byId.return(), wide.return()]);
  });

  it('starts a snapshot subscription with the current states, then the changes, losing none in between', async () => {
    const snapBtc = (price: number, updatedAt: number) => makeMarket({ exchange: 'snap', base: 'BTC', price, updatedAt });
    const snapEth = (price: number, updatedAt: number) => makeMarket({ exchange: 'snap', base: 'ETH', price, updatedAt });
    await upsertMarkets(t.redis, t.keys, [snapBtc(100, 10), snapEth(200, 10)]);
    // The read of the current states is slow: an update lands while it runs, and the state it
    // returns is the one before that update. A plain subscription on the same pattern shows
    // when the update has reached the process (both listeners get it in the same dispatch).
    const witness = updates.subscribe({ exchanges: ['snap'] });
    await witness.ready;
    const stale = [snapBtc(100, 10), snapEth(200, 10)];
    const stream = updates.subscribe({ exchanges: ['snap'] }, async () => {
      await upsertMarkets(t.redis, t.keys, [snapBtc(101, 11)]);
      await witness.next();
      return stale;
    });
    const first = [(await stream.next()).value, (await stream.next()).value];
    expect(first).toEqual(stale);
    expect((await stream.next()).value).toMatchObject({ id: 'snap:BTC/USDT', price: 101, updatedAt: 11 });
    // An update older than the snapshot's state of its market, arriving late, is dropped.
    await t.redis.publish(t.keys.tickChannel('snap:ETH/USDT'), JSON.stringify(snapEth(199, 9)));
    await upsertMarkets(t.redis, t.keys, [snapBtc(102, 12)]);
    expect((await stream.next()).value).toMatchObject({ id: 'snap:BTC/USDT', price: 102 });
    expect(stream.size).toBe(0);
    await stream.return();
    await witness.return();
  });

});

describe('PriceUpdates while Redis is away', () => {
  it('ends a subscription Redis could not make, and keeps nothing of it', async () => {
    const gone = await startLocalRedis();
    await gone.kill(); // nothing answers at its address now
    const commands = createRedisClient(gone.url, 'commands', silentLogger());
    const subscriber = createRedisClient(gone.url, 'subscriber', silentLogger());
    const pubsub = createPricePubSub(commands, subscriber, silentLogger());
    const updates = new PriceUpdates(pubsub, createKeys('away'), silentLogger());
    try {
      // Alone on its channel, so RedisPubSub's own promise for SUBSCRIBE has no other taker:
      // unhandled, its rejection would fail this run.
      const stream = updates.subscribe({ ids: ['binance:BTC/USDT'] });
      await stream.ready; // once ioredis gave the SUBSCRIBE up
      expect(await stream.next()).toEqual({ done: true, value: undefined });
      expect(updates.stats()).toMatchObject({ active: 0, failed: 1 });
      const state = pubsub as unknown as { subsRefsMap: Map<string, unknown>; subscriptionMap: Record<number, unknown> };
      expect(state.subsRefsMap.size).toBe(0);
      expect(Object.keys(state.subscriptionMap)).toEqual([]);
    } finally {
      updates.close();
      commands.disconnect();
      subscriber.disconnect();
    }
  });
});
