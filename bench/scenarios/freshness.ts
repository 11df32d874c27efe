/**
 * Scenario: freshness under full query load. tickql as `npm start` runs it (the supervisor,
 * one ingest process, `WORKERS` serving processes sharing PORT; the esbuild bundle
 * `node dist/main.js`), fed by a local Binance exchange sending a fixed number of ticker frames
 * per second with the send time in each frame, watched by graphql-ws subscribers, measured
 * idle and while autocannon runs `markets` queries flat out, with WORKERS=1 and WORKERS=2.
 *
 * Four runs, each with its own Redis, exchange and tickql: WORKERS=1 idle, WORKERS=1 under
 * query load, WORKERS=2 idle, WORKERS=2 under query load. Per run: frame sent -> subscriber
 * received, frame received by tickql -> visible in Redis (its PUBLISH reaching a plain Redis
 * subscriber), updates a subscriber should have had but did not get (conflated), queries/s,
 * CPU per request and per process kind (the supervisor's children carry TICKQL_PROCESS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import { createKeys } from '../../src/redis/keys';
import { redisMarketSource } from '../../src/redis/query-markets';
import { defineScripts } from '../../src/redis/scripts';
import type { ScenarioContext } from '../lib/context';
import { coreShare, cpuSeconds, machineBusySeconds } from '../lib/cpu';
import { SubscriberFleet } from '../lib/delivery-rig';
import type { PublishWindow } from '../clients/publish-monitor';
import { LatencyHistogram, type LatencySummary } from '../lib/histogram';
import { liftedLimitsEnv } from '../lib/lifted-limits';
import { startIpcChild, type IpcChild } from '../lib/ipc-child';
import type { LoadOptions, LoadResult } from '../lib/load';
import { startChild, type Child } from '../lib/processes';
import { cores, ms, ratio, type ScenarioReport, type Table } from '../lib/report';
import { waitServed } from '../lib/live-service';
import { describeOtherLoad } from '../lib/machine';
import { buildBundle, cpuByKind, expectTree, freePort, serviceEnv, startService, type ServiceProcess } from '../lib/service';
import { watchersPerMarket, watchlists, type PlannedSubscriber } from '../lib/subscriber-plan';
import { fetchAndSortSource } from '../sources/fetch-and-sort';
import { TOP_50 } from './markets-query';

interface Sizes {
  readonly markets: number;
  /** Exchange frames per second, all markets together. */
  readonly rate: number;
  readonly subscribers: number;
  /** Markets each subscriber watches. */
  readonly perSubscriber: number;
  /** autocannon connections, one request in flight each. */
  readonly connections: number;
  /** Wait after the subscribers connected, and after the load started, before measuring. */
  readonly settleMs: number;
  /** Longest wait for every market to be in Redis. */
  readonly servedTimeoutMs: number;
}

const FULL: Sizes = { markets: 2500, rate: 2000, subscribers: 100, perSubscriber: 10, connections: 16, settleMs: 2000, servedTimeoutMs: 90_000 };
const SMOKE: Sizes = { markets: 30, rate: 500, subscribers: 4, perSubscriber: 3, connections: 2, settleMs: 200, servedTimeoutMs: 20_000 };

/** The issue's targets. */
const TARGET_INGEST_P99_MS = 20;
const TARGET_LOAD_OVER_IDLE_P99 = 1.5;
/** How long after the exchange stopped the service must answer with the current page (its cache serves a page up to 1 s old while refreshing). */
const CHECK_TIMEOUT_MS = 3000;
/** tickql's default key prefix (REDIS_PREFIX unset). */
const PREFIX = 'tickql';
/** The query under load: markets-query's first case, `markets` top 50 by quote volume. */
const QUERY = TOP_50;

interface RunSpec {
  readonly workers: number;
  readonly load: boolean;
}

