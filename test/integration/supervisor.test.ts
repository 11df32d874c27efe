/**
 * The real `npm start` process tree (src/processes/supervisor.ts): one ingest process and WORKERS
 * serving processes under one supervisor. Only the ingest process connects to the exchange;
 * /metrics answers for the whole instance from any worker; a serving worker that dies is
 * replaced while the others keep serving; SIGTERM stops everything with exit code 0.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { openTestRedis, type TestRedis } from '../support/redis';

/** The supervisor's worker processes (not helpers such as tsx's esbuild service). */
function childPids(pid: number): number[] {
  try {
    const pids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    return pids.filter((child) => {
      try {
        return execFileSync('ps', ['-o', 'args=', '-p', String(child)], { encoding: 'utf8' }).includes('main.ts');
      } catch {
        return false; // gone meanwhile
      }
    });
  } catch {
    return [];
  }
}

describe('supervisor', () => {
  let t: TestRedis;
  let sim: BinanceSim;
  let child: ChildProcess;
  let log = '';

  beforeAll(async () => {
    t = await openTestRedis();
    sim = await BinanceSim.start({ markets: 20, tickMs: 0, pingIntervalMs: 0 });
  });
  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await sim.close();
    await t.close();
  });

  it('runs ingest apart from WORKERS serving processes, replaces a dead one, and stops on SIGTERM', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: t.url,
        REDIS_PREFIX: t.prefix,
        FEEDS: 'binance',
        BINANCE_WS_URL: sim.wsUrl,
        BINANCE_REST_URL: sim.restUrl,
        BINANCE_SYMBOLS: 'BTCUSDT,ETHUSDT',
        WORKERS: '2',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await expect.poll(() => /tickql listening/.test(log), { timeout: 20_000 }).toBe(true);
    const url = /"url":"(http:[^"]+)"/.exec(log.slice(log.indexOf('tickql listening') - 400))?.[1] ?? /"url":"(http:[^"]+)"/.exec(log)![1]!;
    const base = url.replace(/\/graphql$/, '');

    // Three workers: one ingest process and two serving ones; one exchange connection.
    expect(childPids(child.pid!)).toHaveLength(3);
    await expect.poll(() => sim.connections, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => sim.push('BTCUSDT', { c: '10.5' }).delivered, { timeout: 10_000 }).toBe(1);
    const price = async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ market(id: "binance:BTC/USDT") { price } }' }) });
      return ((await response.json()) as { data?: { market: { price: number } | null } }).data?.market?.price;
    };
    await expect.poll(price, { timeout: 10_000 }).toBe(10.5);

    // /metrics sums every process: the ingest process's feed gauges, a serving process's query timer.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^tickql_feed_up\{exchange="binance"\} 1$/m);
    expect(metrics).toMatch(/^tickql_graphql_duration_seconds_count\{operation="query",field="market"\} \d+$/m);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // A serving process dies: another takes its place; meanwhile the others answer.
    const before = childPids(child.pid!);
    process.kill(before[before.length - 1]!, 'SIGKILL'); // the last forked: a serving process
    await expect.poll(() => /process died; starting another/.test(log), { timeout: 5_000 }).toBe(true);
    for (let i = 0; i < 5; i++) expect(await price()).toBe(10.5);
    await expect.poll(() => childPids(child.pid!).length, { timeout: 10_000 }).toBe(3);
    expect(sim.connections).toBe(1);

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(childPids(child.pid!)).toEqual([]);
  }, 60_000);
});

describe('npm start', () => {
  it('builds once, runs the bundle, and stops everything on SIGTERM to npm', async () => {
    const t = await openTestRedis();
    const npm = spawn('npm', ['start', '--silent'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: t.url, REDIS_PREFIX: t.prefix, FEEDS: '', WORKERS: '1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    npm.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await expect.poll(() => /tickql listening/.test(out), { timeout: 30_000 }).toBe(true);
      const url = /"url":"(http:[^"]+)"/.exec(out.slice(out.indexOf('tickql listening') - 400))?.[1] ?? /"url":"(http:[^"]+)"/.exec(out)![1]!;
      // npm's child is node running the bundle, not TypeScript through tsx.
      const supervisor = execFileSync('ps', ['-o', 'args=', '--ppid', String(npm.pid)], { encoding: 'utf8' });
      expect(supervisor).toMatch(/node .*dist\/main\.js/);
      expect(supervisor).not.toMatch(/tsx/);
      expect((await fetch(url.replace(/\/graphql$/, '/healthz'))).status).toBe(200);
      npm.kill('SIGTERM');
      const [code] = (await once(npm, 'exit')) as [number];
      expect(code).toBe(0);
      await expect(fetch(url.replace(/\/graphql$/, '/healthz'))).rejects.toThrow();
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      await t.close();
    }
  }, 60_000);
});
