/**
 * Scenario 3: tick to subscriber. The time from an exchange frame leaving a local exchange
 * socket to a graphql-ws client receiving the update, with 1k subscribers while the exchange
 * sends 10k frames/s, on the real path (bench/lib/delivery-rig.ts), against two baselines
 * measured in the same run: tickql with per-subscriber execution (the plain graphql-ws path)
 * and a raw relay of the same Redis channels without GraphQL.
 */
import { loadavg } from 'node:os';
import type { ScenarioContext } from '../lib/context';
import { PublishMonitor, SubscriberFleet, measureDelivery, startRig, type DeliveryResult, type Rig } from '../lib/delivery-rig';
import type { LatencySummary } from '../lib/histogram';
import { startChild } from '../lib/processes';
import { ms, ratio, type ScenarioReport, type Table } from '../lib/report';
import type { BarChart } from '../lib/svg-chart';
import { watchlists, type PlannedSubscriber } from '../lib/subscriber-plan';

interface Sizes {
  readonly markets: number;
  /** Exchange frames per second: the issue's rate, and a light one. */
  readonly rate: number;
  readonly lightRate: number;
  readonly watchlists: number;
  readonly perWatchlist: number;
  /** Subscribers of the whole exchange. */
  readonly exchangeWide: number;
  readonly clientProcesses: number;
}

const FULL: Sizes = { markets: 1000, rate: 10_000, lightRate: 1000, watchlists: 999, perWatchlist: 3, exchangeWide: 1, clientProcesses: 2 };
const SMOKE: Sizes = { markets: 20, rate: 200, lightRate: 50, watchlists: 3, perWatchlist: 2, exchangeWide: 1, clientProcesses: 1 };
/** tickql's default INGEST_BATCH_MS, 0: a write starts as soon as the previous one is done (updates coalesce only while one is in flight). */
const DEFAULT_BATCH_MS = 0;
/** A fixed batch window (the default before 0 was), to show what waiting for others to join a write costs. */
const WINDOW_BATCH_MS = 20;
const TARGET_P99_MS = 20;

/** One tickql process (its own simulator and Redis prefix) and what is measured on it. */
interface RigSpec {
  readonly rate: number;
  readonly batchMs: number;
  /** AppOptions.sharePayloads. */
  readonly share: boolean;
  /** Also measure the raw relay on this rig's channels. */
  readonly relay: boolean;
}

interface Run {
  readonly label: string;
  readonly spec: RigSpec;
  readonly protocol: 'graphql-ws' | 'raw';
  readonly result: DeliveryResult;
}

function rigSpecs(sizes: Sizes): RigSpec[] {
  return [
    { rate: sizes.rate, batchMs: DEFAULT_BATCH_MS, share: true, relay: true },
    { rate: sizes.rate, batchMs: DEFAULT_BATCH_MS, share: false, relay: false },
    { rate: sizes.rate, batchMs: WINDOW_BATCH_MS, share: true, relay: false },
    { rate: sizes.lightRate, batchMs: DEFAULT_BATCH_MS, share: true, relay: false },
    { rate: sizes.lightRate, batchMs: WINDOW_BATCH_MS, share: true, relay: false },
  ];
}

function labelOf(spec: RigSpec, protocol: 'graphql-ws' | 'raw'): string {
  const rate = `${spec.rate.toLocaleString('en')} frames/s`;
  if (protocol === 'raw') return `raw relay (no GraphQL), ${rate}, tickql ingesting with INGEST_BATCH_MS=${spec.batchMs}`;
  const how = spec.share ? 'payload shared' : 'executed per subscriber';
  const isDefault = spec.share && spec.batchMs === DEFAULT_BATCH_MS;
  return `tickql${isDefault ? ' as configured by default' : ''}, ${rate}, ${how}, INGEST_BATCH_MS=${spec.batchMs}`;
}

