/**
 * Feed leases in Redis (lua/acquireLease-3.lua): at any moment one process holds a feed's
 * lease, and only it ingests the feed (src/feed-leases.ts). A lease value is
 * `<token>:<instance>`, the token counted up per tenure by the feed's fencing counter.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys';
import { callScript } from './scripts';

export interface LeaseTimes {
  /** How long the lease outlives the call. */
  readonly ttlMs: number;
  /** How long the holder trace outlives it (the sweep leaves the feed alone meanwhile). */
  readonly traceTtlMs: number;
}

export interface LeaseReply {
  /** True when the caller holds the lease now (acquired or renewed). */
  readonly held: boolean;
  /** The lease's value: the caller's when `held` (a new token when a tenure began), else the holder's. */
  readonly lease: string;
}

/** Acquires a feed's lease when nobody holds it, renews it when the caller does. */
export async function acquireLease(redis: Redis, keys: Keys, feed: string, instance: string, times: LeaseTimes): Promise<LeaseReply> {
  const reply = (await callScript(redis, 'acquireLease', [keys.lease(feed), keys.fence(feed), keys.leaseTrace(feed)], [
    instance,
    Math.max(1, Math.round(times.ttlMs)),
    Math.max(1, Math.round(times.traceTtlMs)),
  ])) as [number, string];
  return { held: reply[0] === 1, lease: reply[1] };
}

/** The instance a lease value names, or null for a value that is not a lease. */
export function leaseOwner(lease: string | null | undefined): string | null {
  if (typeof lease !== 'string') return null;
  return /^\d+:(.+)$/.exec(lease)?.[1] ?? null;
}

/** The fencing token of a lease value, or null. */
export function leaseToken(lease: string | null | undefined): number | null {
  if (typeof lease !== 'string') return null;
  const token = /^(\d+):/.exec(lease)?.[1];
  return token === undefined ? null : Number(token);
}
