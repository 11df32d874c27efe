/**
 * Scenario 4: fan-out. How many concurrent graphql-ws subscribers tickql's serving processes
 * carry with delivery p99 at most 100 ms, with tickql as `npm start` runs it (its process
 * tree, bench/lib/delivery-rig.ts) and WORKERS=1 and WORKERS=2: subscribers are added in steps
 * until the p99 passes 100 ms or sockets run out, measuring at each step the messages
 * delivered per second, latency, CPU per process kind and the serving processes' memory per
 * connection. Compared in the same run with a raw relay of the same channels without GraphQL.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { ScenarioContext } from '../lib/context';
import { formatShares, summarizeBundleProfile, type ProfileSummary } from '../lib/cpu-profile';
import { MonitorProcess, SubscriberFleet, measureDelivery, rigLogDir, startRig, type DeliveryResult, type TreeRig } from '../lib/delivery-rig';
import { describeOtherLoad } from '../lib/machine';
import { rssBytes, startChild } from '../lib/processes';
import { cores, ms, perSecond, ratio, type ScenarioReport, type Table } from '../lib/report';
import { buildBundle } from '../lib/service';
import type { BarChart } from '../lib/svg-chart';
import { watchlists, type PlannedSubscriber } from '../lib/subscriber-plan';

interface Sizes {
  readonly markets: number;
  /** Exchange frames per second. */
  readonly rate: number;
  /** Markets each subscriber watches by `ids`. */
  readonly perSubscriber: number;
  /** Subscriber counts, cumulative. */
  readonly steps: readonly number[];
  /** Counts at which the raw relay is measured, besides the largest count tickql WORKERS=1 served within the target. */
  readonly relaySteps: readonly number[];
  readonly clientProcesses: number;
  readonly settleMs: number;
}

// 2,000 frames/s over 1,000 markets is 2 updates/s per market; 5 markets per subscriber is 10
// messages/s per subscriber, so 10k subscribers are offered 100k messages/s. Each client
// process holds at most 6,500 sockets (the file limit is 20,000 per process); the server's own
// limit (20,000 files) ends the steps below 20k.
const FULL: Sizes = {
  markets: 1000,
  rate: 2000,
  perSubscriber: 5,
  steps: [500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10_000, 12_500, 15_000, 17_500, 19_500],
  relaySteps: [1000],
  clientProcesses: 3,
  settleMs: 3000,
};
const SMOKE: Sizes = { markets: 20, rate: 100, perSubscriber: 2, steps: [3, 6], relaySteps: [6], clientProcesses: 1, settleMs: 500 };
const TARGET_P99_MS = 100;
const TARGET_SUBSCRIBERS = 10_000;
const TARGET_MESSAGES = 100_000;
const WORKER_COUNTS = [1, 2] as const;

interface Step {
  readonly subscribers: number;
  readonly result: DeliveryResult;
  /** Serving RSS growth since before the first subscriber, per subscriber. */
  readonly bytesPerConnection: number;
}

interface Series {
  readonly label: string;
  /** Serving processes (the relay: 1). */
  readonly workers: number;
  readonly steps: readonly Step[];
  /** Why stepping stopped early, if it did. */
  readonly stopped: string | null;
}

interface Profiles {
  readonly subscribers: number;
  readonly result: DeliveryResult;
  readonly byKind: ReadonlyArray<{ readonly kind: string; readonly summary: ProfileSummary }>;
}

