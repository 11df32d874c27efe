import type { TestProject } from 'vitest/node';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';

let redis: LocalRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  redis = await startLocalRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
