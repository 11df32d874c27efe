/**
 * 10,000 subscribe/unsubscribe cycles through the real app over graphql-ws leave nothing
 * behind: no Redis channel or pattern subscription, no open stream, no listener. (It churns far
 * faster than the per-connection message limit allows, so the test lifts that limit.)
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';

interface RedisPubSubInternals {
  getSubscriber(): { listenerCount(event: string): number };
  readonly subsRefsMap: Map<string, Set<number>>;
  readonly subscriptionMap: Record<number, unknown>;
}

const CYCLES = 10_000;
const CONCURRENT = 100;

describe('subscription churn', () => {
  let t: TestRedis;
  let app: App;

  beforeAll(async () => {
    t = await openTestRedis();
    // 10,000 subscriptions in a few seconds from one address, and thousands of messages a second
    // on one connection, are what the subscription budget and the message limit exist to
    // refuse: lifted here, since this test is about cleanup.
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      LOG_LEVEL: 'silent',
      FEEDS: '',
      RATE_LIMIT_SUBSCRIPTIONS: '0',
      WS_MAX_MESSAGES_PER_SECOND: '1000000',
    };
    app = await buildApp(loadConfig(env), silentLogger(), {
      url: t.url,
      privateServer: null,
    });
    await app.start();
  });
  afterAll(async () => {
    await app?.stop();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  /** Price channels only: the feed-status channel is the process's own, held for its lifetime. */
  async function channelsOfThisTest(): Promise<string[]> {
    return (await t.redis.pubsub('CHANNELS', `${t.prefix}:tick:*`)) as string[];
  }

  it(`leaves no subscription, stream or listener after ${CYCLES} cycles`, async () => {
    const client = createClient({ url: app.url().replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    const pubsub = (app.services.priceUpdates as unknown as { pubsub: RedisPubSubInternals }).pubsub;
    const subscriber = pubsub.getSubscriber();
    const listenersBefore = subscriber.listenerCount('message') + subscriber.listenerCount('pmessage');

    const kinds = [
      (i: number) => `subscription { priceUpdated(ids: ["churn:M${i % 500}/USDT"]) { id } }`,
      (i: number) => `subscription { priceUpdated(exchanges: ["ex${i % 50}"]) { id } }`,
      (i: number) => `subscription { priceUpdated(symbols: ["S${i % 50}/USDT"]) { id } }`,
      () => 'subscription { priceUpdated { id } }',
    ];
    for (let start = 0; start < CYCLES; start += CONCURRENT) {
      const batch = Array.from({ length: CONCURRENT }, (_, j) => start + j);
      await Promise.all(
        batch.map(
          (i) =>
            new Promise<void>((resolve, reject) => {
              const dispose = client.subscribe({ query: kinds[i % kinds.length]!(i) }, { next: () => {}, error: reject, complete: resolve });
              // Unsubscribe once the server has the subscription (it acks nothing, so wait a tick).
              setTimeout(() => {
                dispose();
                resolve();
              }, 5);
            }),
        ),
      );
    }

    await expect.poll(() => app.services.priceUpdates.stats().active, { timeout: 10_000 }).toBe(0);
    await expect.poll(channelsOfThisTest, { timeout: 10_000 }).toEqual([]);
    // Patterns: the server counts them for all clients of the shared test Redis, so ask this
    // process's RedisPubSub what it holds (channels and patterns alike).
    expect(pubsub.subsRefsMap.size).toBe(0);
    expect(Object.keys(pubsub.subscriptionMap)).toEqual([]);
    expect(subscriber.listenerCount('message') + subscriber.listenerCount('pmessage')).toBe(listenersBefore);
    await client.dispose();
  }, 120_000);
});