export async function tickToSubscriber(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const measureMs = context.durationS * 1000;
  const load = loadavg()[0]!;
  const runs: Run[] = [];
  const fleet = await SubscriberFleet.start(sizes.clientProcesses);
  try {
    for (const [i, spec] of rigSpecs(sizes).entries()) {
      const prefix = `tick-${i}`;
      const env: Record<string, string> = spec.share ? {} : { SHARE_PAYLOADS: '0' };
      await withRig(context, sizes, { rate: spec.rate, batchMs: spec.batchMs, prefix, env }, async (rig, plan, monitor) => {
        const result = await deliver(context, rig, fleet, monitor, plan, 'graphql-ws', rig.app.info.wsUrl, rig.app.process.pid!, measureMs);
        runs.push({ label: labelOf(spec, 'graphql-ws'), spec, protocol: 'graphql-ws', result });
        if (!spec.relay) return;
        const relay = await startChild<{ url: string }>('bench/servers/raw-relay.ts', { REDIS_URL: context.redisUrl, REDIS_PREFIX: prefix });
        try {
          const raw = await deliver(context, rig, fleet, monitor, plan, 'raw', relay.info.url, relay.process.pid!, measureMs);
          runs.push({ label: labelOf(spec, 'raw'), spec, protocol: 'raw', result: raw });
        } finally {
          await relay.stop();
        }
      });
    }
  } finally {
    await fleet.stop();
  }
  return report(context, sizes, runs, load);
}

async function withRig(
  context: ScenarioContext,
  sizes: Sizes,
  options: { readonly rate: number; readonly batchMs: number; readonly prefix: string; readonly env?: Record<string, string> },
  body: (rig: Rig, plan: PlannedSubscriber[], monitor: PublishMonitor) => Promise<void>,
): Promise<void> {
  context.log(`tick: starting the simulator (${options.rate} frames/s over ${sizes.markets} markets) and tickql (${options.prefix}, INGEST_BATCH_MS=${options.batchMs})`);
  const rig = await startRig(context, { markets: sizes.markets, rate: options.rate, batchMs: options.batchMs, prefix: options.prefix, env: options.env });
  const monitor = await PublishMonitor.start(context.redisUrl, options.prefix);
  try {
    const plan: PlannedSubscriber[] = [
      ...watchlists(sizes.watchlists, rig.marketIds, sizes.perWatchlist, 3),
      ...Array.from({ length: sizes.exchangeWide }, () => ({ kind: 'whole exchange', exchanges: ['binance'] })),
    ];
    await body(rig, plan, monitor);
  } finally {
    monitor.close();
    await rig.stop();
  }
}

async function deliver(
  context: ScenarioContext,
  rig: Rig,
  fleet: SubscriberFleet,
  monitor: PublishMonitor,
  plan: readonly PlannedSubscriber[],
  protocol: 'graphql-ws' | 'raw',
  url: string,
  serverPid: number,
  measureMs: number,
): Promise<DeliveryResult> {
  context.log(`tick: ${plan.length} ${protocol} subscribers to ${url}, measuring ${measureMs / 1000} s`);
  const result = await measureDelivery({ rig, fleet, monitor, protocol, url, serverPid, connected: plan, add: plan, measureMs, settleMs: 2000 });
  await fleet.close();
  if (result.failed > 0) context.log(`tick: ${result.failed} subscribers failed: ${result.errors.join('; ')}`);
  return result;
}

const latencyCells = (l: LatencySummary) => [ms(l.p50), ms(l.p99), ms(l.p999), ms(l.max)];
const perSecond = (n: number) => Math.round(n).toLocaleString('en');
const cores = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(2));

