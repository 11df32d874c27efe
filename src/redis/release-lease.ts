import type { Redis } from 'ioredis';
import type { Keys } from './keys';
import { callScript } from './scripts';

/**
 * Gives a feed's lease up (lua/releaseLease-1.lua) if it still holds `lease`, the value the
 * caller acquired; resolves to whether it did. A standby then takes the feed over at once.
 */
export async function releaseLease(redis: Redis, keys: Keys, feed: string, lease: string): Promise<boolean> {
  return (await callScript(redis, 'releaseLease', [keys.lease(feed)], [lease])) === 1;
}
