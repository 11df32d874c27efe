/**
 * A connection to the run's private redis-server (test/support/global-redis.ts), or to the
 * server at `url`, with a key prefix no other test uses, and a cleanup that deletes exactly
 * that prefix's keys.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createKeys, type Keys } from '../../src/redis/keys';
import { defineScripts } from '../../src/redis/scripts';

export interface TestRedis {
  readonly url: string;
  readonly redis: Redis;
  readonly prefix: string;
  readonly keys: Keys;
  /** Deletes this prefix's keys and closes the connection. */
  close(): Promise<void>;
}

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export async function openTestRedis(url: string = inject('redisUrl')): Promise<TestRedis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  defineScripts(redis);
  const prefix = uniquePrefix();
  return {
    url,
    redis,
    prefix,
    keys: createKeys(prefix),
    close: async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
    if (found.length > 0) await redis.del(...found);
    cursor = next;
  } while (cursor !== '0');
}

/**
 * Every key of a prefix with its type and content, names written with `{*}` for the prefix's
 * hash tag so that two prefixes holding the same state compare equal. Sets are sorted; hashes
 * and sorted sets come in Redis's order (sorted sets by score, then member).
 */
export async function prefixContents(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const names: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
    names.push(...found);
    cursor = next;
  } while (cursor !== '0');
  const contents: Record<string, unknown> = {};
  for (const name of names.sort()) {
    const type = await redis.type(name);
    const content =
      type === 'hash' ? await redis.hgetall(name)
      : type === 'zset' ? await redis.zrange(name, 0, -1, 'WITHSCORES')
      : type === 'set' ? (await redis.smembers(name)).sort()
      : type === 'string' ? await redis.get(name)
      : `unexpected type ${type}`;
    contents[name.replace(`{${prefix}}`, '{*}')] = { type, content };
  }
  return contents;
}
