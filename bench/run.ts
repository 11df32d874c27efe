/**
 * `npm run bench`: starts a private redis-server (never someone's database), runs the
 * scenarios and prints a table. Options: BENCH_SIZES (default 1000,10000), BENCH_ITERATIONS
 * (default 1000 per query and path).
 */
import { cpus, totalmem } from 'node:os';
import { startLocalRedis } from '../src/redis/local-server';
import { benchMarketsQuery } from './markets-query';

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 1000);

const f = (n: number) => n.toFixed(3);

async function main(): Promise<void> {
  const redis = await startLocalRedis();
  try {
    console.log(`# tickql bench: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
    console.log(`# command: BENCH_SIZES=${sizes.join(',')} BENCH_ITERATIONS=${iterations} npm run bench`);
    console.log('# latency in ms, one request at a time; the client shares the machine with Redis and the server\n');
    console.log('| markets | query | lua p50 | lua p99 | http p50 | http p99 | fetch-and-sort p50 | fetch-and-sort p99 | fetch-and-sort / http (p50) |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    const memory: string[] = [];
    for (const size of sizes) {
      const { seed, queries } = await benchMarketsQuery(redis.url, size, iterations);
      memory.push(`${size} markets: ${seed.bytesPerMarket.toFixed(0)} bytes of Redis memory per market (used_memory growth, all indexes)`);
      for (const r of queries) {
        console.log(
          `| ${size} | ${r.name} | ${f(r.lua.p50)} | ${f(r.lua.p99)} | ${f(r.http.p50)} | ${f(r.http.p99)} | ${f(r.baseline.p50)} | ${f(r.baseline.p99)} | ${(r.baseline.p50 / r.http.p50).toFixed(1)}x |`,
        );
      }
    }
    console.log(`\n${memory.join('\n')}`);
  } finally {
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