function report(context: ScenarioContext, sizes: Sizes, runs: readonly Run[], load: number): ScenarioReport {
  const subscribers = sizes.watchlists + sizes.exchangeWide;
  const find = (rate: number, batchMs: number, share: boolean, protocol: 'graphql-ws' | 'raw' = 'graphql-ws') =>
    runs.find((r) => r.spec.rate === rate && r.spec.batchMs === batchMs && r.spec.share === share && r.protocol === protocol)?.result;
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
    caption: 'Load during each measured window (CPU in cores of the 2; RSS of the process serving the subscribers)',
    columns: ['path', 'frames/s into tickql', 'updates published/s', 'delivered / offered', 'CPU: serving process', 'CPU: tickql ingest (relay run)', 'CPU: Redis', 'CPU: simulator', 'CPU: subscribers', 'serving RSS MB', 'failed subscribers', 'load average'],
    rows: runs.map((run) => {
      const r = run.result;
      return [
        run.label,
        perSecond(r.framesPerSecond),
        perSecond(r.publishedPerSecond),
        r.offeredPerSecond > 0 ? (r.deliveredPerSecond / r.offeredPerSecond).toFixed(3) : '–',
        cores(r.cpu.server),
        cores(r.cpu['tickql (ingest only)']),
        cores(r.cpu.redis),
        cores(r.cpu.simulator),
        cores(r.cpu.subscribers),
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

  const findings: string[] = [];
  const shared = find(sizes.rate, DEFAULT_BATCH_MS, true);
  const relay = find(sizes.rate, DEFAULT_BATCH_MS, true, 'raw');
  const plain = find(sizes.rate, DEFAULT_BATCH_MS, false);
  const windowed = find(sizes.rate, WINDOW_BATCH_MS, true);
  const light = find(sizes.lightRate, DEFAULT_BATCH_MS, true);
  const lightWindowed = find(sizes.lightRate, WINDOW_BATCH_MS, true);
  const verdict = (r: DeliveryResult) => `p99 ${ms(r.all.p99)} ms, ${r.all.p99 <= TARGET_P99_MS ? 'met' : 'missed'}`;
  if (shared && relay && plain && windowed && light && lightWindowed) {
    const rate = (n: number) => `${n.toLocaleString('en')} frames/s`;
    findings.push(
      `Target p99 ≤ ${TARGET_P99_MS} ms at ${rate(sizes.rate)}: **${shared.all.p99 <= TARGET_P99_MS ? 'met' : 'missed'}** with the defaults (p50 ${ms(shared.all.p50)}, p99 ${ms(shared.all.p99)}, p99.9 ${ms(shared.all.p999)} ms); with a ${WINDOW_BATCH_MS} ms batch window ${verdict(windowed)}. ` +
        `At ${rate(sizes.lightRate)}: ${verdict(light)} with the defaults, ${verdict(lightWindowed)} with a ${WINDOW_BATCH_MS} ms window.`,
      `The batch window: with INGEST_BATCH_MS=${WINDOW_BATCH_MS} an update waits up to ${WINDOW_BATCH_MS} ms for others to join its write, so at ${rate(sizes.lightRate)} the ingest part alone is p50 ${ms(lightWindowed.ingest.p50)} / p99 ${ms(lightWindowed.ingest.p99)} ms, ` +
        `against p50 ${ms(light.ingest.p50)} / p99 ${ms(light.ingest.p99)} ms with the default INGEST_BATCH_MS=${DEFAULT_BATCH_MS} (a write as soon as the previous one is done; updates still coalesce while one is in flight). ` +
        `The end-to-end p50 is ${ms(light.all.p50 - light.ingest.p50)} ms above the ingest part's there${lightWindowed.ingest.p99 > TARGET_P99_MS ? `; with the ${WINDOW_BATCH_MS} ms window the ingest part's p99 alone is over ${TARGET_P99_MS} ms` : ''}.`,
      `At ${rate(sizes.rate)} the ingest part is p50 ${ms(shared.ingest.p50)} / p99 ${ms(shared.ingest.p99)} ms against p50 ${ms(light.ingest.p50)} / p99 ${ms(light.ingest.p99)} ms at ${rate(sizes.lightRate)}, with tickql using ${cores(shared.cpu.server)} cores for ingest and delivery, the subscribers' clients ${cores(shared.cpu.subscribers)} and the simulator ${cores(shared.cpu.simulator)} ` +
        `of the 2 cores, which other work also used (load average ${shared.loadAverage.toFixed(1)}): frames wait behind delivery work in tickql's one thread, and for the CPU, when the cores are busy.`,
      `GraphQL against the raw relay of the same channels (no GraphQL, the published JSON written as is, no conflation): p50 ${ratio(shared.all.p50 / relay.all.p50)}, p99 ${ratio(shared.all.p99 / relay.all.p99)}; ` +
        `serving CPU ${cores(shared.cpu.server)} cores (tickql, ingest included) against ${cores(relay.cpu.server)} (relay) + ${cores(relay.cpu['tickql (ingest only)'])} (tickql only ingesting).`,
      `Sharing each update's payload among subscribers against executing it per subscriber (the plain graphql-ws path, same rate and window): p50 ${ms(shared.all.p50)} against ${ms(plain.all.p50)} ms (${ratio(plain.all.p50 / shared.all.p50)}), p99 ${ms(shared.all.p99)} against ${ms(plain.all.p99)} ms (${ratio(plain.all.p99 / shared.all.p99)}), ` +
        `tickql CPU per delivered message ${usPerMessage(shared)} against ${usPerMessage(plain)} µs (${ratio((plain.cpu.server! / plain.deliveredPerSecond) / (shared.cpu.server! / shared.deliveredPerSecond))}). ` +
        'The CPU figure is the steadier of the two: the runs follow each other, and latency under a shortage of CPU moves with whatever else the machine runs.',
    );
  }
  return {
    title: '3. Tick to subscriber',
    method: [
      `A local exchange speaking Binance's protocol (\`BinanceSim\` in its own process, \`bench/servers/paced-binance-sim.ts\`) lists ${sizes.markets.toLocaleString('en')} markets and sends ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames per second (the issue's rate; ${(sizes.rate / sizes.markets).toFixed(0)} per market per second), evenly paced, each frame moving a random market; two runs use ${sizes.lightRate.toLocaleString('en')} frames/s to show the path's own latency when nothing is short of CPU. ` +
        `Each frame's event time \`E\` is stamped in microseconds as the frame is written to the socket (\`?timeUnit=MICROSECOND\`, read by the real Binance adapter into \`updatedAt\`). ` +
        `tickql runs as \`npm start\` does (\`buildApp\`, \`FEEDS=binance\` pointed at the simulator, its own process: \`bench/servers/tickql-app.ts\`): feed, batch writer, Lua upsert and PUBLISH, Redis pub/sub, graphql-ws. Each run has its own simulator and tickql process.`,
      `${subscribers.toLocaleString('en')} subscribers, each its own \`graphql-ws\` client and WebSocket, spread over ${sizes.clientProcesses} client process(es) (\`bench/clients/subscribers.ts\`): ${sizes.watchlists.toLocaleString('en')} watch ${sizes.perWatchlist} markets each by \`ids\` (chosen with Zipf popularity, so popular markets have many watchers; ${((sizes.perWatchlist * sizes.rate) / sizes.markets).toFixed(0)} messages/s each at the issue's rate) and ${sizes.exchangeWide} watch${sizes.exchangeWide === 1 ? 'es' : ''} the whole exchange (\`exchanges: ["binance"]\`, every update). ` +
        `All send one document, \`priceUpdated(ids: $ids, exchanges: $exchanges) { id price bid ask changePercent24h updatedAt }\`. Latency = receive time − \`updatedAt\`, both on this machine's clock at microsecond resolution (\`bench/lib/clock.ts\`), in HDR histograms; ${context.durationS} s per run after 2 s of settling. ` +
        `A plain Redis subscriber in the bench process measures the ingest part (frame to PUBLISH) in the same window and counts the updates published per market, which gives the messages the subscribers were offered.`,
      `tickql's default \`INGEST_BATCH_MS=${DEFAULT_BATCH_MS}\` writes as soon as the previous write is done (updates coalesce only while one is in flight); besides it, tickql runs with a fixed ${WINDOW_BATCH_MS} ms window (\`INGEST_BATCH_MS=${WINDOW_BATCH_MS}\`, the default until 0 was measured against it), to show what waiting for others to join a write costs. ` +
        `Compared in the same run: **executed per subscriber** is tickql with \`sharePayloads: false\` (yoga executes and graphql-ws serializes every update for every subscriber, as before payloads were shared); the **raw relay** (\`bench/servers/raw-relay.ts\`) subscribes the same market channels and writes each published JSON to plain WebSockets with no GraphQL, while tickql keeps ingesting.`,
      `The simulator, tickql, Redis, the relay and the client processes all share the machine's 2 cores; other work on the machine shares them too (1-minute load average ${load.toFixed(1)} when this scenario started; the last column gives it at each window, this scenario's own processes included). Runs follow each other, so a change in the machine's other load between them moves their figures apart.`,
    ].join('\n\n'),
    tables: [latency, resources],
    charts: [chart],
    findings,
  };
}

function usPerMessage(r: DeliveryResult): string {
  return ((r.cpu.server! * 1e6) / r.deliveredPerSecond).toFixed(1);
}