interface ProcessCpu {
  readonly supervisor: number;
  readonly ingest: number;
  readonly serve: number;
  readonly tree: number;
  readonly redis: number;
  readonly exchange: number;
  readonly subscribers: number;
  /** autocannon's process. */
  readonly loader: number;
  /** This process and the Redis monitor's. */
  readonly bench: number;
  /** The machine's busy cores minus all of the above: what else ran. */
  readonly other: number | null;
}

interface RunResult {
  readonly spec: RunSpec;
  readonly seconds: number;
  readonly subscriber: LatencySummary;
  /** Frame received by tickql (`receivedAt`) -> PUBLISH at a plain Redis subscriber. */
  readonly ingest: LatencySummary;
  /** Frame sent by the exchange (`updatedAt`) -> PUBLISH at a plain Redis subscriber. */
  readonly sentToRedis: LatencySummary;
  readonly delivered: number;
  readonly offered: number;
  readonly publishedPerSecond: number;
  readonly framesPerSecond: number;
  readonly failedSubscribers: number;
  readonly load: LoadResult | null;
  /** Process-tree CPU seconds per request, and the serving processes' alone. */
  readonly cpuPerRequestMs: number | null;
  readonly serveCpuPerRequestMs: number | null;
  readonly cpu: ProcessCpu;
  readonly servingProcesses: number;
  /** Answers checked after the run. */
  readonly check: string;
  readonly loadAverage: number;
  /** Pids of the tree that changed during the window (a process restarted): should be none. */
  readonly restarted: number;
}

const RUNS: readonly RunSpec[] = [
  { workers: 1, load: false },
  { workers: 1, load: true },
  { workers: 2, load: false },
  { workers: 2, load: true },
];

export async function freshness(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const loadBefore = loadavg();
  const machineBefore = await describeOtherLoad(context.smoke ? 250 : 1000);
  context.log('freshness: npm run build (the bundle npm start runs)');
  buildBundle();
  const logDir = mkdtempSync(join(tmpdir(), 'tickql-freshness-'));
  const results: RunResult[] = [];
  const started = await Promise.allSettled([
    SubscriberFleet.start(1),
    startIpcChild('bench/clients/query-load.ts', {}),
    startIpcChild('bench/clients/publish-monitor.ts', {}),
  ] as const);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  const [fleet, loader, monitor] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [SubscriberFleet, IpcChild, IpcChild];
  try {
    for (const spec of RUNS) results.push(await measureRun(context, sizes, spec, { fleet, loader, monitor }, logDir));
  } finally {
    await Promise.all([fleet.stop(), loader.stop(), monitor.stop()]);
  }
  if (context.smoke && process.env.BENCH_KEEP_LOGS !== '1') rmSync(logDir, { recursive: true, force: true });
  return report(context, sizes, results, { loadBefore, loadAfter: loadavg(), machineBefore, logDir });
}

interface Clients {
  readonly fleet: SubscriberFleet;
  readonly loader: IpcChild;
  readonly monitor: IpcChild;
}

