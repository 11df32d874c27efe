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

  it('says which Redis it uses, without the password', async () => {
    const { pino } = await import('pino');
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    await resolveRedis(loadConfig({ REDIS_URL: 'redis://user:secret@10.0.0.1:6390' }), logger);
    expect(lines.map((l) => l.msg)).toEqual(['using Redis at redis://user:***@10.0.0.1:6390 (REDIS_URL)']);
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

describe('first contact without a network', () => {
  it('says once that no exchange is reachable, with the offline hint, and retries quietly', async () => {
    const { buildApp } = await import('../../src/app');
    const { pino } = await import('pino');
    const { openTestRedis, deletePrefix } = await import('../support/redis');
    const t = await openTestRedis();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const dead = (await deadUrl()).replace('redis://', '');
    const env: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix };
    for (const id of ['BINANCE', 'COINBASE', 'KRAKEN', 'OKX', 'BYBIT']) {
      env[`${id}_WS_URL`] = `ws://${dead}/ws`;
      env[`${id}_REST_URL`] = `http://${dead}`;
    }
    const app = await buildApp(loadConfig(env), logger, { url: t.url, privateServer: null }, {
      unreachableNoticeMs: 1500,
    });
    await app.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const notices = lines.filter((l) => String(l.msg).startsWith('no exchange is reachable'));
      expect(notices).toHaveLength(1);
      expect(String(notices[0]!.msg)).toMatch(/binance, coinbase, kraken, okx, bybit.*npm run demo/);
      // Each connection warns about its first failure only; the retries go on (counted in feeds).
      const lost = lines.filter((l) => l.msg === 'connection lost; retrying');
      expect(lost.length).toBe(5);
      for (const feed of app.feeds) {
        expect(feed.health().status).toBe('CONNECTING');
        expect(feed.health().errors).toBeGreaterThanOrEqual(2);
      }
      // Which Redis is used is logged by main's resolveRedis; the built-in pairs stand in for the listings.
      expect(lines.filter((l) => l.msg === 'symbols: check the configuration')).toHaveLength(5);
    } finally {
      await app.stop();
      await deletePrefix(t.redis, t.prefix);
      await t.close();
    }
  }, 20_000);
});
