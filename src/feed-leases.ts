/**
 * One ingester per feed across processes. Any number of tickql processes may share a Redis;
 * each feed (an exchange id of FEEDS) is ingested by exactly one of them at a time: the
 * holder of its lease, `{prefix}:lease:<feed>` (lua/acquireLease-3.lua). The others stand by.
 *
 * - Standing by: every STANDBY_MS this process tries to acquire each feed it does not hold.
 *   On success a tenure begins: a new Feed (Feeds are single-use) joins `held`, starts, and
 *   its markets are written under the tenure's lease value (`fence()`), which carries a
 *   fencing token counted up per tenure.
 * - Holding: the lease lasts LEASE_TTL_MS and is renewed every RENEW_MS. The tenure ends at
 *   once, the Feed stops and its pending writes are dropped, when a renewal finds another
 *   process's lease, or when no renewal has succeeded for LEASE_TTL_MS less LEASE_MARGIN_MS
 *   (Redis unreachable: the lease may expire and another process take the feed; this one
 *   cannot know, so it stops just before that can happen).
 *   Then it stands by again.
 * - A renewal that finds no lease at all, within the lease's lifetime, means Redis lost it
 *   (a restart, FLUSHALL, a failover); nobody else can have had the feed meanwhile, so the
 *   call takes a new one and the tenure goes on under the new token.
 * - Fencing: lua/upsertMarkets-n.lua writes a market only while its feed's lease holds exactly
 *   the value the write carries, so a process paused or cut off past its lease writes nothing
 *   once another has taken over, whatever it had queued; `holds()` already drops such writes
 *   locally once the lease's lifetime has passed.
 * - Takeover after a death (SIGKILL, no goodbye): the lease expires at most LEASE_TTL_MS after
 *   the last renewal, and a standby takes it within STANDBY_MS: within 3.5 s, then the new Feed
 *   connects and the exchange's snapshots and updates write every market's latest state.
 *   Nothing rolls back: the upsert script never replaces a state with an older one. When this
 *   process takes back a feed it held before, it also writes again the latest states its last
 *   tenure had (older ones are ignored), as the StateGuard would after Redis lost them.
 * - Graceful stop: `stopFeeds()` stops ingesting while the leases are still held (the last
 *   writes are flushed under them), then `release()` gives each lease up, so a standby takes
 *   over within STANDBY_MS.
 *
 * Lives beside app.ts rather than in ingest/ because it joins the feeds with Redis.
 */
import type { Redis } from 'ioredis';
import type { BatchWriter } from './ingest/batch-writer';
import type { Feed } from './ingest/feed';
import type { Logger } from './logger';
import { acquireLease, leaseOwner, leaseToken } from './redis/acquire-lease';
import type { Keys } from './redis/keys';
import { releaseLease } from './redis/release-lease';
import type { Fence } from './redis/upsert-markets';

/** How long a lease outlives its last renewal. */
export const LEASE_TTL_MS = 3000;
/** How often the holder renews. */
export const RENEW_MS = 1000;
/** How often a standby tries to acquire. */
export const STANDBY_MS = 500;
/**
 * The holder gives a tenure up this long before its lease can expire in Redis (counted from
 * when its last successful renewal was sent), so its exchange connections are closed before
 * a standby can take the feed over, whatever the clocks' drift and the sockets' closing time.
 */
export const LEASE_MARGIN_MS = 250;
/** How long the holder trace outlives the last renewal: the sweep leaves the feed's markets alone meanwhile. */
export const LEASE_TRACE_TTL_MS = 30_000;

export interface FeedLeasesOptions<Id extends string = string> {
  readonly redis: Redis;
  readonly keys: Keys;
  /** The configured feeds (exchange ids). */
  readonly ids: readonly Id[];
  /** Kept up to date here: the Feeds this process ingests now, in the order of `ids`. */
  readonly held: Feed[];
  /** A new, unstarted Feed for one tenure of `id`. */
  readonly create: (id: Id) => Feed;
  readonly writer: BatchWriter;
  readonly logger: Logger;
  /** Called when a tenure began or ended, or its lease value changed (after the change). */
  readonly onChange?: () => void;
  readonly ttlMs?: number;
  readonly marginMs?: number;
  readonly renewMs?: number;
  readonly standbyMs?: number;
  readonly traceTtlMs?: number;
}

interface Tenure {
  readonly feed: Feed;
  /** The lease value `<token>:<instance>` this tenure writes under. */
  lease: string;
  /** When the last successful renewal was sent: the lease lasts in Redis at least until then + ttl. */
  renewedAt: number;
  /** Ends the tenure when no renewal has succeeded for ttl. */
  deadline: NodeJS.Timeout | null;
}