async function measureRun(context: ScenarioContext, sizes: Sizes, spec: RunSpec, clients: Clients, logDir: string): Promise<RunResult> {
  const { fleet, loader } = clients;
  const label = runLabel(spec);
  context.log(`freshness: ${label} (${(performance.now() / 1000).toFixed(1)} s)`);
  let redis: LocalRedis | null = null;
  let exchange: Child<{ wsUrl: string; restUrl: string; symbols: string[] }> | null = null;
  let service: ServiceProcess | null = null;
  let monitor: IpcChild | null = null;
  let admin: Redis | null = null;
  try {
    const [redisStarted, exchangeStarted] = await Promise.allSettled([
      startLocalRedis(),
      startChild<{ wsUrl: string; restUrl: string; symbols: string[] }>('bench/servers/paced-binance-sim.ts', { SIM_MARKETS: String(sizes.markets), SIM_RATE: String(sizes.rate) }),
    ]);
    if (redisStarted.status === 'fulfilled') redis = redisStarted.value;
    if (exchangeStarted.status === 'fulfilled') exchange = exchangeStarted.value;
    if (redisStarted.status === 'rejected') throw redisStarted.reason;
    if (exchangeStarted.status === 'rejected') throw exchangeStarted.reason;
    admin = new Redis(redis!.url);
    defineScripts(admin);
    const redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    const port = await freePort();
    const env: Record<string, string> = {
      REDIS_URL: redis!.url,
      PORT: String(port),
      WORKERS: String(spec.workers),
      FEEDS: 'binance',
      BINANCE_WS_URL: exchange!.info.wsUrl,
      BINANCE_REST_URL: exchange!.info.restUrl,
      ...liftedLimitsEnv(),
    };
    service = startService(serviceEnv(env), join(logDir, `workers-${spec.workers}-${spec.load ? 'load' : 'idle'}`), { bundle: true });
    const url = `http://127.0.0.1:${port}/graphql`;
    const spawnAt = performance.now();
    await waitServed(url, service, sizes.markets, sizes.servedTimeoutMs);
    context.log(`freshness: ${sizes.markets} markets served ${((performance.now() - spawnAt) / 1000).toFixed(1)} s after spawning tickql`);
    const kinds = await expectTree(service, spec.workers);

    const marketIds = await admin.zrange(createKeys(PREFIX).ids, 0, -1);
    const plan: PlannedSubscriber[] = watchlists(sizes.subscribers, marketIds, sizes.perSubscriber, 7);
    await clients.monitor.request('start', { redisUrl: redis!.url, prefix: PREFIX });
    monitor = clients.monitor;
    const connect = await fleet.connect('graphql-ws', url.replace(/^http/, 'ws'), plan);
    if (connect.failed > 0) context.log(`freshness: ${connect.failed} subscribers failed to connect: ${connect.errors.join('; ')}`);
    await sleep(sizes.settleMs);

    const measureMs = context.durationS * 1000;
    const pids = { redis: redisPid, exchange: exchange!.process.pid!, subscribers: fleet.children[0]!.pid, loader: loader.pid, monitor: clients.monitor.pid };
    let loadPromise: Promise<LoadResult> | null = null;
    let loadCpu: { before: CpuReading; after: CpuReading } | null = null;
    if (spec.load) {
      // The load runs from before the window to after it; CPU per request is counted over the
      // load's own duration, the latencies over the window inside it.
      loadPromise = (async () => {
        const before = await cpuOf(service!, pids);
        const options: LoadOptions = { url, body: JSON.stringify({ query: QUERY.graphql }), connections: sizes.connections, durationS: context.durationS + (2 * sizes.settleMs) / 1000 };
        const result = await loader.request<LoadResult>('run', options);
        const after = await cpuOf(service!, pids);
        loadCpu = { before, after };
        return result;
      })();
      await sleep(sizes.settleMs);
    }

    const loadAverage = loadavg()[0]!;
    const before = await cpuOf(service, pids);
    const [[reply], window] = await Promise.all([fleet.measure(measureMs), monitor.request<PublishWindow>('measure', { ms: measureMs })]);
    const after = await cpuOf(service, pids);
    const published = new Map(Object.entries(window.published));
    const ingestHistogram = new LatencyHistogram();
    ingestHistogram.addEncoded(window.fromReceipt);
    const sentHistogram = new LatencyHistogram();
    sentHistogram.addEncoded(window.fromSent);
    const ingest = ingestHistogram.summary();
    const sentToRedis = sentHistogram.summary();
    const load = loadPromise ? await loadPromise : null;
    const seconds = (after.at - before.at) / 1000;

    const subscriber = new LatencyHistogram();
    let delivered = 0;
    for (const k of Object.values(reply!.kinds)) {
      subscriber.addEncoded(k.histogram);
      delivered += k.messages;
    }
    const watchers = watchersPerMarket(plan, marketIds);
    let offered = 0;
    let publishedTotal = 0;
    for (const [id, count] of published) {
      offered += count * (watchers.get(id) ?? 0);
      publishedTotal += count;
    }
    await fleet.close();
    await monitor.request('close');
    monitor = null;

    // Stop the exchange, so the data stands still, then check the service's answer.
    const sim = (await exchange!.stop()) as { perSecond: number } | null;
    exchange = null;
    const checkAt = performance.now();
    const check = await checkAnswer(url, admin);
    context.log(`freshness: answers checked in ${((performance.now() - checkAt) / 1000).toFixed(1)} s`);

    const cpu = cpuShares(before, after, seconds);
    const restarted = [...after.pids].filter((p) => !before.pids.has(p)).length + [...before.pids].filter((p) => !after.pids.has(p)).length;
    let cpuPerRequestMs: number | null = null;
    let serveCpuPerRequestMs: number | null = null;
    if (load && loadCpu) {
      const { before: b, after: a } = loadCpu as { before: CpuReading; after: CpuReading };
      cpuPerRequestMs = ((a.tree - b.tree) * 1000) / load.requests;
      serveCpuPerRequestMs = ((a.serve - b.serve) * 1000) / load.requests;
    }
    const stopAt = performance.now();
    const killed = await service.stop();
    context.log(`freshness: tickql stopped in ${((performance.now() - stopAt) / 1000).toFixed(1)} s`);
    service = null;
    if (killed.length > 0) context.log(`freshness: tickql did not stop within the grace period; killed ${killed.join(', ')}`);
    return {
      spec,
      seconds,
      subscriber: subscriber.summary(),
      ingest,
      sentToRedis,
      delivered,
      offered,
      publishedPerSecond: publishedTotal / seconds,
      framesPerSecond: sim?.perSecond ?? NaN,
      failedSubscribers: reply!.failed,
      load,
      cpuPerRequestMs,
      serveCpuPerRequestMs,
      cpu,
      servingProcesses: kinds.serve.length,
      check,
      loadAverage,
      restarted,
    };
  } finally {
    await monitor?.request('close').catch(() => {});
    await fleet.close().catch(() => {});
    await service?.stop();
    await exchange?.stop();
    admin?.disconnect();
    await redis?.stop();
  }
}

