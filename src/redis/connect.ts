/**
 * Which Redis to use, and how tickql connects to it.
 *
 * REDIS_URL set: that one, whatever happens (if it is down, tickql waits and retries).
 * REDIS_URL unset: the default address when something answers there; otherwise a private
 * in-memory redis-server child when one is on PATH (its data goes when tickql stops);
 * otherwise start-up fails with one line saying how to provide a Redis.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULT_REDIS_URL, type Config } from '../config';
import { FailureStreak } from '../failure-streak';
import type { Logger } from '../logger';
import { isListening, RedisNotInstalledError, startLocalRedis, type LocalRedis } from './local-server';

export interface RedisTarget {
  readonly url: string;
  /** The private server tickql started, to stop on exit; null when using someone's Redis. */
  readonly privateServer: LocalRedis | null;
}

export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

/** Where to look when REDIS_URL is unset, and which server binary to start; tests change them. */
export interface ResolveOptions {
  readonly defaultUrl?: string;
  readonly binary?: string;
}

export async function resolveRedis(config: Config, logger: Logger, options: ResolveOptions = {}): Promise<RedisTarget> {
  if (config.redisUrl !== null) {
    logger.info({ url: redactedUrl(config.redisUrl) }, `using Redis at ${redactedUrl(config.redisUrl)} (REDIS_URL)`);
    return { url: config.redisUrl, privateServer: null };
  }
  const defaultUrl = options.defaultUrl ?? DEFAULT_REDIS_URL;
  const fallback = new URL(defaultUrl);
  if (await isListening(fallback.hostname, Number(fallback.port))) {
    logger.info({ url: defaultUrl }, `using the Redis that answers at ${defaultUrl} (set REDIS_URL to use another)`);
    return { url: defaultUrl, privateServer: null };
  }
  try {
    const server = await startLocalRedis(options.binary ? { binary: options.binary } : {});
    logger.info(
      { url: server.url },
      `nothing answers at ${defaultUrl}: started a private in-memory redis-server at ${server.url} (its data goes when tickql stops; set REDIS_URL to use your own)`,
    );
    return { url: server.url, privateServer: server };
  } catch (err) {
    if (err instanceof RedisNotInstalledError) {
      throw new NoRedisError(
        `no Redis: nothing answers at ${defaultUrl} and redis-server is not on PATH; start Redis there, install redis-server, or set REDIS_URL=redis://host:port`,
      );
    }
    throw err;
  }
}

/**
 * The connection for commands and scripts, `name` showing in CLIENT LIST. It has no offline
 * queue: while Redis is away a command fails at once (queries answer SERVICE_UNAVAILABLE,
 * ingest keeps its latest states in memory and retries) instead of piling up.
 */
export function createCommandClient(url: string, logger: Logger, name = 'commands'): Redis {
  return createRedisClient(url, name, logger, { enableOfflineQueue: false, commandTimeout: COMMAND_TIMEOUT_MS });
}

/** A command that has not answered in this long fails; Redis answers ours in well under 1 ms. */
export const COMMAND_TIMEOUT_MS = 5000;

/** Resolves when the client is ready, or after `timeoutMs` (start-up never waits longer). */
export function whenReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

/** A connection; `name` shows in CLIENT LIST. */
export function createRedisClient(url: string, name: string, logger: Logger, extra: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectionName: `tickql:${name}`,
    // Concurrent requests share one round trip instead of queueing one after another.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
    ...extra,
  });
  // ioredis emits an error on every reconnection attempt: the first one is logged.
  const failures = new FailureStreak(logger, `Redis connection (${name})`, 'reconnecting', { connection: name });
  client.on('error', (err: Error) => failures.failed(err));
  client.on('ready', () => failures.succeeded());
  return client;
}

/** The URL without its password, for log lines. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
