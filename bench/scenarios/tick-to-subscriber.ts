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
  /** Exchange frames per second. */
  readonly rate: number;
  readonly watchlists: number;
  readonly perWatchlist: number;
  /** Subscribers of the whole exchange. */
  readonly exchangeWide: number;
  readonly clientProcesses: number;
}

const FULL: Sizes = { markets: 1000, rate: 10_000, watchlists: 999, perWatchlist: 3, exchangeWide: 1, clientProcesses: 2 };
const SMOKE: Sizes = { markets: 20, rate: 200, watchlists: 3, perWatchlist: 2, exchangeWide: 1, clientProcesses: 1 };
/** tickql's default INGEST_BATCH_MS, and shorter windows to show what the batch window costs. */
const DEFAULT_BATCH_MS = 20;
const SHORT_BATCH_MS = 5;
/** 0: a write starts as soon as the previous one is done (updates coalesce only while one is in flight). */
const NO_BATCH_MS = 0;
const TARGET_P99_MS = 20;

interface Run {
  readonly label: string;
  readonly result: DeliveryResult;
}

export async function tickToSubscriber(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const measureMs = context.durationS * 1000;
  const load = loadavg()[0]!;
  const runs: Run[] = [];
  const fleet = await SubscriberFleet.start(sizes.clientProcesses);
  try {
    // 1. tickql as deployed (payloads shared), then the raw relay on the same ingest.
    await withRig(context, sizes, { batchMs: DEFAULT_BATCH_MS, prefix: 'tick-shared' }, async (rig, plan, monitor) => {
      const shared = await deliver(context, rig, fleet, monitor, plan, 'graphql-ws', rig.app.info.wsUrl, rig.app.process.pid!, measureMs);
      runs.push({ label: `tickql, payload shared (default), INGEST_BATCH_MS=${DEFAULT_BATCH_MS}`, result: shared});
      const relay = await startChild<{ url: string }>('bench/servers/raw-relay.ts', { REDIS_URL: context.redisUrl, REDIS_PREFIX: 'tick-shared' });
      try {
        const raw = await deliver(context, rig, fleet, monitor, plan, 'raw', relay.info.url, relay.process.pid!, measureMs);
        runs.push({ label: 'raw relay (no GraphQL), same ingest', result: raw});
      } finally {
        await relay.stop();
      }
    });
    // 2. The plain graphql-ws path: every update executed and serialized per subscriber.
    await withRig(context, sizes, { batchMs: DEFAULT_BATCH_MS, prefix: 'tick-plain', env: { SHARE_PAYLOADS: '0' } }, async (rig, plan, monitor) => {
      const plain = await deliver(context, rig, fleet, monitor, plan, 'graphql-ws', rig.app.info.wsUrl, rig.app.process.pid!, measureMs);
      runs.push({ label: `tickql, executed per subscriber, INGEST_BATCH_MS=${DEFAULT_BATCH_MS}`, result: plain});
    });
    // 3. Shorter ingest batch windows.
    for (const batchMs of [SHORT_BATCH_MS, NO_BATCH_MS]) {
      await withRig(context, sizes, { batchMs, prefix: `tick-batch-${batchMs}` }, async (rig, plan, monitor) => {
        const result = await deliver(context, rig, fleet, monitor, plan, 'graphql-ws', rig.app.info.wsUrl, rig.app.process.pid!, measureMs);
        runs.push({ label: `tickql, payload shared, INGEST_BATCH_MS=${batchMs}`, result });
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
  options: { readonly batchMs: number; readonly prefix: string; readonly env?: Record<string, string> },
  body: (rig: Rig, plan: PlannedSubscriber[], monitor: PublishMonitor) => Promise<void>,
): Promise<void> {
  context.log(`tick: starting the simulator (${sizes.rate} frames/s over ${sizes.markets} markets) and tickql (${options.prefix})`);
  const rig = await startRig(context, { markets: sizes.markets, rate: sizes.rate, batchMs: options.batchMs, prefix: options.prefix, env: options.env });
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
  const [shared, relay, plain, short, unbatched] = runs;
  const ingest = shared!.result; // the ingest part, measured during tickql's own run
  const latency: Table = {
    caption: `Frame leaving the exchange socket to update received, ${subscribers.toLocaleString('en')} subscribers, ${sizes.rate.toLocaleString('en')} frames/s offered (ms)`,
    columns: ['path', 'messages', 'delivered msg/s', 'p50', 'p99', 'p99.9', 'max'],
    rows: [
      ['frame → Redis PUBLISH, seen by a plain Redis subscriber (the ingest part)', ingest.ingest.count.toLocaleString('en'), perSecond(ingest.publishedPerSecond), ...latencyCells(ingest.ingest)],
      ...runs.flatMap((run) => [
        [`frame → ${run.label.startsWith('raw') ? 'plain ws' : 'graphql-ws'} client: **${run.label}**`, run.result.all.count.toLocaleString('en'), perSecond(run.result.deliveredPerSecond), ...latencyCells(run.result.all)],
        ...(run.result.kinds.length > 1
          ? run.result.kinds.map((k) => [`  of which ${k.kind} (${k.subscribers} subscriber${k.subscribers === 1 ? '' : 's'})`, k.latency.count.toLocaleString('en'), perSecond(k.messagesPerSecond), ...latencyCells(k.latency)])
          : []),
      ]),
    ],
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
    title: `Frame to subscriber, ${subscribers.toLocaleString('en')} subscribers, ${sizes.rate.toLocaleString('en')} frames/s`,
    unit: 'latency, ms (log scale)',
    log: true,
    groups: [
      { label: 'ingest part (to Redis PUBLISH)', bars: [{ label: 'p50', value: ingest.ingest.p50 }, { label: 'p99', value: ingest.ingest.p99 }] },
      ...runs.map((run) => ({ label: run.label, bars: [{ label: 'p50', value: run.result.all.p50 }, { label: 'p99', value: run.result.all.p99 }] })),
    ],
  };

  const findings: string[] = [];
  if (shared && relay && plain && short && unbatched) {
    const s = shared.result;
    const met = s.all.p99 <= TARGET_P99_MS;
    findings.push(
      `Target p99 ≤ ${TARGET_P99_MS} ms with the default settings: **${met ? 'met' : 'missed'}**, p99 ${ms(s.all.p99)} ms (p50 ${ms(s.all.p50)}, p99.9 ${ms(s.all.p999)}). ` +
        `With INGEST_BATCH_MS=${SHORT_BATCH_MS}: p99 ${ms(short.result.all.p99)} ms (${short.result.all.p99 <= TARGET_P99_MS ? 'met' : 'missed'}); ` +
        `with INGEST_BATCH_MS=${NO_BATCH_MS}: p99 ${ms(unbatched.result.all.p99)} ms (${unbatched.result.all.p99 <= TARGET_P99_MS ? 'met' : 'missed'}).`,
      `Where the time goes: the ingest part (socket, parse, the batch window, Lua, PUBLISH) has p50 ${ms(s.ingest.p50)} / p99 ${ms(s.ingest.p99)} ms of the end-to-end p50 ${ms(s.all.p50)} / p99 ${ms(s.all.p99)} ms. ` +
        `An update waits up to INGEST_BATCH_MS (${DEFAULT_BATCH_MS} ms by default) for others to join its batch, ${DEFAULT_BATCH_MS / 2} ms on average; with ${SHORT_BATCH_MS} ms the ingest part is p50 ${ms(short.result.ingest.p50)} / p99 ${ms(short.result.ingest.p99)} ms, with ${NO_BATCH_MS} (write as soon as the previous write is done) p50 ${ms(unbatched.result.ingest.p50)} / p99 ${ms(unbatched.result.ingest.p99)} ms, at ${cores(unbatched.result.cpu.redis)} cores of Redis against ${cores(s.cpu.redis)}.`,
      `GraphQL over the raw relay of the same channels (no GraphQL, payload written as published): p50 ${ratio(s.all.p50 / relay.result.all.p50)}, p99 ${ratio(s.all.p99 / relay.result.all.p99)}; ` +
        `serving CPU ${cores(s.cpu.server)} cores (tickql, ingest included) against ${cores(relay.result.cpu.server)} (relay) + ${cores(relay.result.cpu['tickql (ingest only)'])} (tickql ingesting).`,
      `Sharing each update's payload among subscribers against executing it per subscriber (the plain graphql-ws path): p99 ${ms(s.all.p99)} against ${ms(plain.result.all.p99)} ms (${ratio(plain.result.all.p99 / s.all.p99)}), ` +
        `tickql CPU ${cores(s.cpu.server)} against ${cores(plain.result.cpu.server)} cores (${ratio(plain.result.cpu.server! / s.cpu.server!)}).`,
    );
  }
  return {
    title: '3. Tick to subscriber',
    method: [
      `A local exchange speaking Binance's protocol (\`BinanceSim\` in its own process, \`bench/servers/paced-binance-sim.ts\`) lists ${sizes.markets.toLocaleString('en')} markets and sends ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames per second, evenly paced, each market moving at random (${(sizes.rate / sizes.markets).toFixed(0)} frames/s per market on average). ` +
        `Each frame's event time \`E\` is stamped in microseconds as the frame is written to the socket (\`?timeUnit=MICROSECOND\`, read by the real Binance adapter into \`updatedAt\`). ` +
        `tickql runs as \`npm start\` does (\`buildApp\`, \`FEEDS=binance\` pointed at the simulator, its own process: \`bench/servers/tickql-app.ts\`): feed, batch writer, Lua upsert and PUBLISH, Redis pub/sub, graphql-ws.`,
      `${subscribers.toLocaleString('en')} subscribers, each its own \`graphql-ws\` client and WebSocket, spread over ${sizes.clientProcesses} client process(es) (\`bench/clients/subscribers.ts\`): ${sizes.watchlists.toLocaleString('en')} watch ${sizes.perWatchlist} markets each by \`ids\` (chosen with Zipf popularity, so popular markets have many watchers; about ${((sizes.perWatchlist * sizes.rate) / sizes.markets).toFixed(0)} messages/s each) and ${sizes.exchangeWide} watch${sizes.exchangeWide === 1 ? 'es' : ''} the whole exchange (\`exchanges: ["binance"]\`, every update). ` +
        `All send one document, \`priceUpdated(ids: $ids, exchanges: $exchanges) { id price bid ask changePercent24h updatedAt }\`. Latency = receive time − \`updatedAt\`, both on this machine's clock at microsecond resolution (\`bench/lib/clock.ts\`), in HDR histograms; ${context.durationS} s per run after 2 s of settling. ` +
        `A plain Redis subscriber in the bench process measures the ingest part (frame to PUBLISH) in the same window and counts the updates published per market, which gives the messages the subscribers were offered.`,
      `tickql also runs with \`INGEST_BATCH_MS\` ${SHORT_BATCH_MS} and ${NO_BATCH_MS} (the batch writer then starts a write as soon as the previous one is done; updates coalesce only while one is in flight), to show what the default 20 ms batch window costs. ` +
        `Compared in the same run: **per subscriber** is tickql with \`sharePayloads: false\` (yoga executes and graphql-ws serializes every update for every subscriber, the behaviour before this change); the **raw relay** (\`bench/servers/raw-relay.ts\`) subscribes the same market channels and writes each published JSON to plain WebSockets with no GraphQL, while tickql keeps ingesting.`,
      `The simulator, tickql, Redis, the relay and the client processes all share the machine's 2 cores; other work on the machine shares them too (1-minute load average ${load.toFixed(1)} when this scenario started; the last column gives it at each window, this scenario's own processes included). Runs follow each other, so a change in the machine's other load between them moves their figures apart.`,
    ].join('\n\n'),
    tables: [latency, resources],
    charts: [chart],
    findings,
  };
}
