/**
 * The RedisPubSub that carries `priceUpdated`: markets decoded once per PUBLISH
 * (market-deserializer.ts), from the bytes ioredis read (its `messageBuffer` and
 * `pmessageBuffer` events, which skip converting every channel message to a string first).
 *
 * RedisPubSub (graphql-redis-subscriptions 2.7) assumes its SUBSCRIBE and UNSUBSCRIBE commands
 * succeed. While Redis is away they fail (ioredis gives a command up after a few reconnection
 * attempts), and then RedisPubSub:
 * - leaves the rejections of UNSUBSCRIBE and PUNSUBSCRIBE unhandled, which ends the process;
 * - rejects, besides the subscription's own promise, one it keeps for subscriptions joining a
 *   SUBSCRIBE under way, unhandled when none joined, which ends the process too;
 * - keeps a failed subscription's listener, and the trigger's empty set of subscriptions,
 *   forever.
 * PricePubSub handles all three, logs the first failure of an outage and counts the others
 * (failure-streak.ts), and releases again, once Redis is back, what it could not release while
 * it was away (ioredis subscribes again to everything it held when the connection dropped).
 */
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import { FailureStreak } from '../failure-streak';
import type { Logger } from '../logger';
import { createMarketDeserializer } from './market-deserializer';

/** RedisPubSub's bookkeeping, private in its types; the churn test reads the same fields. */
interface RedisPubSubState {
  /** Subscription id -> its trigger and listener. */
  readonly subscriptionMap: Record<number, readonly [string, unknown] | undefined>;
  /** Trigger -> the subscriptions using it, once Redis confirmed it. */
  readonly subsRefsMap: Map<string, Set<number>>;
  /** Trigger -> its SUBSCRIBE under way, with a promise settled with it. */
  readonly subsPendingRefsMap: Map<string, { readonly pending: { catch(onRejected: () => void): unknown } }>;
  /** The id of the next subscription. */
  readonly currentSubscriptionId: number;
}

export class PricePubSub extends RedisPubSub {
  private readonly state = this as unknown as RedisPubSubState;
  /** Triggers whose release failed, to release again when the subscriber connection is back. */
  private readonly unreleased = new Set<string>();
  private readonly failures: FailureStreak;

  constructor(
    publisher: Redis,
    private readonly subscriber: Redis,
    logger: Logger,
  ) {
    super({ publisher, subscriber, deserializer: createMarketDeserializer(), messageEventName: 'messageBuffer', pmessageEventName: 'pmessageBuffer' });
    this.failures = new FailureStreak(logger, 'Redis pub/sub subscribe/unsubscribe', 'subscriptions that cannot be made end; what cannot be released is released when Redis is back');
    // 'ready' is emitted before ioredis subscribes again to what it held: release after that.
    subscriber.on('ready', () => queueMicrotask(() => this.releaseLeftovers()));
  }

  override subscribe<T = unknown>(trigger: string, onMessage: (message: T) => void, options?: unknown): Promise<number> {
    const id = this.state.currentSubscriptionId;
    // Joining a subscription Redis already confirmed takes no command: it says nothing of Redis.
    const asksRedis = !this.state.subsRefsMap.get(trigger)?.size;
    const subscribed = super.subscribe(trigger, onMessage, options);
    this.state.subsPendingRefsMap.get(trigger)?.pending.catch(() => {}); // settles with `subscribed`, handled there
    return subscribed.then(
      (subscription) => {
        if (asksRedis) this.failures.succeeded();
        return subscription;
      },
      (err: unknown) => {
        this.failures.failed(err);
        delete this.state.subscriptionMap[id];
        const refs = this.state.subsRefsMap.get(trigger);
        if (refs?.size === 0 && !this.state.subsPendingRefsMap.has(trigger)) this.state.subsRefsMap.delete(trigger);
        throw err;
      },
    );
  }

  /** As RedisPubSub's, with the release of the trigger's Redis subscription checked; ignores an unknown id. */
  override unsubscribe(subId: number): void {
    const trigger = this.state.subscriptionMap[subId]?.[0];
    const refs = trigger === undefined ? undefined : this.state.subsRefsMap.get(trigger);
    if (trigger === undefined || refs === undefined) return;
    delete this.state.subscriptionMap[subId];
    refs.delete(subId);
    if (refs.size > 0) return;
    this.state.subsRefsMap.delete(trigger);
    this.release(trigger);
  }

  /** Unsubscribes the trigger in Redis, as a channel and as a pattern (RedisPubSub does not tell which). */
  private release(trigger: string): void {
    Promise.all([this.subscriber.unsubscribe(trigger), this.subscriber.punsubscribe(trigger)]).then(
      () => this.failures.succeeded(),
      (err: unknown) => {
        this.failures.failed(err);
        this.unreleased.add(trigger);
      },
    );
  }

  /** Releases what could not be released, unless wanted again meanwhile. */
  private releaseLeftovers(): void {
    const leftovers = [...this.unreleased].filter((trigger) => !this.state.subsRefsMap.has(trigger) && !this.state.subsPendingRefsMap.has(trigger));
    this.unreleased.clear();
    for (const trigger of leftovers) this.release(trigger);
  }
}

export function createPricePubSub(publisher: Redis, subscriber: Redis, logger: Logger): PricePubSub {
  return new PricePubSub(publisher, subscriber, logger);
}
