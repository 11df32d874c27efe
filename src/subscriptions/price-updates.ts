/**
 * `priceUpdated` over Redis pub/sub. Each market update is published (by the upsert script)
 * on its own channel `<prefix>:tick:<id>`; a subscription listens to the narrowest set of
 * channels or patterns that covers its arguments, so a client watching one market is woken
 * only by that market, while a client watching everything uses one pattern. Any process
 * sharing the Redis delivers the same updates, whichever process ingested them.
 *
 * RedisPubSub subscribes to each channel or pattern once per process, however many clients
 * share it, and parses each message once for all of them.
 */
import type { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Market } from '../market';
import type { Logger } from '../logger';
import type { Keys } from '../redis/keys';
import { LatestByKey } from './latest-by-key';

export interface PriceSelection {
  /** Exact market ids; an empty list matches nothing. */
  readonly ids?: readonly string[] | null;
  /** Exchange ids, case-insensitive. */
  readonly exchanges?: readonly string[] | null;
  /** Normalized symbols, case-insensitive. */
  readonly symbols?: readonly string[] | null;
}

interface Normalized {
  readonly ids: ReadonlySet<string> | null;
  readonly exchanges: ReadonlySet<string> | null;
  readonly symbols: ReadonlySet<string> | null;
}

interface Trigger {
  readonly name: string;
  readonly pattern: boolean;
}

function normalize(selection: PriceSelection): Normalized {
  const set = (list: readonly string[] | null | undefined, f: (s: string) => string) =>
    list === undefined || list === null ? null : new Set(list.map(f));
  return {
    ids: set(selection.ids, (s) => s),
    exchanges: set(selection.exchanges, (s) => s.toLowerCase()),
    symbols: set(selection.symbols, (s) => s.toUpperCase()),
  };
}

/** The channels (exact) or patterns to listen on; every argument still filters each message. */
export function triggersFor(keys: Keys, selection: PriceSelection): Trigger[] {
  const { ids, exchanges, symbols } = normalize(selection);
  if (ids) return [...ids].map((id) => ({ name: keys.tickChannel(id), pattern: false }));
  if (exchanges && symbols) {
    return [...exchanges].flatMap((e) => [...symbols].map((s) => ({ name: keys.tickChannel(`${e}:${s}`), pattern: false })));
  }
  if (exchanges) return [...exchanges].map((e) => ({ name: keys.tickPattern(e, null), pattern: true }));
  if (symbols) return [...symbols].map((s) => ({ name: keys.tickPattern(null, s), pattern: true }));
  return [{ name: keys.tickPattern(null, null), pattern: true }];
}

/** Compiles a selection once into the test each message goes through. */
export function selectionMatcher(selection: PriceSelection): (market: Market) => boolean {
  const { ids, exchanges, symbols } = normalize(selection);
  return (market) =>
    (ids === null || ids.has(market.id)) &&
    (exchanges === null || exchanges.has(market.exchange)) &&
    (symbols === null || symbols.has(market.symbol.toUpperCase()));
}

function isMarket(value: unknown): value is Market {
  return typeof value === 'object' && value !== null && typeof (value as Market).id === 'string';
}

/**
 * How long after a snapshot an update older than the snapshot's state of its market is still
 * dropped: one published before the snapshot was read can reach the process just after the
 * read's reply, over the other connection.
 */
const SNAPSHOT_OVERLAP_MS = 1000;

/** A subscription's stream; `ready` settles once Redis confirmed every channel and pattern. */
export class PriceStream extends LatestByKey<Market> {
  ready: Promise<void> = Promise.resolve();
}

export class PriceUpdates {
  /** Messages that were not a market (corrupt payloads), dropped. */
  droppedMessages = 0;
  /** Subscriptions that ended because Redis could not subscribe (Redis away: price-pubsub.ts logs it). */
  failedSubscriptions = 0;
  private closed = false;
  private readonly open = new Set<PriceStream>();
  /** Conflated messages of streams already closed. */
  private conflatedByClosed = 0;

  /** Open streams, messages replaced by a newer state before a slow client took them, and failures. */
  stats(): { active: number; conflated: number; dropped: number; failed: number } {
    let conflated = this.conflatedByClosed;
    for (const stream of this.open) conflated += stream.conflated;
    return { active: this.open.size, conflated, dropped: this.droppedMessages, failed: this.failedSubscriptions };
  }

  constructor(
    private readonly pubsub: RedisPubSub,
    private readonly keys: Keys,
    private readonly logger: Logger,
  ) {}

  /** Stops releasing subscriptions one by one: the caller is about to close the connection. */
  close(): void {
    this.closed = true;
  }

  /**
   * A conflating stream of matching market states; `return()` releases its subscriptions.
   * With `snapshot` (a read of the current states, src/redis/get-markets.ts), the stream
   * starts with every matching market's current state and continues with the changes, with no
   * update lost between the two: the read starts once Redis confirmed the subscriptions, the
   * updates that arrive meanwhile wait, and after the snapshot only those newer than its state
   * go on (an older one, published before the read, is dropped).
   */
  subscribe(selection: PriceSelection, snapshot?: () => Promise<readonly Market[]>): PriceStream {
    const triggers = triggersFor(this.keys, selection);
    const matches = selectionMatcher(selection);
    const subscriptionIds: Promise<number | null>[] = [];
    const stream = new PriceStream(
      (m) => m.id,
      () => {
        this.open.delete(stream);
        this.conflatedByClosed += stream.conflated;
        // A subscription may still be pending when the client leaves: release it once made.
        // After close() the Redis connection is going away with every subscription on it.
        for (const pending of subscriptionIds) {
          void pending.then((id) => {
            if (id !== null && !this.closed) this.pubsub.unsubscribe(id);
          });
        }
      },
    );
    // While the snapshot is read: the updates that arrived, latest per market. After it, for a
    // while: each snapshot market's event time, below which an update is older than it.
    let held: Map<string, Market> | null = snapshot ? new Map() : null;
    let floor: Map<string, number> | null = null;
    const onMessage = (message: unknown) => {
      if (!isMarket(message)) {
        this.droppedMessages++;
        this.logger.warn({ message: String(message).slice(0, 200) }, 'dropped a pub/sub message that is not a market');
        return;
      }
      if (!matches(message)) return;
      if (held) held.set(message.id, message);
      else if (!floor || message.updatedAt >= (floor.get(message.id) ?? -Infinity)) stream.push(message);
    };
    let failed = false;
    for (const trigger of triggers) {
      subscriptionIds.push(
        this.pubsub.subscribe(trigger.name, onMessage, { pattern: trigger.pattern }).catch((err: unknown) => {
          if (!failed) this.failedSubscriptions++;
          failed = true;
          void stream.throw(err).catch(() => {});
          return null;
        }),
      );
    }
    stream.ready = Promise.all(subscriptionIds).then(() => undefined);
    if (snapshot) {
      void stream.ready
        .then(async () => {
          if (failed) return;
          const current = (await snapshot()).filter(matches);
          floor = new Map(current.map((m) => [m.id, m.updatedAt]));
          for (const m of current) stream.push(m);
          for (const m of held!.values()) if (m.updatedAt > (floor.get(m.id) ?? -Infinity)) stream.push(m);
          held = null;
          setTimeout(() => (floor = null), SNAPSHOT_OVERLAP_MS).unref();
        })
        .catch((err: unknown) => {
          held = null;
          void stream.throw(err).catch(() => {});
        });
    }
    this.open.add(stream);
    return stream;
  }
}
