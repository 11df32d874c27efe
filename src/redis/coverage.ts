/**
 * Coverage: which markets each ingesting process keeps up to date, so that markets nobody
 * ingests any more (a feed taken out of FEEDS, a symbol no longer subscribed, a process that
 * died) leave the live state, while processes sharing a Redis never remove each other's.
 *
 * Each ingesting process (`Keys.instance`) publishes the ids of the markets it ingests as
 * `covers:<instance>` and registers in `ingesters`. It is live while its marker
 * (`ingest:<instance>`, refreshed every second by ingest/state-guard.ts) exists. A sweep
 * removes every market in the live state that no live process covers, and drops dead
 * processes from the registry with their coverage. The check and the removal are one
 * lua/removeMarkets-n.lua call, which refuses when a process registered after the sweep read
 * the registry (its coverage would not be checked); the sweep then reads again.
 *
 * A process keeps to this order, or a sweep may take its markets for leftovers:
 * - publish only once its marker is set (StateGuard's first check): a registered process
 *   without a marker is dead to a sweep;
 * - publish a market's id before writing the market for the first time;
 * - publish again after Redis lost its marker (a restore): a sweep may have dropped it meanwhile;
 * - withdraw at shutdown, after its last write.
 * Every process ingesting into a Redis must publish its coverage before anyone sweeps it: a
 * sweep removes every market that no registered process covers.
 *
 * Feeds change hands (src/feed-leases.ts): a feed's markets are covered by the process holding
 * its lease once that process has published coverage of its tenure (`tenureMember`), and
 * until then by nobody; the sweep leaves them alone meanwhile, and while the feed has no
 * holder but had one within the holder trace's lifetime (lua/removeMarkets-n.lua).
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys';
import { removeUncoveredMarkets } from './remove-markets';

/** Sweep attempts when processes keep registering while it runs. */
export const SWEEP_ATTEMPTS = 5;

async function execAll(transaction: ReturnType<Redis['multi']>): Promise<void> {
  const replies = (await transaction.exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
}

/**
 * The coverage member saying "this set covers the feed for the tenure of `lease`" (a lease
 * value of lua/acquireLease-3.lua). No market id begins with a NUL byte.
 */
export function tenureMember(lease: string): string {
  return `\0${lease}`;
}

/**
 * Replaces `instance`'s coverage with `ids` and registers it, in one transaction. `tenures`:
 * the lease values of the feeds whose markets `ids` holds in full (their symbols are chosen).
 */
export async function publishCoverage(redis: Redis, keys: Keys, instance: string, ids: Iterable<string>, tenures: Iterable<string> = []): Promise<void> {
  const coverage = keys.covers(instance);
  const members = [...ids, ...[...tenures].map(tenureMember)];
  const transaction = redis.multi().del(coverage);
  if (members.length > 0) transaction.sadd(coverage, ...members);
  await execAll(transaction.sadd(keys.ingesters, instance));
}

/** Unregisters `instance` and deletes its coverage: its markets become leftovers. */
export async function withdrawCoverage(redis: Redis, keys: Keys, instance: string): Promise<void> {
  await execAll(redis.multi().srem(keys.ingesters, instance).del(keys.covers(instance)));
}

/** The registered instances whose marker exists now. */
async function liveInstances(redis: Redis, keys: Keys, instances: readonly string[]): Promise<string[]> {
  if (instances.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const instance of instances) pipeline.exists(keys.ingestMarker(instance));
  const replies = (await pipeline.exec()) ?? [];
  return instances.filter((_, i) => {
    const [err, exists] = replies[i] ?? [];
    if (err) throw err;
    return exists === 1;
  });
}

/**
 * Removes every market in the live state that no live ingesting process covers, except those
 * of feeds changing hands (see the top of this file), and drops dead processes from the
 * registry. Throws when processes registered during each of
 * SWEEP_ATTEMPTS attempts (what earlier attempts removed stays removed).
 */
export async function sweepLeftovers(redis: Redis, keys: Keys): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  for (let attempt = 0; attempt < SWEEP_ATTEMPTS; attempt++) {
    const instances = await redis.smembers(keys.ingesters);
    const live = await liveInstances(redis, keys, instances);
    // ZDIFF takes plain sets too: every id no live process covers.
    const leftovers = await redis.zdiff(1 + live.length, keys.ids, ...live.map((instance) => keys.covers(instance)));
    const result = await removeUncoveredMarkets(redis, keys, leftovers, { instances });
    removed.push(...result.removed);
    if (!result.refused) return { removed };
  }
  throw new Error(`sweepLeftovers: ingesting processes registered during each of ${SWEEP_ATTEMPTS} attempts; try again later`);
}
