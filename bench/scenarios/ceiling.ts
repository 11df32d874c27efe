/**
 * Scenario 5: the physical limit. redis-benchmark on the same machine for the commands the
 * design relies on, against the run's private redis-server, with and without pipelining.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { ScenarioContext } from '../lib/context';
import type { ScenarioReport } from '../lib/report';

const run = promisify(execFile);

/** Name, then the command line redis-benchmark runs (`__rand_int__` varies per request). */
const COMMANDS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['PING', ['PING']],
  ['HSET market field (one market state)', ['HSET', 'ceil:market', 'm:__rand_int__', '{"id":"x","price":1.5}']],
  ['ZADD index (one index entry)', ['ZADD', 'ceil:idx', '__rand_int__', 'm:__rand_int__']],
  ['ZRANGE 50 of 10k (an unfiltered page)', ['ZRANGE', 'ceil:seeded', '0', '49']],
  ['HMGET 50 fields (a page of states)', ['HMGET', 'ceil:states', ...Array.from({ length: 50 }, (_, i) => `m:${i}`)]],
  ['PUBLISH (one update, no subscriber)', ['PUBLISH', 'ceil:tick', '{"id":"x","price":1.5}']],
];

async function benchmark(port: string, args: readonly string[], requests: number, pipeline: number): Promise<number> {
  const { stdout } = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', port, '-n', String(requests), '-c', '50', '-P', String(pipeline), '-r', '100000', '--csv', ...args]);
  // CSV: a header line, then "name","rps",...; the name may hold doubled quotes, so take the
  // first field that is a plain number.
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const rps = /","([0-9.]+)"/.exec(line)?.[1];
  if (rps === undefined) throw new Error(`redis-benchmark printed no rate: ${line}`);
  return Number(rps);
}

export async function ceiling(context: ScenarioContext): Promise<ScenarioReport> {
  const port = new URL(context.redisUrl).port;
  const redis = new Redis(context.redisUrl);
  await redis.flushall();
  // Data for the read commands: a 10k-member index and 10k market states.
  for (let i = 0; i < 10_000; i += 1000) {
    const batch = Array.from({ length: 1000 }, (_, j) => i + j);
    await redis.zadd('ceil:seeded', ...batch.flatMap((n) => [n, `m:${n}`]));
    await redis.hset('ceil:states', Object.fromEntries(batch.map((n) => [`m:${n}`, `{"id":"m:${n}","price":${n}.5}`])));
  }
  redis.disconnect();
  const requests = context.smoke ? 2000 : 200_000;
  const rows: Array<Array<string | number>> = [];
  for (const [name, args] of COMMANDS) {
    context.log(`ceiling: ${name}`);
    const single = await benchmark(port, args, requests, 1);
    const pipelined = await benchmark(port, args, requests, 16);
    rows.push([name, single.toFixed(0), pipelined.toFixed(0), `${(pipelined / single).toFixed(1)}x`]);
  }
  return {
    title: '5. the ceiling',
    method: `\`redis-benchmark -c 50 -n ${requests.toLocaleString('en')}\` against the run's own redis-server on the same machine, for the commands tickql's scripts are made of, each one request at a time per connection (\`-P 1\`) and pipelined 16 deep (\`-P 16\`). This is what Redis itself can do here, with redis-benchmark taking one of the two cores: the limit the design works against. A tickql write is about 9 such commands inside one script call (lua/README.md), and an unfiltered page is one ZRANGE plus one HMGET.`,
    tables: [{ columns: ['command', 'requests/s, -P 1', 'requests/s, -P 16', 'pipelining gain'], rows }],
    charts: [],
    findings: [],
  };
}
