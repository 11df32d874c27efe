/**
 * `npm run bench`: runs the benchmark scenarios on one machine and writes BENCHMARKS.md and
 * bench/charts/*.svg. Every figure is measured in the same run as its baseline.
 *
 *   BENCH_SCENARIOS  comma list of: markets, query-costs, ingest, tick, fanout, ceiling, stuck, universe, freshness, failover (default: all)
 *   BENCH_DURATION_S seconds per measured run (default 8)
 *   BENCH_SMOKE=1    tiny sizes, no files written: what `npm test` runs so the bench cannot rot
 *   BENCH_OUT        where to write the report (default BENCHMARKS.md)
 *   POSTGRES_URL     PostgreSQL for the baseline (default postgres://postgres@127.0.0.1:5432/test)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startLocalRedis } from '../src/redis/local-server';
import type { ScenarioContext } from './lib/context';
import { LIFTED_LIMITS } from './lib/lifted-limits';
import { describeMachine } from './lib/machine';
import { ROOT } from './lib/processes';
import { renderScenario, type ScenarioReport } from './lib/report';
import { renderBarChart } from './lib/svg-chart';
import { SCENARIOS, type ScenarioName } from './scenarios';

const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function reachablePostgres(url: string, log: (m: string) => void): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return url;
  } catch (err) {
    log(`PostgreSQL at ${url} is not reachable (${err instanceof Error ? err.message : String(err)}): the PostgreSQL baseline is skipped`);
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

export { LIFTED_LIMITS };

export async function runBench(env: NodeJS.ProcessEnv = process.env): Promise<ScenarioReport[]> {
  for (const [name, value] of Object.entries(LIFTED_LIMITS)) process.env[name] ??= value;
  const smoke = env.BENCH_SMOKE === '1';
  const names = (env.BENCH_SCENARIOS ?? Object.keys(SCENARIOS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '') as ScenarioName[];
  for (const name of names) if (!(name in SCENARIOS)) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  const redis = await startLocalRedis();
  try {
    const context: ScenarioContext = {
      redisUrl: redis.url,
      postgresUrl: await reachablePostgres(env.POSTGRES_URL ?? DEFAULT_POSTGRES_URL, log),
      smoke,
      durationS: smoke ? 1 : Number(env.BENCH_DURATION_S ?? 8),
      log,
    };
    const reports: ScenarioReport[] = [];
    for (const name of names) {
      log(`scenario ${name}`);
      reports.push(await SCENARIOS[name](context));
    }
    return reports;
  } finally {
    await redis.stop();
  }
}

/** Throws naming every scenario failure (refused requests, wrong answers), after the report is written. */
function failIfAny(reports: readonly ScenarioReport[]): void {
  const failures = reports.flatMap((r) => (r.failures ?? []).map((f) => `${r.title}: ${f}`));
  if (failures.length > 0) throw new Error(`the bench measured everything, but ${failures.length} failure(s):\n- ${failures.join('\n- ')}`);
}

async function main(): Promise<void> {
  const started = new Date();
  const reports = await runBench();
  if (process.env.BENCH_SMOKE === '1') return failIfAny(reports);
  const chartsDir = join(ROOT, 'bench', 'charts');
  mkdirSync(chartsDir, { recursive: true });
  for (const chart of reports.flatMap((r) => r.charts)) writeFileSync(join(chartsDir, chart.file), renderBarChart(chart));
  const command = ['BENCH_SCENARIOS', 'BENCH_DURATION_S']
    .filter((k) => process.env[k] !== undefined)
    .map((k) => `${k}=${process.env[k]}`)
    .concat('npm run bench')
    .join(' ');
  const header = [
    '# Benchmarks',
    '',
    `Written by \`${command}\` on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; run it again to refresh every figure.`,
    '',
    await describeMachine(),
    '',
    'The load generator, the server under test, Redis (or PostgreSQL) and the background writer all',
    'share the machine\'s cores, so absolute figures are lower than on separate machines. Every figure',
    'is measured in the same run as its baseline and also given as a ratio, because the machine is',
    'shared and noisy.',
    '',
    `All the load comes from one address on loopback, so the per-address budgets and connection caps, and the per-feed frame budget, are lifted for the processes under test (${Object.entries(LIFTED_LIMITS).map(([k, v]) => `\`${k}=${v}\``).join(', ')}; \`LIFTED_LIMITS\` in bench/lib/lifted-limits.ts), except in section 1, which runs tickql in its default configuration and reports what the defaults refuse. Every other setting is the default unless a scenario says otherwise.`,
  ].join('\n');
  const body = reports.map((r) => renderScenario(r, (chart) => `bench/charts/${chart.file}`)).join('\n\n');
  writeFileSync(resolve(ROOT, process.env.BENCH_OUT ?? 'BENCHMARKS.md'), `${header}\n\n${body}\n`);
  process.stderr.write(`[bench] wrote ${process.env.BENCH_OUT ?? 'BENCHMARKS.md'} and bench/charts/\n`);
  failIfAny(reports);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
