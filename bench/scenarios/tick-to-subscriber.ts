/**
 * Scenario 3: tick to subscriber. The time from an exchange frame leaving a local exchange
 * socket to a graphql-ws client receiving the update, with 1k subscribers while the exchange
 * sends 10k frames/s, on the real path with tickql as `npm start` runs it (its process tree:
 * supervisor, ingest process, WORKERS serving processes; bench/lib/delivery-rig.ts), with
 * WORKERS=1 and WORKERS=2, against a raw relay of the same Redis channels without GraphQL
 * measured in the same run, and at a light rate to show the path's own latency. The 10k
 * WORKERS=1 run is followed by a second window with the ingest and serving processes under
 * V8's sampling profiler, to show where their time goes.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { ScenarioContext } from '../lib/context';
import { formatShares, summarizeBundleProfile, type ProfileSummary } from '../lib/cpu-profile';
import { MonitorProcess, SubscriberFleet, measureDelivery, rigLogDir, startRig, type DeliveryResult, type TreeRig } from '../lib/delivery-rig';
import type { LatencySummary } from '../lib/histogram';
import { describeOtherLoad } from '../lib/machine';
import { startChild } from '../lib/processes';
import { cores, ms, perSecond, ratio, type ScenarioReport, type Table } from '../lib/report';
import { buildBundle } from '../lib/service';
import type { BarChart } from '../lib/svg-chart';
import { watchlists, type PlannedSubscriber } from '../lib/subscriber-plan';

interface Sizes {
  readonly markets: number;
  /** Exchange frames per second: the rate, and a light one. */
  readonly rate: number;
  readonly lightRate: number;
  readonly watchlists: number;
  readonly perWatchlist: number;
  /** Subscribers of the whole exchange. */
  readonly exchangeWide: number;
  readonly clientProcesses: number;
  readonly settleMs: number;
}

const FULL: Sizes = { markets: 1000, rate: 10_000, lightRate: 1000, watchlists: 999, perWatchlist: 3, exchangeWide: 1, clientProcesses: 2, settleMs: 2000 };
const SMOKE: Sizes = { markets: 20, rate: 200, lightRate: 50, watchlists: 3, perWatchlist: 2, exchangeWide: 1, clientProcesses: 1, settleMs: 500 };
const TARGET_P99_MS = 20;

/** One tickql tree (its own simulator and Redis prefix) and what is measured on it. */
interface RigSpec {
  readonly rate: number;
  readonly workers: number;
  /** Also measure a profiled window, then the raw relay, on this rig. */
  readonly extras: boolean;
}

type RunKind = 'tickql' | 'profiled' | 'relay';

interface Run {
  readonly label: string;
  readonly spec: RigSpec;
  readonly kind: RunKind;
  readonly result: DeliveryResult;
}

interface Profiles {
  readonly result: DeliveryResult;
  readonly byKind: ReadonlyArray<{ readonly kind: string; readonly summary: ProfileSummary }>;
}

function rigSpecs(sizes: Sizes): RigSpec[] {
  return [
    { rate: sizes.rate, workers: 1, extras: true },
    { rate: sizes.rate, workers: 2, extras: false },
    { rate: sizes.lightRate, workers: 1, extras: false },
  ];
}

function labelOf(spec: RigSpec, kind: RunKind): string {
  const rate = `${spec.rate.toLocaleString('en')} frames/s`;
  if (kind === 'relay') return `raw relay (no GraphQL), ${rate}, tickql WORKERS=${spec.workers} ingesting`;
  return `tickql WORKERS=${spec.workers}, ${rate}${kind === 'profiled' ? ', under the CPU profiler' : ''}`;
}