function runLabel(spec: RunSpec): string {
  return `WORKERS=${spec.workers}, ${spec.load ? 'under query load' : 'idle (no query load)'}`;
}

interface CpuReading {
  readonly at: number;
  readonly pids: ReadonlySet<number>;
  readonly supervisor: number;
  readonly ingest: number;
  readonly serve: number;
  readonly tree: number;
  readonly redis: number;
  readonly exchange: number;
  readonly subscribers: number;
  readonly loader: number;
  readonly bench: number;
  readonly machine: number | null;
}

async function cpuOf(service: ServiceProcess, pids: { readonly redis: number; readonly exchange: number; readonly subscribers: number; readonly loader: number; readonly monitor: number }): Promise<CpuReading> {
  const [tree, redis, exchange, subscribers, loader, monitor, machine] = await Promise.all([
    cpuByKind(service),
    cpuSeconds(pids.redis),
    cpuSeconds(pids.exchange),
    cpuSeconds(pids.subscribers),
    cpuSeconds(pids.loader),
    cpuSeconds(pids.monitor),
    machineBusySeconds(),
  ]);
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    ...tree,
    redis: redis ?? NaN,
    exchange: exchange ?? NaN,
    subscribers: subscribers ?? NaN,
    loader: loader ?? NaN,
    bench: (usage.user + usage.system) / 1e6 + (monitor ?? NaN),
    machine,
  };
}

function cpuShares(before: CpuReading, after: CpuReading, seconds: number): ProcessCpu {
  const share = (k: Exclude<keyof CpuReading, 'at' | 'pids' | 'machine'>) => (after[k] - before[k]) / seconds;
  const ours = share('tree') + share('redis') + share('exchange') + share('subscribers') + share('loader') + share('bench');
  const machine = coreShare(before.machine, after.machine, seconds);
  return {
    supervisor: share('supervisor'),
    ingest: share('ingest'),
    serve: share('serve'),
    tree: share('tree'),
    redis: share('redis'),
    exchange: share('exchange'),
    subscribers: share('subscribers'),
    loader: share('loader'),
    bench: share('bench'),
    other: machine === null ? null : Math.max(0, machine - ours),
  };
}

