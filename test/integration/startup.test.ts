import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { NoRedisError, resolveRedis } from '../../src/redis/connect';
import { isListening } from '../../src/redis/local-server';

/** A loopback address where nothing listens: a port we bind, note and release. */
async function deadUrl(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return `redis://127.0.0.1:${port}`;
}

describe('first contact', () => {
  it('uses REDIS_URL as given', async () => {
    const target = await resolveRedis(loadConfig({ REDIS_URL: 'redis://10.0.0.1:6390' }), silentLogger());
    expect(target).toEqual({ url: 'redis://10.0.0.1:6390', privateServer: null });
  });

  it('starts a private redis-server when REDIS_URL is unset and nothing answers at the default address', async () => {
    const target = await resolveRedis(loadConfig({}), silentLogger(), { defaultUrl: await deadUrl() });
    try {
      expect(target.privateServer).not.toBeNull();
      expect(await isListening('127.0.0.1', target.privateServer!.port)).toBe(true);
    } finally {
      await target.privateServer?.stop();
    }
    expect(await isListening('127.0.0.1', target.privateServer!.port)).toBe(false);
  });

  it('fails with one line saying how to provide a Redis when there is none at all', async () => {
    const attempt = resolveRedis(loadConfig({}), silentLogger(), { defaultUrl: await deadUrl(), binary: 'no-such-redis-server' });
    await expect(attempt).rejects.toThrow(NoRedisError);
    await expect(attempt).rejects.toThrow(/^no Redis: nothing answers at redis:\/\/127\.0\.0\.1:\d+ and redis-server is not on PATH; .*set REDIS_URL=redis:\/\/host:port$/);
  });

  it('stops start-up on a bad variable with one line naming it, and exit code 1', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'abc', FEEDS: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual(['tickql: PORT="abc" is not a whole number']);
  });
});
