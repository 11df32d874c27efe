/**
 * The RedisPubSub that carries `priceUpdated`: markets decoded once per PUBLISH
 * (market-deserializer.ts), from the bytes ioredis read (its `messageBuffer` and
 * `pmessageBuffer` events, which skip converting every channel message to a string first).
 */
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import { createMarketDeserializer } from './market-deserializer';

export function createPricePubSub(publisher: Redis, subscriber: Redis): RedisPubSub {
  return new RedisPubSub({
    publisher,
    subscriber,
    deserializer: createMarketDeserializer(),
    messageEventName: 'messageBuffer',
    pmessageEventName: 'pmessageBuffer',
  });
}