/**
 * With the data standing still: the service's `markets` answer (GraphQL, through a serving
 * process) must be the page tickql's Lua computes in Redis and the page fetch-and-sort
 * computes in Node, as markets-query checks its systems. Waits out a page cache, if one is configured.
 */
async function checkAnswer(url: string, admin: Redis): Promise<string> {
  const keys = createKeys(PREFIX);
  await sleep(100); // frames already sent reach Redis
  const [lua, fetched] = await Promise.all([redisMarketSource(admin, keys).page(QUERY.query), fetchAndSortSource(admin, keys).page(QUERY.query)]);
  const shapes = [lua, fetched].map((a) => JSON.stringify({ total: a.total, ids: a.items.map((m) => m.id) }));
  if (shapes[0] !== shapes[1]) throw new Error(`freshness: Lua and fetch-and-sort disagree after the run: ${shapes.map((s) => s.slice(0, 200)).join(' / ')}`);
  // With QUERY_CACHE_MS opted in, a page computed before the exchange stopped may be served
  // for up to QUERY_CACHE_STALE_MS while it is refreshed: ask until the answer is the current page.
  const deadline = performance.now() + CHECK_TIMEOUT_MS;
  let served = '';
  for (;;) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY.graphql }) });
    const body = (await response.json()) as { data?: { markets: { total: number; items: Array<{ id: string }> } }; errors?: unknown };
    if (!body.data) throw new Error(`freshness: the markets query failed after the run: ${JSON.stringify(body.errors).slice(0, 300)}`);
    served = JSON.stringify({ total: body.data.markets.total, ids: body.data.markets.items.map((m) => m.id) });
    if (served === shapes[0]) return `same ${body.data.markets.items.length} ids and total (${body.data.markets.total})`;
    if (performance.now() > deadline) break;
    await sleep(100);
  }
  throw new Error(`freshness: the service's answer differs from Redis's ${CHECK_TIMEOUT_MS} ms after the exchange stopped: ${served.slice(0, 200)} / ${shapes[0]!.slice(0, 200)}`);
}