export async function tickToSubscriber(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const measureMs = context.durationS * 1000;
  const load = { before: loadavg()[0]!, other: await describeOtherLoad(context.smoke ? 250 : 1000) };
  context.log('tick: npm run build (the bundle npm start runs)');
  buildBundle();
  const logDir = rigLogDir('tick');
  const profileDir = rigLogDir('tick-profiles');
  const runs: Run[] = [];
  let profiles: Profiles | null = null;
  const [fleet, monitor] = await Promise.all([SubscriberFleet.start(sizes.clientProcesses), MonitorProcess.start()]);
  try {
    for (const [i, spec] of rigSpecs(sizes).entries()) {
      const prefix = `tick-${i}`;
      context.log(`tick: starting the simulator (${spec.rate} frames/s over ${sizes.markets} markets) and tickql (${prefix}, WORKERS=${spec.workers}; logs in ${logDir})`);
      const rig = await startRig(context, { markets: sizes.markets, rate: spec.rate, workers: spec.workers, prefix, logDir, ...(spec.extras ? { profileDir } : {}) });
      try {
        await monitor.watch(context.redisUrl, prefix);
        const plan: PlannedSubscriber[] = [
          ...watchlists(sizes.watchlists, rig.marketIds, sizes.perWatchlist, 3),
          ...Array.from({ length: sizes.exchangeWide }, () => ({ kind: 'whole exchange', exchanges: ['binance'] })),
        ];
        const measure = (kind: RunKind, url: string, add: readonly PlannedSubscriber[], extra: { relayPid?: number; profileDir?: string } = {}) => {
          context.log(`tick: ${labelOf(spec, kind)}: ${plan.length} subscribers to ${url}, measuring ${context.durationS} s`);
          return measureDelivery({ rig, fleet, monitor, monitorPid: monitor.child.pid, protocol: kind === 'relay' ? 'raw' : 'graphql-ws', url, connected: plan, add, measureMs, settleMs: sizes.settleMs, ...extra });
        };
        const record = (kind: RunKind, result: DeliveryResult) => {
          if (result.failed > 0) context.log(`tick: ${result.failed} subscribers failed: ${result.errors.join('; ')}`);
          runs.push({ label: labelOf(spec, kind), spec, kind, result });
        };
        record('tickql', await measure('tickql', rig.wsUrl, plan));
        if (spec.extras) {
          const profiled = await measure('profiled', rig.wsUrl, [], { profileDir });
          record('profiled', profiled);
          profiles = { result: profiled, byKind: profiled.profiles.map((p) => ({ kind: p.kind, summary: summarizeBundleProfile(p.path, 10) })) };
        }
        await fleet.close();
        if (spec.extras) record('relay', await relayRun(context, rig, (url, relayPid) => measure('relay', url, plan, { relayPid })));
        await fleet.close();
      } finally {
        await monitor.unwatch().catch(() => {});
        await rig.stop();
      }
    }
  } finally {
    await Promise.all([fleet.stop(), monitor.stop()]);
    rmSync(profileDir, { recursive: true, force: true });
    if (context.smoke) rmSync(logDir, { recursive: true, force: true });
  }
  return report(context, sizes, runs, profiles, { ...load, after: loadavg()[0]!, logDir });
}

async function relayRun(context: ScenarioContext, rig: TreeRig, body: (url: string, relayPid: number) => Promise<DeliveryResult>): Promise<DeliveryResult> {
  const relay = await startChild<{ url: string }>('bench/servers/raw-relay.ts', { REDIS_URL: context.redisUrl, REDIS_PREFIX: rig.prefix });
  try {
    return await body(relay.info.url, relay.process.pid!);
  } finally {
    await relay.stop();
  }
}

const latencyCells = (l: LatencySummary) => [ms(l.p50), ms(l.p99), ms(l.p999), ms(l.max)];
/** Microseconds of `cpu` cores per delivered message. */
const usPerMessage = (r: DeliveryResult, cpu: number | undefined = r.cpu.server) => (cpu === undefined || r.deliveredPerSecond === 0 ? '–' : ((cpu * 1e6) / r.deliveredPerSecond).toFixed(1));