interface Slot<Id extends string> {
  readonly id: Id;
  tenure: Tenure | null;
  /** The Feed of this process's last tenure, for its latest states when it takes the feed back. */
  previous: Feed | null;
  /** A lease call is under way. */
  busy: boolean;
  /** The holder last reported standing by (logged once per holder). */
  otherHolder: string | null;
}

export interface FeedLeaseStats {
  /** Tenures begun. */
  acquired: number;
  /** Tenures ended because another process held the lease or no renewal succeeded in time. */
  lost: number;
  /** Renewals that found the lease gone (Redis lost it) and took a new one. */
  renewedAfterLoss: number;
}

export class FeedLeases<Id extends string = string> {
  readonly stats: FeedLeaseStats = { acquired: 0, lost: 0, renewedAfterLoss: 0 };
  private readonly slots: Array<Slot<Id>>;
  private readonly ttlMs: number;
  /** How long after a renewal was sent this process may still count the lease its own: ttl less the margin. */
  private readonly validMs: number;
  private readonly renewMs: number;
  private readonly standbyMs: number;
  private readonly traceTtlMs: number;
  private timer: NodeJS.Timeout | null = null;
  /** After `stopFeeds()`: holds what it has, acquires nothing more. */
  private stopping = false;
  private readonly stoppingFeeds = new Set<Promise<void>>();

  constructor(private readonly options: FeedLeasesOptions<Id>) {
    this.slots = options.ids.map((id) => ({ id, tenure: null, previous: null, busy: false, otherHolder: null }));
    this.ttlMs = options.ttlMs ?? LEASE_TTL_MS;
    this.validMs = this.ttlMs - Math.min(options.marginMs ?? LEASE_MARGIN_MS, this.ttlMs / 4);
    this.renewMs = options.renewMs ?? RENEW_MS;
    this.standbyMs = options.standbyMs ?? STANDBY_MS;
    this.traceTtlMs = options.traceTtlMs ?? LEASE_TRACE_TTL_MS;
  }

  /** Tries every feed once (resolves when each attempt has answered or failed), then keeps at it. */
  async start(): Promise<void> {
    if (this.timer !== null || this.slots.length === 0) return;
    await Promise.all(this.slots.map((slot) => this.attempt(slot)));
    this.timer = setInterval(() => this.tick(), this.standbyMs);
    this.timer.unref();
  }

  /** Whether this process may write `feed`'s markets now: it holds the lease, and its lifetime has not passed. */
  holds(feed: string): boolean {
    const tenure = this.slots.find((slot) => slot.id === feed)?.tenure;
    return tenure != null && Date.now() < tenure.renewedAt + this.validMs;
  }

  /** The lease value each held feed's writes carry (upsertMarkets' fence); other feeds are absent, so fenced. */
  fence(): Fence {
    const fence = new Map<string, string>();
    for (const slot of this.slots) if (slot.tenure !== null && this.holds(slot.id)) fence.set(slot.id, slot.tenure.lease);
    return fence;
  }

  /** The lease value of the tenure `feed` belongs to; null once that tenure has ended. */
  lease(feed: Feed): string | null {
    for (const slot of this.slots) if (slot.tenure?.feed === feed) return slot.tenure.lease;
    return null;
  }