const sleep = (msToWait: number) => new Promise((r) => setTimeout(r, msToWait));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function report(
  context: ScenarioContext,
  sizes: Sizes,
  results: readonly RunResult[],
  env: { readonly loadBefore: number[]; readonly loadAfter: number[]; readonly machineBefore: string; readonly logDir: string },
): ScenarioReport {
  const latency: Table = {
    caption: 'Freshness per run (ms): frame sent by the exchange -> update received by a subscriber; ingest part: frame received by tickql -> its PUBLISH at a plain Redis subscriber (the write and the publish are one Lua call)',
    columns: [
      'run',
      'subscriber msgs',
      'sent → subscriber p50',
      'p99',
      'max',
      'ingest part (received → Redis) p50',
      'p99',
      'sent → Redis p50',
      'p99',
      'missed/conflated',
      'published/s',
    ],
    rows: results.map((r) => [
      runLabel(r.spec),
      r.subscriber.count.toLocaleString('en'),
      ms(r.subscriber.p50),
      ms(r.subscriber.p99),
      ms(r.subscriber.max),
      ms(r.ingest.p50),
      ms(r.ingest.p99),
      ms(r.sentToRedis.p50),
      ms(r.sentToRedis.p99),
      r.offered > 0 ? pct(Math.max(0, 1 - r.delivered / r.offered)) : '–',
      Math.round(r.publishedPerSecond).toLocaleString('en'),
    ]),
  };
  const load: Table = {
    caption: `Query load and CPU (cores of the machine's ${cpuCount()}; CPU per request = CPU over the load's duration / requests)`,
    columns: [
      'run',
      'queries/s',
      'query p50 ms',
      'query p99 ms',
      'failed',
      'CPU ms/request (tickql tree)',
      'of which serving',
      'CPU: ingest',
      'CPU: serving',
      'CPU: supervisor',
      'CPU: Redis',
      'CPU: exchange',
      'CPU: subscribers',
      'CPU: autocannon',
      'CPU: bench (scenario, Redis monitor)',
      'CPU: everything else',
      'load avg',
      'answers after the run',
    ],
    rows: results.map((r) => [
      runLabel(r.spec),
      r.load ? Math.round(r.load.requestsPerSecond).toLocaleString('en') : '–',
      r.load ? ms(r.load.latency.p50) : '–',
      r.load ? ms(r.load.latency.p99) : '–',
      r.load ? r.load.failures : '–',
      r.cpuPerRequestMs === null ? '–' : r.cpuPerRequestMs.toFixed(3),
      r.serveCpuPerRequestMs === null ? '–' : r.serveCpuPerRequestMs.toFixed(3),
      cores(r.cpu.ingest),
      cores(r.cpu.serve),
      cores(r.cpu.supervisor),
      cores(r.cpu.redis),
      cores(r.cpu.exchange),
      cores(r.cpu.subscribers),
      cores(r.cpu.loader),
      cores(r.cpu.bench),
      cores(r.cpu.other),
      r.loadAverage.toFixed(1),
      r.check,
    ]),
  };
  const find = (workers: number, isLoad: boolean) => results.find((r) => r.spec.workers === workers && r.spec.load === isLoad);
  const findings: string[] = [];
  const ingestWorst = Math.max(...results.map((r) => r.ingest.p99));
  findings.push(
    `Target "ingest part p99 at most ${TARGET_INGEST_P99_MS} ms": **${ingestWorst <= TARGET_INGEST_P99_MS ? 'met' : 'missed'}** (p99 ${results.map((r) => `${ms(r.ingest.p99)} ${r.spec.workers}/${r.spec.load ? 'load' : 'idle'}`).join(', ')} ms; tickql stamps \`receivedAt\` with \`Date.now()\`, whole ms, so these read up to 1 ms high).`,
  );
  const ratios: string[] = [];
  for (const workers of [1, 2]) {
    const idle = find(workers, false);
    const loaded = find(workers, true);
    if (!idle || !loaded) continue;
    const x = loaded.subscriber.p99 / idle.subscriber.p99;
    ratios.push(`WORKERS=${workers}: p99 ${ms(loaded.subscriber.p99)} under load against ${ms(idle.subscriber.p99)} idle = **${ratio(x)}**, ${x <= TARGET_LOAD_OVER_IDLE_P99 ? 'met' : 'missed'} (p50 ${ms(loaded.subscriber.p50)} against ${ms(idle.subscriber.p50)})`);
  }
  findings.push(`Target "subscriber p99 under load within ${TARGET_LOAD_OVER_IDLE_P99}x of idle" (before the change: 7x, p50 5.4 / p99 30.5 idle against p50 96 / p99 214 ms under 16 connections in one process): ${ratios.join('; ')}.`);
  const split = results
    .filter((r) => r.spec.load)
    .map((r) => {
      const busy = r.cpu.tree + r.cpu.redis + r.cpu.exchange + r.cpu.subscribers + r.cpu.loader + r.cpu.bench + (r.cpu.other ?? 0);
      return `WORKERS=${r.spec.workers}: subscriber p50 ${ms(r.subscriber.p50)} ms, of which frame sent → Redis p50 ${ms(r.sentToRedis.p50)} ms; the cores were ${cores(busy)} of ${cpuCount()} busy (ingest ${cores(r.cpu.ingest)}, serving ${cores(r.cpu.serve)})`;
    });
  if (split.length > 0) findings.push(`Where the time goes under load: ${split.join('; ')}. What the load adds is mostly after Redis (pub/sub to a serving process, which also runs the queries, then graphql-ws), and every process waits for a core when the machine is full.`);
  const l1 = find(1, true)?.load;
  const l2 = find(2, true)?.load;
  if (l1 && l2) {
    findings.push(
      `Markets query throughput, ${sizes.connections} connections: ${Math.round(l1.requestsPerSecond).toLocaleString('en')}/s with WORKERS=1, ${Math.round(l2.requestsPerSecond).toLocaleString('en')}/s with WORKERS=2 (**${ratio(l2.requestsPerSecond / l1.requestsPerSecond)}**); CPU per request (whole tickql tree) ${find(1, true)!.cpuPerRequestMs?.toFixed(3)} against ${find(2, true)!.cpuPerRequestMs?.toFixed(3)} ms. The machine has ${cpuCount()} cores shared with Redis, the exchange, the subscribers and autocannon, so a second serving process can only take what they leave.`,
    );
  }
  const restarts = results.filter((r) => r.restarted > 0);
  if (restarts.length > 0) findings.push(`Processes of the tickql tree changed during the window (a restart?) in: ${restarts.map((r) => runLabel(r.spec)).join('; ')}.`);
  const failedSubs = results.reduce((n, r) => n + r.failedSubscribers, 0);
  if (failedSubs > 0) findings.push(`${failedSubs} subscribers failed or were closed during the windows.`);
  findings.push(
    `Machine's other load: ${env.machineBefore} before the runs; 1-minute load average ${env.loadBefore[0]!.toFixed(2)} before the runs and ${env.loadAfter[0]!.toFixed(2)} after (the column "everything else" is the machine's busy time minus every process of the bench). Logs of each tickql: ${context.smoke ? 'removed (smoke)' : env.logDir}.`,
  );

  return {
    title: 'Freshness under query load',
    method: [
      `tickql as \`npm start\` runs it: built once with \`npm run build\`, then \`node --enable-source-maps dist/main.js\` (\`bench/lib/service.ts\`), the supervisor with one ingest process and \`WORKERS\` serving processes sharing PORT, default configuration except the lifted per-address limits. ` +
        `Fed by a local exchange speaking Binance's protocol in its own process (\`bench/servers/paced-binance-sim.ts\`): ${sizes.markets.toLocaleString('en')} markets, ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames/s evenly paced, each frame's event time stamped in microseconds as it is written to the socket (tickql's adapter reads it into \`updatedAt\`). ` +
        `${sizes.subscribers} graphql-ws subscribers in one client process (\`bench/clients/subscribers.ts\`), each watching ${sizes.perSubscriber} markets chosen by popularity with one \`priceUpdated\` subscription; latency = receive time − \`updatedAt\`. ` +
        `The ingest part is timed by a plain Redis subscriber in a process of its own (\`bench/clients/publish-monitor.ts\`) on tickql's channels: its receive time − the market's \`receivedAt\` (stamped by tickql's ingest process as the frame arrived), and − \`updatedAt\` (frame sent). ` +
        `Missed/conflated = 1 − messages received / (updates published × their watchers) in the window.`,
      `Four runs, each with its own Redis, exchange and tickql: WORKERS=1 and WORKERS=2, each idle and under query load. The load is autocannon in a process of its own (\`bench/clients/query-load.ts\`), ${sizes.connections} connections with one request in flight each, of markets-query's "${QUERY.name}" (\`${QUERY.graphql}\`), running from ${(sizes.settleMs / 1000).toFixed(1)} s before the ${context.durationS} s window to after it. ` +
        `After each run the exchange is stopped and the service's answer to that query is checked against the page tickql's Lua and fetch-and-sort compute from Redis. CPU from /proc per process; the supervisor's children are told apart by \`TICKQL_PROCESS\` in /proc/<pid>/environ.`,
    ].join('\n\n'),
    tables: [latency, load],
    charts: [],
    findings,
  };
}

function cpuCount(): number {
  return cpus().length;
}