function report(
  context: ScenarioContext,
  sizes: Sizes,
  runs: readonly Run[],
  profiles: Profiles | null,
  load: { readonly before: number; readonly other: string; readonly after: number; readonly logDir: string },
): ScenarioReport {
  const subscribers = sizes.watchlists + sizes.exchangeWide;
  const latency: Table = {
    caption: `Frame leaving the exchange socket to update received by a subscriber, ${subscribers.toLocaleString('en')} subscribers (ms); the "ingest part" rows are frame to Redis PUBLISH in the same window`,
    columns: ['path', 'messages', 'delivered msg/s', 'p50', 'p99', 'p99.9', 'max'],
    rows: runs.flatMap((run) => [
      [`**${run.label}**`, run.result.all.count.toLocaleString('en'), perSecond(run.result.deliveredPerSecond), ...latencyCells(run.result.all)],
      ...(run.result.kinds.length > 1
        ? run.result.kinds.map((k) => [`  of which ${k.kind} (${k.subscribers} subscriber${k.subscribers === 1 ? '' : 's'})`, k.latency.count.toLocaleString('en'), perSecond(k.messagesPerSecond), ...latencyCells(k.latency)])
        : []),
      [`  ingest part (frame → PUBLISH, plain Redis subscriber)`, run.result.ingest.count.toLocaleString('en'), perSecond(run.result.publishedPerSecond), ...latencyCells(run.result.ingest)],
    ]),
  };
  const resources: Table = {
    caption:
      'Load during each measured window (CPU in cores of the 2, from /proc; "serving" is tickql\'s serving processes together, or the relay; "all processes" is every core\'s busy time, whatever ran it, and "everything else" that minus the processes named here: other work on the machine; "waiting for a core" is the share of the window each main thread was ready to run but had no core, from /proc/<pid>/schedstat; RSS of the serving processes together)',
    columns: [
      'path',
      'frames/s into tickql',
      'updates published/s',
      'delivered / offered',
      'CPU: serving',
      'CPU: each serving process',
      'CPU: tickql ingest',
      'CPU: tickql supervisor',
      'CPU: Redis',
      'CPU: simulator',
      'CPU: subscribers',
      'CPU: publish monitor',
      'CPU: bench process',
      'CPU: everything else',
      'CPU: all processes',
      'waiting for a core: serving / ingest / simulator',
      'serving CPU µs per delivered msg',
      'serving RSS MB',
      'failed subscribers',
      'load average',
    ],
    rows: runs.map((run) => {
      const r = run.result;
      return [
        run.label,
        perSecond(r.framesPerSecond),
        perSecond(r.publishedPerSecond),
        r.offeredPerSecond > 0 ? (r.deliveredPerSecond / r.offeredPerSecond).toFixed(3) : '–',
        cores(r.cpu.server),
        r.serverCpuEach.map(cores).join(' + '),
        cores(r.cpu.ingest),
        cores(r.cpu.supervisor),
        cores(r.cpu.redis),
        cores(r.cpu.simulator),
        cores(r.cpu.subscribers),
        cores(r.cpu.monitor),
        cores(r.cpu.bench),
        cores(r.cpu.other),
        cores(r.cpu.machine),
        [r.waiting.server, r.waiting.ingest, r.waiting.simulator].map(cores).join(' / '),
        usPerMessage(r),
        (r.serverRss / 2 ** 20).toFixed(0),
        r.failed,
        r.loadAverage.toFixed(1),
      ];
    }),
  };
  const chart: BarChart = {
    file: 'tick-to-subscriber.svg',
    title: `Frame to subscriber, ${subscribers.toLocaleString('en')} subscribers`,
    unit: 'latency, ms (log scale)',
    log: true,
    groups: runs.map((run) => ({ label: run.label, bars: [{ label: 'p50', value: run.result.all.p50 }, { label: 'p99', value: run.result.all.p99 }] })),
  };

  const find = (rate: number, workers: number, kind: RunKind = 'tickql') => runs.find((r) => r.spec.rate === rate && r.spec.workers === workers && r.kind === kind)?.result;
  const one = find(sizes.rate, 1);
  const two = find(sizes.rate, 2);
  const relay = find(sizes.rate, 1, 'relay');
  const light = find(sizes.lightRate, 1);
  const rate = (n: number) => `${n.toLocaleString('en')} frames/s`;
  const met = (r: DeliveryResult) => (r.all.p99 <= TARGET_P99_MS ? 'met' : 'missed');
  const where = (r: DeliveryResult) =>
    `the cores were ${cores(r.cpu.machine)} of 2 busy: tickql's ingest process ${cores(r.cpu.ingest)}, its serving process${r.serverCpuEach.length > 1 ? 'es' : ''} ${r.serverCpuEach.map(cores).join(' + ')}, Redis ${cores(r.cpu.redis)}, the simulator ${cores(r.cpu.simulator)}, the subscribers' clients ${cores(r.cpu.subscribers)}, the publish monitor ${cores(r.cpu.monitor)}, the bench's own process ${cores(r.cpu.bench)}, everything else ${cores(r.cpu.other)}; the serving process${r.serverCpuEach.length > 1 ? 'es\' main threads were' : '\'s main thread was'} ready to run but waiting for a core ${cores(r.waiting.server)} s per second, the ingest process's ${cores(r.waiting.ingest)}`;
  const findings: string[] = [];
  if (one && two && relay && light) {
    findings.push(
      `Target p99 ≤ ${TARGET_P99_MS} ms at ${rate(sizes.rate)} with ${subscribers.toLocaleString('en')} subscribers on the process tree: **${met(one)}** with WORKERS=1 (p50 ${ms(one.all.p50)}, p99 ${ms(one.all.p99)}, p99.9 ${ms(one.all.p999)} ms), **${met(two)}** with WORKERS=2 (p50 ${ms(two.all.p50)}, p99 ${ms(two.all.p99)}, p99.9 ${ms(two.all.p999)} ms). ` +
        `At ${rate(sizes.lightRate)} (WORKERS=1): p50 ${ms(light.all.p50)}, p99 ${ms(light.all.p99)} ms, ${met(light)}; the ingest part there is p50 ${ms(light.ingest.p50)} / p99 ${ms(light.ingest.p99)} ms.`,
      `Where the time goes at ${rate(sizes.rate)}: the ingest part alone (frame → PUBLISH) is p50 ${ms(one.ingest.p50)} / p99 ${ms(one.ingest.p99)} ms with WORKERS=1 and p50 ${ms(two.ingest.p50)} / p99 ${ms(two.ingest.p99)} ms with WORKERS=2, against p50 ${ms(light.ingest.p50)} / p99 ${ms(light.ingest.p99)} ms at ${rate(sizes.lightRate)}. ` +
        `WORKERS=1: ${where(one)}. WORKERS=2: ${where(two)}. A process that is ready to run waits for a core when the machine is full, so every hop (exchange socket, ingest, Redis, the serving process, the client) queues.`,
      `Cost per message: tickql's serving processes spent ${usPerMessage(one)} µs of CPU per delivered message with WORKERS=1 and ${usPerMessage(two)} µs with WORKERS=2 (${perSecond(one.deliveredPerSecond)} and ${perSecond(two.deliveredPerSecond)} messages/s); the ingest process ${((one.cpu.ingest! * 1e6) / Math.max(1, one.framesPerSecond)).toFixed(1)} µs per exchange frame (WORKERS=1 run).`,
      `GraphQL against the raw relay of the same channels (no GraphQL, the published JSON written as is, no conflation; tickql WORKERS=1 ingesting meanwhile, its serving process idle): p50 ${ms(one.all.p50)} against ${ms(relay.all.p50)} ms (${ratio(one.all.p50 / relay.all.p50)}), p99 ${ms(one.all.p99)} against ${ms(relay.all.p99)} ms (${ratio(one.all.p99 / relay.all.p99)}); ` +
        `serving CPU ${cores(one.cpu.server)} cores (tickql's serving process) against ${cores(relay.cpu.server)} (relay), ${usPerMessage(one)} against ${usPerMessage(relay)} µs per delivered message; the ingest process used ${cores(one.cpu.ingest)} and ${cores(relay.cpu.ingest)} cores in the two windows.`,
      `WORKERS=2 against WORKERS=1 at ${rate(sizes.rate)}: p99 ${ratio(two.all.p99 / one.all.p99)}, serving CPU ${cores(two.cpu.server)} against ${cores(one.cpu.server)} cores. A second serving process adds a core's worth of capacity only when a core is free; here the machine's 2 cores were ${cores(two.cpu.machine)} busy with it and ${cores(one.cpu.machine)} without.`,
    );
  }
  if (profiles) {
    const p = profiles;
    const parts = p.byKind.map(({ kind, summary }) => `**${kind === 'serve' ? 'serving process' : 'ingest process'}**: idle ${(summary.idle * 100).toFixed(0)} % of samples; busy time by area: ${formatShares(summary.byArea, 6)}; top functions: ${formatShares(summary.byFunction, 6)}`);
    findings.push(
      `Profile (V8 sampling profiler in tickql's own processes, bench/lib/cpu-profile-preload.cjs, started at the beginning of a second ${sizes.settleMs / 1000} s settling pause and stopped after a second ${context.durationS} s window at ${rate(sizes.rate)} with WORKERS=1, right after the first; p50 ${ms(p.result.all.p50)} / p99 ${ms(p.result.all.p99)} ms in that window; frames mapped back to src/ through the bundle's source map; \`dispatch\` is the inspector starting the profiler, a stall kept out of the latency window): ${parts.join('; ')}.`,
    );
  }
  return {
    title: '3. Tick to subscriber',
    method: [
      `A local exchange speaking Binance's protocol (\`BinanceSim\` in its own process, \`bench/servers/paced-binance-sim.ts\`) lists ${sizes.markets.toLocaleString('en')} markets and sends ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames per second (the issue's rate; ${(sizes.rate / sizes.markets).toFixed(0)} per market per second), evenly paced, each frame moving a random market; one run uses ${sizes.lightRate.toLocaleString('en')} frames/s to show the path's own latency when nothing is short of CPU. ` +
        `Each frame's event time \`E\` is stamped in microseconds as the frame is written to the socket (\`?timeUnit=MICROSECOND\`, read by the real Binance adapter into \`updatedAt\`). ` +
        `tickql runs as \`npm start\` runs it (\`startRig\` in \`bench/lib/delivery-rig.ts\`): the bundle \`node --enable-source-maps dist/main.js\`, a supervisor, one ingest process (feed, batch writer, Lua upsert and PUBLISH) and \`WORKERS\` serving processes sharing the port (Redis pub/sub, graphql-ws), in the default configuration pointed at the simulator (\`FEEDS=binance\`, \`BINANCE_WS_URL\`, \`BINANCE_REST_URL\`, \`REDIS_URL\`, \`REDIS_PREFIX\`, \`PORT\`, \`WORKERS\`, the lifted limits). Each run has its own simulator and tickql tree, and starts once every market is served.`,
      `${subscribers.toLocaleString('en')} subscribers, each its own \`graphql-ws\` client and WebSocket, spread over ${sizes.clientProcesses} client process(es) (\`bench/clients/subscribers.ts\`): ${sizes.watchlists.toLocaleString('en')} watch ${sizes.perWatchlist} markets each by \`ids\` (chosen with Zipf popularity, so popular markets have many watchers; ${((sizes.perWatchlist * sizes.rate) / sizes.markets).toFixed(0)} messages/s each at the issue's rate) and ${sizes.exchangeWide} watch${sizes.exchangeWide === 1 ? 'es' : ''} the whole exchange (\`exchanges: ["binance"]\`, every update). ` +
        `All send one document, \`priceUpdated(ids: $ids, exchanges: $exchanges) { id price bid ask changePercent24h updatedAt }\`. Latency = receive time − \`updatedAt\`, both on this machine's clock at microsecond resolution (\`bench/lib/clock.ts\`), in HDR histograms; ${context.durationS} s per window after ${sizes.settleMs / 1000} s of settling. ` +
        `A plain Redis subscriber in a process of its own (\`bench/clients/publish-monitor.ts\`) measures the ingest part (frame to PUBLISH) in the same window and counts the updates published per market, which gives the messages the subscribers were offered. CPU is read from /proc per process; tickql's processes are told apart by \`TICKQL_PROCESS\` in their environment.`,
      `Runs: WORKERS=1 and WORKERS=2 at ${rate(sizes.rate)}, WORKERS=1 at ${rate(sizes.lightRate)}. On the WORKERS=1 ${rate(sizes.rate)} tree, after its window: a second window with its ingest and serving processes under the CPU profiler, then the **raw relay** (\`bench/servers/raw-relay.ts\`), which subscribes the same market channels and writes each published JSON to plain WebSockets with no GraphQL, while tickql keeps ingesting. ` +
        'The earlier in-process comparisons (the executed-per-subscriber path, a 20 ms batch window) were switches of the single-process bench server and are not measured on the tree. The single-process server also reported its heap and its payload-sharing counters; the tree has no such endpoint, and these tables leave them out.',
      `The simulator, tickql's processes, Redis, the relay, the monitor and the client processes all share the machine's 2 cores; other work on the machine shares them too (before this scenario: 1-minute load average ${load.before.toFixed(2)}, ${load.other}; after it: ${load.after.toFixed(2)}; the "load average" column gives it at each window, this scenario's own processes included). Runs follow each other, so a change in the machine's other load between them moves their figures apart. tickql's logs: ${load.logDir}.`,
    ].join('\n\n'),
    tables: [latency, resources],
    charts: [chart],
    findings,
  };
}
