/**
 * Feed health shared through Redis, so that any process sharing the Redis can answer `feeds`
 * and mark markets stale, whichever process ingests the feed. The ingesting process rewrites
 * its feeds' hashes on every state change and every second; each hash expires after a few
 * seconds, so a feed whose process died reads as DOWN instead of LIVE forever, and leaves
 * `feeds` altogether once its markets are gone as well (swept as leftovers: redis/coverage.ts).
 */
import type { Redis } from 'ioredis';
import { leaseOwner } from './acquire-lease';
import type { Keys } from './keys';

export type FeedStatus = 'CONNECTING' | 'LIVE' | 'RECONNECTING' | 'DOWN';

/** What an ingesting process reports about one feed. */
export interface FeedHealthReport {
  readonly exchange: string;
  readonly status: FeedStatus;
  readonly lastMessageAt: number | null;
  readonly reconnects: number;
  /** Open exchange connections (sockets) of the feed. */
  readonly connections: number;
  readonly messagesPerSecond: number;
  readonly invalidFrames: number;
  /** Error frames the exchange sent. */
  readonly errorFrames: number;
  /** Silent open sockets the watchdog replaced. */
  readonly stalls: number;
  /** One-second windows in which the frame budget ran out. */
  readonly throttledSeconds: number;
  readonly lastError: string | null;
  /** Subscribed symbols that never produced data. */
  readonly silentSymbols: readonly string[];
}

/** A feed as `Query.feeds` returns it. */
export interface FeedReport extends FeedHealthReport {
  /** Markets of this exchange present in the live state. */
  readonly markets: number;
  /** The instance (`Keys.instance`) holding the feed's lease: the process ingesting it now; null when none. */
  readonly ingestedBy: string | null;
}

/** How long a report stays valid without being refreshed. */
export const FEED_HEALTH_TTL_MS = 5000;

const STATUSES: readonly string[] = ['CONNECTING', 'LIVE', 'RECONNECTING', 'DOWN'];

export async function writeFeedHealth(redis: Redis, keys: Keys, reports: readonly FeedHealthReport[]): Promise<void> {
  if (reports.length === 0) return;
  const pipeline = redis.pipeline();
  for (const r of reports) {
    const key = keys.feed(r.exchange);
    pipeline.hset(key, {
      status: r.status,
      lastMessageAt: r.lastMessageAt === null ? '' : String(r.lastMessageAt),
      reconnects: String(r.reconnects),
      connections: String(r.connections),
      messagesPerSecond: String(r.messagesPerSecond),
      invalidFrames: String(r.invalidFrames),
      errorFrames: String(r.errorFrames),
      stalls: String(r.stalls),
      throttledSeconds: String(r.throttledSeconds),
      lastError: r.lastError ?? '',
      silentSymbols: JSON.stringify(r.silentSymbols),
    });
    pipeline.pexpire(key, FEED_HEALTH_TTL_MS);
    pipeline.sadd(keys.exchanges, r.exchange);
  }
  const replies = (await pipeline.exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
}

/**
 * Tells every serving process that `exchange`'s status changed, after its report was written,
 * so `stale` follows a feed going LIVE or down at once in every process and instance, not at
 * each one's next one-second refresh (src/staleness.ts).
 */
export async function announceFeedStatus(redis: Redis, keys: Keys, exchange: string): Promise<void> {
  await redis.publish(keys.feedStatusChannel, exchange);
}

function toNumber(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function decodeHealth(exchange: string, hash: Record<string, string>): FeedHealthReport {
  const status = STATUSES.includes(hash.status ?? '') ? (hash.status as FeedStatus) : 'DOWN';
  return {
    exchange,
    status,
    lastMessageAt: hash.lastMessageAt ? toNumber(hash.lastMessageAt) : null,
    reconnects: toNumber(hash.reconnects),
    connections: toNumber(hash.connections),
    messagesPerSecond: toNumber(hash.messagesPerSecond),
    invalidFrames: toNumber(hash.invalidFrames),
    // Absent when written by an older process: read as 0.
    errorFrames: toNumber(hash.errorFrames),
    stalls: toNumber(hash.stalls),
    throttledSeconds: toNumber(hash.throttledSeconds),
    lastError: hash.lastError ? hash.lastError : null,
    silentSymbols: stringList(hash.silentSymbols),
  };
}

function stringList(text: string | undefined): string[] {
  try {
    const value: unknown = JSON.parse(text ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Every feed some process runs or that left markets behind: `configured` (this process's
 * feeds), every exchange with an unexpired health report, and every exchange with markets in
 * the live state, each with the process holding its lease. One pipelined round trip after the
 * exchange list.
 *
 * Any other exchange in the `exchanges` set (a feed of an earlier run that nobody ingests
 * now) is left out and removed from the set. Should a process start reporting it or writing
 * its first market between the read and that removal, its health report, rewritten every
 * second, puts it back.
 */
export async function readFeedReports(redis: Redis, keys: Keys, configured: readonly string[]): Promise<FeedReport[]> {
  const known = await redis.smembers(keys.exchanges);
  const exchanges = [...new Set([...configured, ...known])].sort();
  if (exchanges.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const exchange of exchanges) {
    pipeline.hgetall(keys.feed(exchange));
    pipeline.zcard(keys.exchange(exchange));
    pipeline.get(keys.lease(exchange));
  }
  const replies = (await pipeline.exec()) ?? [];
  const reports: FeedReport[] = [];
  const forgotten: string[] = [];
  exchanges.forEach((exchange, i) => {
    const [hashErr, hash] = replies[3 * i] ?? [];
    const [countErr, count] = replies[3 * i + 1] ?? [];
    const [leaseErr, lease] = replies[3 * i + 2] ?? [];
    if (hashErr) throw hashErr;
    if (countErr) throw countErr;
    if (leaseErr) throw leaseErr;
    const health = hash as Record<string, string>;
    const markets = count as number;
    const ingestedBy = leaseOwner(lease as string | null);
    if (configured.includes(exchange) || Object.keys(health).length > 0 || markets > 0 || ingestedBy !== null) {
      reports.push({ ...decodeHealth(exchange, health), markets, ingestedBy });
    } else forgotten.push(exchange);
  });
  if (forgotten.length > 0) await redis.srem(keys.exchanges, ...forgotten);
  return reports;
}

/** Each exchange's status as reported in Redis; absent (expired) reports read as DOWN. */
export async function readFeedStatuses(redis: Redis, keys: Keys): Promise<Map<string, FeedStatus>> {
  const exchanges = await redis.smembers(keys.exchanges);
  const statuses = new Map<string, FeedStatus>();
  if (exchanges.length === 0) return statuses;
  const pipeline = redis.pipeline();
  for (const exchange of exchanges) pipeline.hget(keys.feed(exchange), 'status');
  const replies = (await pipeline.exec()) ?? [];
  exchanges.forEach((exchange, i) => {
    const status = replies[i]?.[1];
    statuses.set(exchange, typeof status === 'string' && STATUSES.includes(status) ? (status as FeedStatus) : 'DOWN');
  });
  return statuses;
}