  /** Stops every held feed and acquires nothing more; the leases are still held and renewed, so the last writes land. */
  async stopFeeds(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.slots.flatMap((slot) => (slot.tenure ? [slot.tenure.feed.stop()] : [])), ...this.stoppingFeeds]);
  }

  /** Stops renewing and gives every lease up, so a standby takes the feeds over at once. Call after `stopFeeds()`. */
  async release(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const releases: Array<Promise<unknown>> = [];
    for (const slot of this.slots) {
      const tenure = slot.tenure;
      if (tenure === null) continue;
      this.end(slot);
      if (this.options.redis.status === 'ready') releases.push(releaseLease(this.options.redis, this.options.keys, slot.id, tenure.lease).catch(() => false));
    }
    await Promise.all([...releases, ...this.stoppingFeeds]);
  }

  private tick(): void {
    const now = Date.now();
    for (const slot of this.slots) {
      if (slot.busy) continue;
      // Renew about every renewMs (ticks come every standbyMs); stand by every tick.
      if (slot.tenure !== null && now - slot.tenure.renewedAt < this.renewMs - this.standbyMs / 2) continue;
      if (slot.tenure === null && this.stopping) continue;
      void this.attempt(slot);
    }
  }

  /** One acquire or renewal call for `slot`; never rejects. */
  private async attempt(slot: Slot<Id>): Promise<void> {
    const { redis, keys, logger } = this.options;
    if (redis.status !== 'ready') return; // no offline queue: the call would fail at once
    const tenure = slot.tenure;
    const sentAt = Date.now();
    slot.busy = true;
    let reply;
    try {
      reply = await acquireLease(redis, keys, slot.id, keys.instance, { ttlMs: this.ttlMs, traceTtlMs: this.traceTtlMs });
    } catch (err) {
      // Redis away: a holder's deadline decides; a standby tries again next tick.
      if (tenure !== null) logger.debug({ err, feed: slot.id }, 'could not renew the feed lease');
      return;
    } finally {
      slot.busy = false;
    }
    if (slot.tenure !== tenure) return; // the tenure ended while the call was under way
    if (tenure === null) {
      if (reply.held) {
        if (!this.stopping) this.begin(slot, reply.lease, sentAt);
        else void releaseLease(redis, keys, slot.id, reply.lease).catch(() => false);
      } else {
        const owner = leaseOwner(reply.lease);
        if (owner !== slot.otherHolder) logger.info({ feed: slot.id, ingestedBy: owner }, `standing by for feed ${slot.id}: process ${owner} ingests it`);
        slot.otherHolder = owner;
      }
      return;
    }
    if (Date.now() >= tenure.renewedAt + this.validMs) {
      // The answer came after the lease's lifetime: another process may have had the feed meanwhile.
      this.lose(slot, `the lease renewal answered after its ${this.ttlMs} ms lifetime`);
      return;
    }
    if (!reply.held) {
      this.lose(slot, `process ${leaseOwner(reply.lease)} holds its lease now`);
      return;
    }
    if (reply.lease !== tenure.lease) {
      this.stats.renewedAfterLoss++;
      logger.warn(
        { feed: slot.id, was: tenure.lease, now: reply.lease },
        `the lease of feed ${slot.id} was gone from Redis before it expired (Redis lost its state); ingesting on under token ${leaseToken(reply.lease)}`,
      );
      tenure.lease = reply.lease;
      this.armDeadline(slot, tenure, sentAt);
      this.options.onChange?.();
      return;
    }
    this.armDeadline(slot, tenure, sentAt);
  }

  private armDeadline(slot: Slot<Id>, tenure: Tenure, renewedAt: number): void {
    tenure.renewedAt = renewedAt;
    if (tenure.deadline !== null) clearTimeout(tenure.deadline);
    tenure.deadline = setTimeout(() => {
      if (slot.tenure === tenure) this.lose(slot, `no lease renewal succeeded for ${this.validMs} ms (Redis unreachable?); the lease may have expired`);
    }, Math.max(0, renewedAt + this.validMs - Date.now()));
    tenure.deadline.unref();
  }

  private begin(slot: Slot<Id>, lease: string, sentAt: number): void {
    const { create, writer, logger } = this.options;
    const feed = create(slot.id);
    const tenure: Tenure = { feed, lease, renewedAt: sentAt, deadline: null };
    slot.tenure = tenure;
    slot.otherHolder = null;
    this.armDeadline(slot, tenure, sentAt);
    this.updateHeld();
    this.stats.acquired++;
    logger.info({ feed: slot.id, lease }, `ingesting feed ${slot.id}: this process holds its lease (token ${leaseToken(lease)})`);
    if (slot.previous !== null) {
      // Taking the feed back: what the last tenure knew is written too (older states are ignored).
      writer.restore(slot.previous.latestMarkets());
      slot.previous = null;
    }
    feed.start();
    this.options.onChange?.();
  }

  /** Ends the tenure: the feed leaves `held`, its pending writes are dropped, and it stops. */
  private end(slot: Slot<Id>): Feed | null {
    const tenure = slot.tenure;
    if (tenure === null) return null;
    slot.tenure = null;
    if (tenure.deadline !== null) clearTimeout(tenure.deadline);
    this.updateHeld();
    this.options.writer.discard((market) => market.exchange === slot.id);
    const stopped = tenure.feed.stop().catch(() => {});
    this.stoppingFeeds.add(stopped);
    void stopped.then(() => this.stoppingFeeds.delete(stopped));
    return tenure.feed;
  }

  private lose(slot: Slot<Id>, reason: string): void {
    const feed = this.end(slot);
    if (feed === null) return;
    slot.previous = feed;
    this.stats.lost++;
    this.options.logger.warn({ feed: slot.id, reason }, `stopped ingesting feed ${slot.id}: ${reason}; standing by`);
    this.options.onChange?.();
  }

  private updateHeld(): void {
    const { held } = this.options;
    held.splice(0, held.length, ...this.slots.flatMap((slot) => (slot.tenure ? [slot.tenure.feed] : [])));
  }
}