export async function fanOut(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const load = { before: loadavg()[0]!, other: await describeOtherLoad(context.smoke ? 250 : 1000) };
  context.log('fanout: npm run build (the bundle npm start runs)');
  buildBundle();
  const logDir = rigLogDir('fanout');
  const profileDir = rigLogDir('fanout-profiles');
  const series: Series[] = [];
  let relay: Series | null = null;
  let profiles: Profiles | null = null;
  const [fleet, monitor] = await Promise.all([SubscriberFleet.start(sizes.clientProcesses), MonitorProcess.start()]);
  try {
    for (const workers of WORKER_COUNTS) {
      const prefix = `fanout-${workers}`;
      const first = workers === WORKER_COUNTS[0];
      context.log(`fanout: starting the simulator (${sizes.rate} frames/s over ${sizes.markets} markets) and tickql (${prefix}, WORKERS=${workers}; logs in ${logDir})`);
      const rig = await startRig(context, { markets: sizes.markets, rate: sizes.rate, workers, prefix, logDir, ...(first ? { profileDir } : {}) });
      try {
        await monitor.watch(context.redisUrl, prefix);
        const plan = watchlists(Math.max(...sizes.steps), rig.marketIds, sizes.perSubscriber, 4);
        const measure = (connected: readonly PlannedSubscriber[], add: readonly PlannedSubscriber[], extra: { relayPid?: number; url?: string; profileDir?: string } = {}) =>
          measureDelivery({
            rig,
            fleet,
            monitor,
            monitorPid: monitor.child.pid,
            protocol: extra.relayPid === undefined ? 'graphql-ws' : 'raw',
            url: extra.url ?? rig.wsUrl,
            connected,
            add,
            measureMs: context.durationS * 1000,
            settleMs: sizes.settleMs,
            ...(extra.relayPid === undefined ? {} : { relayPid: extra.relayPid }),
            ...(extra.profileDir ? { profileDir: extra.profileDir } : {}),
          });
        const label = `tickql WORKERS=${workers}`;
        const stepped = await stepUp(context, sizes, rig, plan, label, (connected, add) => measure(connected, add));
        series.push(stepped);
        await fleet.close();
        if (!first) continue;
        // Profile the tree at the largest count that met the target (or the first measured), then the relay.
        const at = (stepped.steps.filter((s) => s.result.all.p99 <= TARGET_P99_MS).at(-1) ?? stepped.steps[0])?.subscribers;
        if (at !== undefined) {
          context.log(`fanout: profiling tickql's ingest and serving processes with ${at} subscribers`);
          const result = await measure(plan.slice(0, at), plan.slice(0, at), { profileDir });
          await fleet.close();
          profiles = { subscribers: at, result, byKind: result.profiles.map((p) => ({ kind: p.kind, summary: summarizeBundleProfile(p.path, 10) })) };
        }
        const relayAt = [...new Set([...sizes.relaySteps, ...(at === undefined ? [] : [at])])].sort((a, b) => a - b);
        relay = await relaySeries(context, relayAt, rig, fleet, plan, (connected, add, url, relayPid) => measure(connected, add, { url, relayPid }));
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
  return report(context, sizes, series, relay, profiles, { ...load, after: loadavg()[0]!, logDir });
}

type Measure = (connected: readonly PlannedSubscriber[], add: readonly PlannedSubscriber[]) => Promise<DeliveryResult>;

/** RSS of tickql's serving processes together. */
async function servingRss(rig: TreeRig): Promise<number> {
  const { serve } = await rig.roles();
  return (await Promise.all(serve.map((p) => rssBytes(p)))).reduce((a, b) => a + b, 0);
}

/** Adds subscribers step by step; stops after the first step over the target or with failures. */
async function stepUp(context: ScenarioContext, sizes: Sizes, rig: TreeRig, plan: readonly PlannedSubscriber[], label: string, measure: Measure): Promise<Series> {
  const baseline = await servingRss(rig);
  const steps: Step[] = [];
  let stopped: string | null = null;
  let connected = 0;
  for (const count of sizes.steps) {
    context.log(`fanout: ${label}: ${count} subscribers`);
    let result: DeliveryResult;
    try {
      result = await measure(plan.slice(0, count), plan.slice(connected, count));
    } catch (err) {
      stopped = `stopped at ${count.toLocaleString('en')} subscribers: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      break;
    }
    connected = count;
    steps.push({ subscribers: count, result, bytesPerConnection: (result.serverRss - baseline) / count });
    if (result.failed > count * 0.01) {
      stopped = `stopped at ${count.toLocaleString('en')} subscribers: ${result.failed} failed (${result.errors.slice(0, 2).join('; ')})`;
      break;
    }
    if (result.all.p99 > TARGET_P99_MS) {
      stopped = `stopped at ${count.toLocaleString('en')} subscribers: p99 ${ms(result.all.p99)} ms is over ${TARGET_P99_MS} ms`;
      break;
    }
  }
  if (stopped) context.log(`fanout: ${label}: ${stopped}`);
  return { label, workers: rig.workers, steps, stopped };
}

async function relaySeries(
  context: ScenarioContext,
  counts: readonly number[],
  rig: TreeRig,
  fleet: SubscriberFleet,
  plan: readonly PlannedSubscriber[],
  measure: (connected: readonly PlannedSubscriber[], add: readonly PlannedSubscriber[], url: string, relayPid: number) => Promise<DeliveryResult>,
): Promise<Series> {
  const relay = await startChild<{ url: string }>('bench/servers/raw-relay.ts', { REDIS_URL: context.redisUrl, REDIS_PREFIX: rig.prefix });
  const steps: Step[] = [];
  try {
    const baseline = await rssBytes(relay.process.pid!);
    let connected = 0;
    for (const count of counts) {
      context.log(`fanout: raw relay: ${count} subscribers`);
      const result = await measure(plan.slice(0, count), plan.slice(connected, count), relay.info.url, relay.process.pid!);
      connected = count;
      steps.push({ subscribers: count, result, bytesPerConnection: (result.serverRss - baseline) / count });
    }
    await fleet.close();
  } finally {
    await relay.stop();
  }
  return { label: `raw relay (no GraphQL), tickql WORKERS=${rig.workers} ingesting`, workers: 1, steps, stopped: null };
}

/** Microseconds of the serving processes' CPU per delivered message. */
const usPerMessage = (r: DeliveryResult) => (r.deliveredPerSecond > 0 ? (r.cpu.server! * 1e6) / r.deliveredPerSecond : NaN);

function stepRow(s: Series, step: Step): Array<string | number> {
  const r = step.result;
  return [
    s.label,
    step.subscribers.toLocaleString('en'),
    Math.round(step.subscribers / s.workers).toLocaleString('en'),
    perSecond(r.deliveredPerSecond),
    r.offeredPerSecond > 0 ? (r.deliveredPerSecond / r.offeredPerSecond).toFixed(3) : '–',
    ms(r.all.p50),
    ms(r.all.p99),
    ms(r.all.p999),
    ms(r.ingest.p99),
    r.serverCpuEach.map(cores).join(' + '),
    usPerMessage(r).toFixed(1),
    cores(r.cpu.ingest),
    cores(r.cpu.subscribers),
    cores(r.cpu.machine),
    `${cores(r.waiting.server)} / ${cores(r.waiting.ingest)}`,
    (r.serverRss / 2 ** 20).toFixed(0),
    (step.bytesPerConnection / 1024).toFixed(1),
    r.failed,
    r.loadAverage.toFixed(1),
  ];
}

function report(
  context: ScenarioContext,
  sizes: Sizes,
  series: readonly Series[],
  relay: Series | null,
  profiles: Profiles | null,
  load: { readonly before: number; readonly other: string; readonly after: number; readonly logDir: string },
): ScenarioReport {
  const perSubscriberRate = (sizes.perSubscriber * sizes.rate) / sizes.markets;
  const all = [...series, ...(relay ? [relay] : [])];
  const steps: Table = {
    caption: `Subscribers added in steps, each watching ${sizes.perSubscriber} markets (${perSubscriberRate.toFixed(0)} messages/s offered per subscriber); ${sizes.rate.toLocaleString('en')} frames/s over ${sizes.markets.toLocaleString('en')} markets; CPU in cores of the 2; "waiting for a core": seconds per second the main threads were ready to run but had no core (/proc/<pid>/schedstat)`,
    columns: [
      'path',
      'subscribers',
      'per serving process',
      'delivered msg/s',
      'delivered / offered',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'of which ingest p99 ms',
      'CPU: each serving process',
      'serving CPU µs per delivered msg',
      'CPU: tickql ingest',
      'CPU: subscribers',
      'CPU: all processes',
      'waiting for a core: serving / ingest',
      'serving RSS MB',
      'RSS per connection KB',
      'failed',
      'load average',
    ],
    rows: all.flatMap((s) => s.steps.map((step) => stepRow(s, step))),
  };
  const best = (s: Series | undefined) => s?.steps.filter((step) => step.result.all.p99 <= TARGET_P99_MS).at(-1) ?? null;
  const summary: Table = {
    caption: `Largest subscriber count measured with delivery p99 ≤ ${TARGET_P99_MS} ms`,
    columns: ['path', 'subscribers', 'per serving process', 'delivered msg/s', 'p99 ms', 'CPU: each serving process', 'serving CPU µs per delivered msg', 'RSS per connection KB', 'why stepping stopped'],
    rows: series.map((s) => {
      const b = best(s);
      return b
        ? [s.label, b.subscribers.toLocaleString('en'), Math.round(b.subscribers / s.workers).toLocaleString('en'), perSecond(b.result.deliveredPerSecond), ms(b.result.all.p99), b.result.serverCpuEach.map(cores).join(' + '), usPerMessage(b.result).toFixed(1), (b.bytesPerConnection / 1024).toFixed(1), s.stopped ?? 'largest step reached']
        : [s.label, 'none', '–', '–', '–', '–', '–', '–', s.stopped ?? '–'];
    }),
  };
  const chart: BarChart = {
    file: 'fan-out.svg',
    title: 'Fan-out: delivery p99 by subscriber count',
    unit: 'p99 latency, ms (log scale)',
    log: true,
    groups: sizes.steps
      .map((count) => ({
        label: `${count.toLocaleString('en')} subscribers`,
        bars: all.flatMap((s) => s.steps.filter((st) => st.subscribers === count).map((st) => ({ label: s.label, value: st.result.all.p99 }))),
      }))
      .filter((g) => g.bars.length > 0),
  };

  const findings: string[] = [];
  for (const s of series) {
    const b = best(s);
    if (!b) {
      findings.push(`${s.label}: no step met p99 ≤ ${TARGET_P99_MS} ms${s.stopped ? ` (${s.stopped})` : ''}.`);
      continue;
    }
    const r = b.result;
    const met = b.subscribers >= TARGET_SUBSCRIBERS && r.deliveredPerSecond >= TARGET_MESSAGES * 0.98;
    const us = usPerMessage(r);
    findings.push(
      `${s.label}: target ≥ ${TARGET_SUBSCRIBERS.toLocaleString('en')} subscribers and ${TARGET_MESSAGES.toLocaleString('en')} messages/s at p99 ≤ ${TARGET_P99_MS} ms **${met ? 'met' : 'missed'}**; the largest count measured within ${TARGET_P99_MS} ms is ${b.subscribers.toLocaleString('en')} subscribers (${Math.round(b.subscribers / s.workers).toLocaleString('en')} per serving process), delivering ${perSecond(r.deliveredPerSecond)} messages/s at p99 ${ms(r.all.p99)} ms${s.stopped ? `; ${s.stopped}` : ''}. ` +
        `The serving process${s.workers > 1 ? 'es' : ''} used ${r.serverCpuEach.map(cores).join(' + ')} cores, ${us.toFixed(1)} µs of CPU per delivered message (so one serving process with a whole core to itself would top out near ${perSecond(1e6 / us)} messages/s), the ingest process ${cores(r.cpu.ingest)}, the subscribers' clients ${cores(r.cpu.subscribers)} (${((r.cpu.subscribers! * 1e6) / r.deliveredPerSecond).toFixed(1)} µs per message), and the machine's 2 cores were ${cores(r.cpu.machine)} busy in all; RSS ${(b.bytesPerConnection / 1024).toFixed(1)} KB per connection.`,
    );
  }
  const [one, two] = series;
  const oneBest = best(one);
  const twoBest = best(two);
  if (one && two && oneBest && twoBest) {
    const common = one.steps.filter((a) => two.steps.some((b) => b.subscribers === a.subscribers && b.result.all.p99 <= TARGET_P99_MS) && a.result.all.p99 <= TARGET_P99_MS).at(-1);
    const other = common && two.steps.find((b) => b.subscribers === common.subscribers);
    findings.push(
      `WORKERS=2 against WORKERS=1: ${ratio(twoBest.subscribers / oneBest.subscribers)} the subscribers within ${TARGET_P99_MS} ms (${twoBest.subscribers.toLocaleString('en')} against ${oneBest.subscribers.toLocaleString('en')})` +
        (common && other
          ? `; at ${common.subscribers.toLocaleString('en')} subscribers p99 ${ms(other.result.all.p99)} against ${ms(common.result.all.p99)} ms, serving CPU ${usPerMessage(other.result).toFixed(1)} against ${usPerMessage(common.result).toFixed(1)} µs per delivered message`
          : '') +
        '. A second serving process only helps while a core is free for it: the serving processes share the 2 cores with the ingest process, Redis, the simulator and the subscribers\' own clients.',
    );
  }
  if (relay && one) {
    for (const r of relay.steps) {
      const t = one.steps.find((s) => s.subscribers === r.subscribers);
      if (!t) continue;
      findings.push(
        `Against the raw relay at ${r.subscribers.toLocaleString('en')} subscribers (same channels, no GraphQL; tickql keeps ingesting meanwhile, its ingest process at ${cores(r.result.cpu.ingest)} cores): p99 ${ms(t.result.all.p99)} (WORKERS=1) against ${ms(r.result.all.p99)} ms (${ratio(t.result.all.p99 / r.result.all.p99)}), serving CPU ${cores(t.result.cpu.server)} against ${cores(r.result.cpu.server)} cores, ${usPerMessage(t.result).toFixed(1)} against ${usPerMessage(r.result).toFixed(1)} µs per delivered message, ${(t.bytesPerConnection / 1024).toFixed(1)} against ${(r.bytesPerConnection / 1024).toFixed(1)} KB per connection.`,
      );
    }
  }
  if (profiles) {
    const parts = profiles.byKind.map(({ kind, summary }) => `**${kind === 'serve' ? 'serving process' : 'ingest process'}**: idle ${(summary.idle * 100).toFixed(0)} % of samples; busy time by area: ${formatShares(summary.byArea, 6)}; top functions: ${formatShares(summary.byFunction, 6)}`);
    findings.push(
      `Profile of tickql WORKERS=1 at ${profiles.subscribers.toLocaleString('en')} subscribers (V8 sampling profiler in tickql's own processes, bench/lib/cpu-profile-preload.cjs, over the ${sizes.settleMs / 1000} s settling pause and one ${context.durationS} s window, ${perSecond(profiles.result.deliveredPerSecond)} messages/s, p99 ${ms(profiles.result.all.p99)} ms in that window; frames mapped back to src/ through the bundle's source map; \`dispatch\` is the inspector starting the profiler, a stall kept out of the latency window): ${parts.join('; ')}.`,
    );
  }
  return {
    title: '4. Fan-out',
    method: [
      `The real path, as in scenario 3: a local exchange speaking Binance's protocol (\`BinanceSim\` in its own process) sends ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames/s over ${sizes.markets.toLocaleString('en')} markets (${(sizes.rate / sizes.markets).toFixed(0)} per market per second); tickql runs as \`npm start\` runs it (\`node dist/main.js\`: a supervisor, one ingest process, \`WORKERS\` serving processes sharing the port), in its default configuration pointed at the simulator, once with \`WORKERS=1\` and once with \`WORKERS=2\`, each with its own simulator and tree.`,
      `Every subscriber is its own \`graphql-ws\` client and WebSocket and watches ${sizes.perSubscriber} markets by \`ids\`, chosen with Zipf popularity (popular markets have thousands of watchers, the tail few), so each is offered ${perSubscriberRate.toFixed(0)} messages/s and ${TARGET_SUBSCRIBERS.toLocaleString('en')} subscribers are offered ${(TARGET_SUBSCRIBERS * perSubscriberRate).toLocaleString('en')} messages/s. ` +
        `Subscribers are added in steps (${sizes.steps.map((s) => s.toLocaleString('en')).join(', ')}) over ${sizes.clientProcesses} client process(es); the kernel spreads the connections over the serving processes ("per serving process" = subscribers / WORKERS). After each step has connected and settled (${sizes.settleMs / 1000} s), one ${context.durationS} s window is measured. Stepping stops after the first step whose p99 is over ${TARGET_P99_MS} ms or where more than 1 % of subscribers failed. ` +
        `Latency is receive time − the frame's event time (scenario 3), and "of which ingest" the same measured at a plain Redis subscriber in a process of its own (frame to PUBLISH); "delivered / offered" compares messages received with the updates Redis published times their watchers (below 1: updates conflated for clients that fell behind, or lost). ` +
        'CPU per process from /proc (tickql\'s processes told apart by `TICKQL_PROCESS`); serving CPU per delivered message = the serving processes\' CPU over the window / messages delivered, which is also each serving process\'s cost per message it delivers. RSS per connection is the serving processes\' resident memory after the step minus before the first subscriber, divided by the subscribers. ' +
        'The single-process bench server this section used before also reported its collected heap per connection and its payload-sharing counters; the tree has no such endpoint, so they are left out, as is the executed-per-subscriber comparison (a switch of that server only).',
      `Compared in the same run: the **raw relay** (\`bench/servers/raw-relay.ts\`) writes the same channels' published JSON to plain WebSockets with no GraphQL at ${[...sizes.relaySteps].map((s) => s.toLocaleString('en')).join(' and ')} subscribers and at the largest count tickql WORKERS=1 served within the target, while that tree keeps ingesting. Before the relay, tickql WORKERS=1 is measured once more at that count with its ingest and serving processes under V8's sampling profiler.`,
      `The simulator, tickql's processes, Redis, the relay, the monitor and the client processes all share the machine's 2 cores, and the client processes, lean as they are (they speak graphql-transport-ws themselves and read each message's timestamp from its bytes, bench/clients/subscribers.ts), still spend CPU on every message, so the subscribers' own CPU limits the total as much as the server does; other work on the machine shares the cores too (before this scenario: 1-minute load average ${load.before.toFixed(2)}, ${load.other}; after it: ${load.after.toFixed(2)}; the last column gives it at each window, this scenario's own processes included). tickql's logs: ${load.logDir}.`,
    ].join('\n\n'),
    tables: [steps, summary],
    charts: [chart],
    findings,
  };
}
