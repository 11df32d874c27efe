/**
 * Scenario 2, ingest: sustained normalized updates per second from local exchange sockets into
 * Redis with every index updated, and the delay from a frame's receipt to its state being
 * visible, at offered rates up to and beyond the 100k updates/s target.
 *
 * Per run: a fresh Redis (FLUSHALL); a simulator child (bench/servers/exchange-sim.ts) sends
 * `24hrTicker` frames at a fixed rate over one Binance connection per 1,024 markets; one
 * tickql child (bench/servers/ingest-app.ts, the product's `buildApp`) ingests them: socket ->
 * Binance adapter -> MarketBook -> BatchWriter -> lua/upsertMarkets-n.lua. The bench process
 * subscribes to the channels of a sample of markets: the script publishes each state in the
 * same atomic call that writes it, so a message's arrival is the moment a query can see it.
 * Counters are read at the start and end of the measured window, after a warm-up.
 *
 * Baseline, same sockets and same script: every update written at once by its own script
 * call (INGEST_WRITER=per-update), i.e. ingest without coalescing and batching.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createKeys } from '../../src/redis/keys';
import type { ExchangeSimInfo, ExchangeSimStats } from '../servers/exchange-sim';
import type { IngestStats } from '../servers/ingest-app';
import { wallClockMs } from '../lib/clock';
import type { ScenarioContext } from '../lib/context';
import { coreShare, cpuSeconds, machineBusySeconds } from '../lib/cpu';
import { formatShares, summarizeProfile, type CpuProfile, type ProfileSummary } from '../lib/cpu-profile';
import { LatencyHistogram, type LatencySummary } from '../lib/histogram';
import { startIpcChild, type IpcChild } from '../lib/ipc-child';
import { ms, ratio, type ScenarioReport } from '../lib/report';
import { measureStageCosts, redisCpuSeconds, type StageCosts } from './ingest-costs';

const PREFIX = 'tickql';
/** What one Binance connection carries. */
const MARKETS_PER_CONNECTION = 1024;
/** Delays are recorded on every SAMPLE_EVERY-th market's channel, to keep the subscriber light. */
const SAMPLE_EVERY = 8;
/**
 * A run kept up when at least this share of the frames sent arrived, none were dropped, and no
 * backlog built up: a queue growing over the window would push event -> visible p99 past this.
 */
const KEPT_UP_SHARE = 0.97;
const KEPT_UP_EVENT_P99_MS = 1000;
const TARGET_UPDATES_PER_S = 100_000;

type Writer = 'batched' | 'per-update';

interface RunSpec {
  readonly connections: number;
  readonly marketsPerConnection: number;
  readonly rate: number;
  readonly writer: Writer;
  /** Write a CPU profile of the tickql child over the window to this path. */
  readonly profilePath?: string;
}

interface RunResult {
  readonly spec: RunSpec;
  readonly seconds: number;
  readonly sentPerS: number;
  readonly framesPerS: number;
  readonly updatesPerS: number;
  readonly writtenPerS: number;
  readonly batchesPerS: number;
  readonly shedPerS: number;
  /** Wall-clock time of the sampled market channel's message minus the state's receivedAt. */
  readonly receivedToVisible: LatencySummary;
  /** ... minus the frame's event time, stamped by the simulator as the frame left. */
  readonly eventToVisible: LatencySummary;
  /** Shares of one core. */
  readonly cpu: {
    readonly tickql: number | null;
    readonly sim: number | null;
    readonly redis: number | null;
    readonly bench: number;
    /** Every other process on the machine: what the bench does not control. */
    readonly others: number | null;
  };
  /** tickql CPU microseconds per normalized update (all its work: sockets, parsing, writes). */
  readonly tickqlUsPerUpdate: number | null;
  /** Redis main-thread microseconds inside EVALSHA, per update received by tickql. */
  readonly redisUsPerUpdate: number | null;
  readonly keptUp: boolean;
}

export async function ingest(context: ScenarioContext): Promise<ScenarioReport> {
  const layouts = context.smoke ? [{ connections: 1, markets: 64 }] : [{ connections: 1, markets: MARKETS_PER_CONNECTION }, { connections: 4, markets: MARKETS_PER_CONNECTION }];
  const ratesFor = (connections: number) =>
    context.smoke ? [5_000] : connections === 1 ? [25_000, 50_000, 100_000, 150_000, 200_000] : [50_000, 100_000, 200_000];

  context.log('ingest: CPU per stage, in the bench process');
  const costs = await measureStageCosts(context.redisUrl, context.smoke);

  const pairs: Pair[] = [];
  for (const layout of layouts) {
    for (const rate of ratesFor(layout.connections)) {
      const base = { connections: layout.connections, marketsPerConnection: layout.markets, rate };
      const batched = await measure(context, { ...base, writer: 'batched' });
      const perUpdate = await measure(context, { ...base, writer: 'per-update' });
      pairs.push({ batched, perUpdate });
    }
  }

  // One more run at the target over one connection, profiled, not in the tables: the
  // profiler costs a little CPU itself.
  const dir = mkdtempSync(join(tmpdir(), 'tickql-ingest-profile-'));
  try {
    const first = layouts[0]!;
    const spec: RunSpec = {
      connections: first.connections,
      marketsPerConnection: first.markets,
      rate: context.smoke ? 5_000 : TARGET_UPDATES_PER_S,
      writer: 'batched',
      profilePath: join(dir, 'ingest.cpuprofile'),
    };
    const result = await measure(context, spec);
    const summary = summarizeProfile(JSON.parse(readFileSync(spec.profilePath!, 'utf8')) as CpuProfile, 12);
    return report(context, costs, pairs, { spec, summary, result });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Pair {
  readonly batched: RunResult;
  readonly perUpdate: RunResult;
}

interface Profiled {
  readonly spec: RunSpec;
  readonly summary: ProfileSummary;
  readonly result: RunResult;
}

async function measure(context: ScenarioContext, spec: RunSpec): Promise<RunResult> {
  const label = `${spec.connections * spec.marketsPerConnection} markets over ${spec.connections} connection(s), ${spec.rate} frames/s, ${spec.writer}${spec.profilePath ? ', profiled' : ''}`;
  context.log(`ingest: ${label}`);
  const admin = new Redis(context.redisUrl);
  const subscriber = new Redis(context.redisUrl);
  const children: IpcChild[] = [];
  try {
    await admin.flushall();
    const sim = await startIpcChild('bench/servers/exchange-sim.ts', {
      SIM_COUNT: String(spec.connections),
      SIM_MARKETS: String(spec.marketsPerConnection),
      SIM_RATE: String(spec.rate),
    });
    children.push(sim);
    const info = await sim.request<ExchangeSimInfo>('info');
    const [first, ...extra] = info.sims;
    const app = await startIpcChild('bench/servers/ingest-app.ts', {
      REDIS_URL: context.redisUrl,
      REDIS_PREFIX: PREFIX,
      FEEDS: 'binance',
      BINANCE_WS_URL: first!.wsUrl,
      BINANCE_REST_URL: first!.restUrl,
      BINANCE_SYMBOLS: first!.symbols.join(','),
      INGEST_EXTRA_SIMS: JSON.stringify(extra),
      INGEST_WRITER: spec.writer,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    children.push(app);

    // Sample channels once every market has been written at least once.
    const keys = createKeys(PREFIX);
    const total = spec.connections * spec.marketsPerConnection;
    const deadline = Date.now() + 10_000;
    while ((await admin.zcard(keys.ids)) < total && Date.now() < deadline) await sleep(100);
    const ids = await admin.zrange(keys.ids, 0, -1);
    const sample = ids.filter((_, i) => i % SAMPLE_EVERY === 0).map((id) => keys.tickChannel(id));
    const receivedToVisible = new LatencyHistogram();
    const eventToVisible = new LatencyHistogram();
    let recording = false;
    subscriber.on('message', (_channel: string, message: string) => {
      const now = wallClockMs();
      if (!recording) return;
      const state = JSON.parse(message) as { receivedAt: number; updatedAt: number };
      receivedToVisible.record(now - state.receivedAt);
      eventToVisible.record(now - state.updatedAt);
    });
    if (sample.length > 0) await subscriber.subscribe(...sample);

    await sleep(context.smoke ? 300 : 2000); // warm-up: JIT, buffers, the first full batches
    if (spec.profilePath) await app.request('profileStart');
    await admin.config('RESETSTAT');
    const before = await snapshot(admin, sim, app);
    recording = true;
    await sleep(context.durationS * 1000);
    recording = false;
    const after = await snapshot(admin, sim, app);
    if (spec.profilePath) await app.request('profileStop', { path: spec.profilePath });
    const evalsha = commandUsec(await admin.info('commandstats'), 'evalsha');

    const seconds = (after.at - before.at) / 1000;
    const rate = (pick: (s: IngestStats) => number) => (pick(after.app) - pick(before.app)) / seconds;
    const sentPerS = (after.sim.sent - before.sim.sent) / ((after.sim.at - before.sim.at) / 1000);
    const framesPerS = rate((s) => s.frames);
    const updatesPerS = rate((s) => s.updates);
    const eventSummary = eventToVisible.summary();
    const result: RunResult = {
      spec,
      seconds,
      sentPerS,
      framesPerS,
      updatesPerS,
      writtenPerS: rate((s) => s.written),
      batchesPerS: rate((s) => s.batches),
      shedPerS: rate((s) => s.shed),
      receivedToVisible: receivedToVisible.summary(),
      eventToVisible: eventSummary,
      cpu: othersOf({
        tickql: (after.app.cpuUserUs + after.app.cpuSystemUs - before.app.cpuUserUs - before.app.cpuSystemUs) / 1e6 / seconds,
        sim: coreShare(before.simCpu, after.simCpu, seconds),
        redis: coreShare(before.redisCpu, after.redisCpu, seconds),
        bench: (after.benchCpu - before.benchCpu) / 1e6 / seconds,
        machine: coreShare(before.machineBusy, after.machineBusy, seconds),
      }),
      tickqlUsPerUpdate: updatesPerS === 0 ? null : (after.app.cpuUserUs + after.app.cpuSystemUs - before.app.cpuUserUs - before.app.cpuSystemUs) / (updatesPerS * seconds),
      redisUsPerUpdate: evalsha === null || updatesPerS === 0 ? null : evalsha / (updatesPerS * seconds),
      keptUp: framesPerS >= KEPT_UP_SHARE * sentPerS && rate((s) => s.shed) === 0 && eventSummary.p99 <= KEPT_UP_EVENT_P99_MS,
    };
    context.log(
      `  sent ${sentPerS.toFixed(0)}/s, frames ${framesPerS.toFixed(0)}/s, updates ${updatesPerS.toFixed(0)}/s, written ${result.writtenPerS.toFixed(0)}/s, ` +
        `batches ${result.batchesPerS.toFixed(1)}/s, delay p50 ${ms(result.receivedToVisible.p50)} p99 ${ms(result.receivedToVisible.p99)} ms, ` +
        `event p50 ${ms(eventSummary.p50)} ms; cpu tickql ${fmtCore(result.cpu.tickql)} (${fmtUs(result.tickqlUsPerUpdate)} µs/update) sim ${fmtCore(result.cpu.sim)} redis ${fmtCore(result.cpu.redis)} bench ${fmtCore(result.cpu.bench)} others ${fmtCore(result.cpu.others)}`,
    );
    return result;
  } finally {
    subscriber.disconnect();
    for (const child of children.reverse()) await child.stop();
    admin.disconnect();
  }
}

/** The machine's busy cores minus the processes of this run: what other work took. */
function othersOf(cpu: { tickql: number; sim: number | null; redis: number | null; bench: number; machine: number | null }): RunResult['cpu'] {
  const { machine, ...ours } = cpu;
  const others = machine === null || ours.sim === null || ours.redis === null ? null : Math.max(0, machine - ours.tickql - ours.sim - ours.redis - ours.bench);
  return { ...ours, others };
}

interface Snapshot {
  readonly at: number;
  readonly sim: ExchangeSimStats;
  readonly app: IngestStats;
  readonly simCpu: number | null;
  readonly redisCpu: number;
  readonly benchCpu: number;
  readonly machineBusy: number | null;
}

async function snapshot(admin: Redis, sim: IpcChild, app: IpcChild): Promise<Snapshot> {
  const [simStats, appStats, simCpu, redisInfo, machineBusy] = await Promise.all([
    sim.request<ExchangeSimStats>('stats'),
    app.request<IngestStats>('stats'),
    cpuSeconds(sim.pid),
    admin.info('cpu'),
    machineBusySeconds(),
  ]);
  const cpu = process.cpuUsage();
  return { at: appStats.at, sim: simStats, app: appStats, simCpu, redisCpu: redisCpuSeconds(redisInfo), benchCpu: cpu.user + cpu.system, machineBusy };
}

/** Total microseconds Redis spent in one command since RESETSTAT, from INFO commandstats. */
function commandUsec(info: string, command: string): number | null {
  const usec = new RegExp(`cmdstat_${command}:calls=\\d+,usec=(\\d+)`).exec(info)?.[1];
  return usec === undefined ? null : Number(usec);
}

function report(context: ScenarioContext, costs: StageCosts, pairs: readonly Pair[], profile: Profiled): ScenarioReport {
  const throughput = pairs.map(({ batched: b, perUpdate: p }) => [
    marketsLabel(b.spec),
    k(b.spec.rate),
    k(b.sentPerS),
    k(b.framesPerS),
    k(b.updatesPerS),
    k(b.writtenPerS),
    k(b.batchesPerS),
    b.batchesPerS > 0 ? k(b.writtenPerS / b.batchesPerS) : '-',
    b.keptUp ? 'yes' : 'no',
    k(p.writtenPerS),
    p.keptUp ? 'yes' : 'no',
    ratio(b.updatesPerS / Math.max(1, p.writtenPerS)),
  ]);
  const delays = pairs.map(({ batched: b, perUpdate: p }) => [
    marketsLabel(b.spec),
    k(b.spec.rate),
    `${ms(b.receivedToVisible.p50)} / ${ms(b.receivedToVisible.p99)} / ${ms(b.receivedToVisible.p999)}`,
    `${ms(b.eventToVisible.p50)} / ${ms(b.eventToVisible.p99)}`,
    `${ms(p.receivedToVisible.p50)} / ${ms(p.receivedToVisible.p99)}`,
    k(b.receivedToVisible.count),
  ]);
  const cpu = pairs.map(({ batched: b, perUpdate: p }) => [
    marketsLabel(b.spec),
    k(b.spec.rate),
    `${fmtCore(b.cpu.tickql)} / ${fmtCore(b.cpu.sim)} / ${fmtCore(b.cpu.redis)} / ${fmtCore(b.cpu.bench)} / ${fmtCore(b.cpu.others)}`,
    `${fmtUs(b.tickqlUsPerUpdate)} / ${fmtUs(b.redisUsPerUpdate)}`,
    `${fmtCore(p.cpu.tickql)} / ${fmtCore(p.cpu.sim)} / ${fmtCore(p.cpu.redis)} / ${fmtCore(p.cpu.bench)} / ${fmtCore(p.cpu.others)}`,
    `${fmtUs(p.tickqlUsPerUpdate)} / ${fmtUs(p.redisUsPerUpdate)}`,
  ]);

  return {
    title: '2. ingest',
    method: methodText(context),
    tables: [
      {
        caption: 'Throughput, per second',
        columns: [
          'markets (connections)',
          'offered frames',
          'frames sent',
          'frames received',
          'normalized updates',
          'markets written',
          'batches',
          'markets per batch',
          'kept up',
          'baseline (per-update): written',
          'baseline kept up',
          'updates: tickql / baseline',
        ],
        rows: throughput,
      },
      {
        caption: 'Delay to visible, ms',
        columns: ['markets (connections)', 'offered frames/s', 'received -> visible p50 / p99 / p99.9', 'event -> visible p50 / p99', 'baseline: received -> visible p50 / p99', 'samples'],
        rows: delays,
      },
      {
        caption: 'CPU: shares of one core (2 cores in all), and µs per normalized update',
        columns: ['markets (connections)', 'offered frames/s', 'tickql / sim / Redis / bench / others', 'µs per update: tickql / Redis', 'baseline: tickql / sim / Redis / bench / others', 'baseline µs per update: tickql / Redis'],
        rows: cpu,
      },
      {
        caption: `CPU per stage, µs, one stage at a time in the bench process (writes in batches of ${k(costs.writeBatch)} markets)`,
        columns: ['JSON.parse of a frame', 'Binance adapter parse', 'frame path: bytes -> BatchWriter.push', 'write one market: Node / Redis'],
        rows: [[us(costs.jsonParseUs), us(costs.adapterParseUs), us(costs.framePathUs), `${us(costs.writeNodeUs)} / ${us(costs.writeRedisUs)}`]],
      },
    ],
    charts: context.smoke
      ? []
      : [
          {
            file: 'ingest-throughput.svg',
            title: 'Ingest: normalized updates absorbed per second',
            unit: 'updates/s; markets (connections), offered frames/s',
            groups: pairs.map(({ batched: b, perUpdate: p }) => ({
              label: `${marketsLabel(b.spec)}, ${k(b.spec.rate)}/s offered`,
              bars: [
                { label: 'coalesced batches (tickql)', value: b.updatesPerS },
                { label: 'one call per update', value: p.writtenPerS },
              ],
            })),
          },
        ],
    findings: context.smoke ? [] : findingsOf(costs, pairs, profile, context.durationS),
  };
}

function findingsOf(costs: StageCosts, pairs: readonly Pair[], profile: Profiled, durationS: number): string[] {
  const findings: string[] = [];
  const batched = pairs.map((x) => x.batched);
  const best = batched.filter((r) => r.keptUp).reduce<RunResult | null>((a, r) => (a === null || r.updatesPerS > a.updatesPerS ? r : a), null);
  const peak = batched.reduce((a, r) => (r.updatesPerS > a.updatesPerS ? r : a));
  findings.push(
    best !== null && best.updatesPerS >= TARGET_UPDATES_PER_S
      ? `**Target met**: ${k(best.updatesPerS)} normalized updates/s sustained by one tickql process (${marketsLabel(best.spec)} markets (connections), ${k(best.spec.rate)} frames/s offered); the most it absorbed in any run was ${k(peak.updatesPerS)}/s.`
      : `**Target missed**: the most sustained was ${best === null ? 'nothing' : `${k(best.updatesPerS)} updates/s (${marketsLabel(best.spec)} markets (connections), ${k(best.spec.rate)}/s offered)`}; the most absorbed in any run, without keeping up, ${k(peak.updatesPerS)} updates/s (${marketsLabel(peak.spec)}, ${k(peak.spec.rate)}/s offered).`,
  );

  const others = pairs.flatMap((x) => [x.batched.cpu.others, x.perUpdate.cpu.others]).filter((o): o is number => o !== null);
  if (others.length > 0 && Math.max(...others) > 0.25) {
    findings.push(
      `Other processes on the machine took ${fmtCore(Math.min(...others))} to ${fmtCore(Math.max(...others))} of the 2 cores during these runs (the *others* column), ` +
        'CPU that tickql, the simulators and Redis could not use: the rates above are what this machine gave at the time, lower than on a quiet one.',
    );
  }

  for (const connections of new Set(batched.map((r) => r.spec.connections))) {
    const runs = batched.filter((r) => r.spec.connections === connections);
    const kept = runs.filter((r) => r.keptUp);
    const lastKept = kept[kept.length - 1];
    const missed = runs.find((r) => !r.keptUp && (lastKept === undefined || r.spec.rate > lastKept.spec.rate));
    const head = `${marketsLabel(runs[0]!.spec)} markets (connections): ${
      lastKept ? `kept up through ${k(lastKept.spec.rate)} frames/s offered (${k(lastKept.updatesPerS)} updates/s, ${k(lastKept.batchesPerS)} batches/s)` : 'kept up at no rate measured'
    }`;
    const tail = missed
      ? `; at ${k(missed.spec.rate)} offered it absorbed ${k(missed.updatesPerS)} updates/s with tickql at ${fmtCore(missed.cpu.tickql)} cores ` +
        `(${fmtUs(missed.tickqlUsPerUpdate)} µs per update), the simulator at ${fmtCore(missed.cpu.sim)}, Redis at ${fmtCore(missed.cpu.redis)} and other processes on the machine at ${fmtCore(missed.cpu.others)}; frames waited in socket ` +
        `buffers (event -> visible p50 ${ms(missed.eventToVisible.p50)} ms) and batches fell to ${k(missed.batchesPerS)}/s: a saturated process writes less often, ` +
        `so more updates coalesce and its CPU goes to frames`
      : '';
    findings.push(`${head}${tail}.`);
  }

  const target = batched.find((r) => r.spec.connections === 1 && r.spec.rate === TARGET_UPDATES_PER_S);
  if (target && target.updatesPerS > 0 && target.tickqlUsPerUpdate !== null) {
    const written = target.writtenPerS / target.updatesPerS;
    const floor = costs.framePathUs + written * costs.writeNodeUs;
    findings.push(
      `Where an update's CPU goes (${marketsLabel(target.spec)}, ${k(target.spec.rate)}/s offered): tickql spent ${fmtUs(target.tickqlUsPerUpdate)} µs per update and wrote ` +
        `${pct(written)} of the updates (the rest were superseded within their batch window). Measured alone, the frame path costs ${us(costs.framePathUs)} µs per frame, ` +
        `of which JSON.parse of the frame is ${us(costs.jsonParseUs)} and the adapter's checks and strict decimals ${us(costs.adapterParseUs - costs.jsonParseUs)}; a market ` +
        `write costs ${us(costs.writeNodeUs)} µs in Node and ${us(costs.writeRedisUs)} µs in Redis: ${us(costs.framePathUs)} + ${pct(written)} x ${us(costs.writeNodeUs)} = ` +
        `${us(floor)} µs per update, a whole core's worth at ${k(1e6 / floor)} updates/s` +
        (target.tickqlUsPerUpdate > floor
          ? `; the other ${us(target.tickqlUsPerUpdate - floor)} µs in the process are WebSocket framing, the feed's bookkeeping, timers, garbage collection and sharing the cores.`
          : ' (no lower than what the process itself spent: the stage timings, taken at another moment on the same shared machine, are as noisy as that).'),
    );
  }

  const r = profile.result;
  findings.push(
    `Profile (V8 sampling profiler inside the tickql process for ${durationS} s; ${marketsLabel(profile.spec)} markets (connections), ${k(profile.spec.rate)}/s offered, ` +
      `${k(r.updatesPerS)} updates/s, tickql at ${fmtCore(r.cpu.tickql)} cores, other processes at ${fmtCore(r.cpu.others)}): idle ${pct(profile.summary.idle)} of the time; busy time by area: ` +
      `${formatShares(profile.summary.byArea, 6)}; by function: ${formatShares(profile.summary.byFunction, 6)}.`,
  );

  const baseline = pairs.map((x) => x.perUpdate);
  const baseKept = baseline.filter((b) => b.keptUp);
  const baseLast = baseKept[baseKept.length - 1];
  const basePeak = baseline.reduce((a, b) => (b.writtenPerS > a.writtenPerS ? b : a));
  const low = pairs[0]!;
  findings.push(
    `Baseline, one script call per update: ${baseLast ? `kept up through ${k(baseLast.spec.rate)} frames/s offered (${marketsLabel(baseLast.spec)})` : 'kept up at no rate measured'}, ` +
      `at most ${k(basePeak.writtenPerS)} updates/s written (${marketsLabel(basePeak.spec)}, ${k(basePeak.spec.rate)}/s offered). At ${k(low.batched.spec.rate)}/s over ` +
      `${marketsLabel(low.batched.spec)} it cost ${fmtUs(low.perUpdate.tickqlUsPerUpdate)} µs of tickql and ${fmtUs(low.perUpdate.redisUsPerUpdate)} µs of Redis per update, ` +
      `against ${fmtUs(low.batched.tickqlUsPerUpdate)} and ${fmtUs(low.batched.redisUsPerUpdate)} with coalesced batches.`,
  );
  return findings;
}

function methodText(context: ScenarioContext): string {
  const warmUp = context.smoke ? '0.3' : '2';
  return `
Sustained normalized updates per second from local exchange sockets into Redis with every
index updated, and the delay from a frame's receipt to its state being visible to a query.
Each run has a fresh Redis and two children. **Exchange simulators**
(\`bench/servers/exchange-sim.ts\`): one \`BinanceSim\` per 1,024 markets, because one Binance
connection carries at most 1,024 streams; each market's next \`24hrTicker\` states are
serialized once at start-up and a 1 ms pacer sends the offered rate, evenly over time,
through BinanceSim's sockets, stamping the event time as each frame leaves. **One tickql
process** (\`bench/servers/ingest-app.ts\`): \`buildApp\` from src/app.ts, configured by its
own variables (\`FEEDS=binance\`, \`BINANCE_WS_URL\`, \`BINANCE_REST_URL\`, \`BINANCE_SYMBOLS\`)
to read the first simulator, plus one more Binance feed per further simulator, wired as
buildApp wires its own. Each frame goes socket -> Binance adapter -> MarketBook ->
BatchWriter (\`INGEST_BATCH_MS=0\`, the default: a write as soon as the previous one is done) -> \`lua/upsertMarkets-n.lua\`
(HSET, six index ZADDs and a PUBLISH per market). Counters are read after a ${warmUp} s
warm-up and again ${context.durationS} s later.

*Frames sent* is what the simulators managed to send (less than offered when they could not
get the CPU), *frames received* what tickql's sockets delivered, *normalized updates* the
market states the feeds handed to the writer (one per ticker frame) and *markets written*
the states the script applied. The last two differ because of coalescing: a market updated
several times before its batch is written (while the previous write is in flight) is written once, with its latest state, so the fewer
markets share a rate, the more updates are superseded before their write. *Kept up* means at
least ${KEPT_UP_SHARE * 100} % of the frames sent arrived within the window, none were dropped
and no backlog built up (event -> visible p99 at most ${KEPT_UP_EVENT_P99_MS.toLocaleString('en-US')} ms); past that, frames wait
in socket buffers and every rate is what the process managed, not what was offered.

Delay: the bench process subscribes to the channels of every ${SAMPLE_EVERY}th market. The
script publishes each state in the same atomic call that writes it, so a message's arrival
is the moment a query can see the state. *Received -> visible* is arrival minus
\`Market.receivedAt\` (the product takes it with \`Date.now()\`, whole milliseconds, so each
value carries up to +1 ms); *event -> visible* is arrival minus the event time the simulator
stamped in microseconds as the frame left, so it includes time spent in socket buffers.

Baseline, in the same run, over the same sockets and with the same Lua script: **one script
call per update** (\`INGEST_WRITER=per-update\`), written as soon as the feed emits it, with
no coalescing and no batching (ioredis still pipelines calls made in the same tick). It is
what ingest costs without the BatchWriter, the design choice under test; at most 20,000
calls may wait for Redis, beyond which updates are dropped so an overloaded baseline cannot
exhaust memory. The ratio is updates absorbed per second, tickql over baseline.

CPU is given in shares of one core over the window: the tickql child (process.cpuUsage),
the simulator child (/proc), Redis (INFO cpu), the bench process (the subscriber) and
*others*, every other process on the machine (/proc/stat busy time minus those four),
which this bench does not control and which takes cores from it; µs per
update divide the tickql child's CPU, and the time INFO commandstats reports inside EVALSHA,
by the updates received. The last table times each stage alone in the bench process on the
same frames (the least of five rounds): the floor under the process's own per-update cost. One more run at
${TARGET_UPDATES_PER_S.toLocaleString('en-US')} frames/s over one connection, not in the tables,
samples the tickql process with V8's profiler (\`Profiler.start\` through \`node:inspector\`).

The machine has 2 cores shared by everything here: simulators, tickql, Redis and the bench
process compete for them (and with anything else running on the box), so where a rate
saturates is a property of this machine; the CPU split shows who used the cores.
`;
}

function marketsLabel(s: RunSpec): string {
  return `${(s.connections * s.marketsPerConnection).toLocaleString('en-US')} (${s.connections})`;
}

function k(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function pct(share: number): string {
  return `${(share * 100).toFixed(0)} %`;
}

function us(value: number): string {
  return value.toFixed(2);
}

function fmtCore(share: number | null): string {
  return share === null ? '-' : share.toFixed(2);
}

function fmtUs(us: number | null): string {
  return us === null ? '-' : us.toFixed(2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
