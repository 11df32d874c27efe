/**
 * Scenario 4: fan-out. How many concurrent graphql-ws subscribers one tickql process serves
 * with delivery p99 at most 100 ms: subscribers are added in steps on the real path
 * (bench/lib/delivery-rig.ts) until the p99 passes 100 ms or sockets run out, measuring at
 * each step the messages delivered per second, latency, CPU and the server's memory per
 * connection. Compared in the same run with the plain graphql-ws path (every update executed
 * and serialized per subscriber) and with a raw relay of the same channels without GraphQL.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScenarioContext } from '../lib/context';
import { formatShares, summarizeProfile, type CpuProfile } from '../lib/cpu-profile';
import { PublishMonitor, SubscriberFleet, appStats, measureDelivery, startRig, type DeliveryResult, type Rig } from '../lib/delivery-rig';
import { rssBytes, startChild } from '../lib/processes';
import { ms, ratio, type ScenarioReport, type Table } from '../lib/report';
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
  /** Counts at which the raw relay is measured, besides the largest count tickql served within the target. */
  readonly relaySteps: readonly number[];
  readonly clientProcesses: number;
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
  relaySteps: [1000, 10_000],
  clientProcesses: 3,
};
const SMOKE: Sizes = { markets: 20, rate: 100, perSubscriber: 2, steps: [3, 6], relaySteps: [6], clientProcesses: 1 };
const TARGET_P99_MS = 100;
const TARGET_SUBSCRIBERS = 10_000;
const TARGET_MESSAGES = 100_000;

interface Step {
  readonly subscribers: number;
  readonly result: DeliveryResult;
  /** Server RSS growth since before the first subscriber, per subscriber. */
  readonly bytesPerConnection: number;
  /** tickql's heap growth (after full collections) since before the first subscriber, per subscriber; null for the relay. */
  readonly heapPerConnection: number | null;
}

interface Series {
  readonly label: string;
  readonly steps: readonly Step[];
  /** Why stepping stopped early, if it did. */
  readonly stopped: string | null;
}

export async function fanOut(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const load = loadavg()[0]!;
  const fleet = await SubscriberFleet.start(sizes.clientProcesses);
  const profileDir = mkdtempSync(join(tmpdir(), 'tickql-fanout-profile-'));
  const series: Series[] = [];
  // Filled in by the rig callbacks below.
  const found: { relay: Series | null; profile: { readonly subscribers: number; readonly path: string; readonly result: DeliveryResult } | null } = { relay: null, profile: null };
  try {
    const profilePath = join(profileDir, 'fanout-shared.cpuprofile');
    await withRig(context, sizes, 'fanout-shared', { CPU_PROFILE: profilePath }, async (rig, plan, monitor) => {
      const shared = await stepUp(context, sizes, rig, fleet, monitor, plan, 'tickql, payload shared (default)');
      series.push(shared);
      await fleet.close();
      // Profile tickql at the largest count that met the target, or the first count measured.
      const passing = shared.steps.filter((s) => s.result.all.p99 <= TARGET_P99_MS);
      const at = (passing.at(-1) ?? shared.steps[0])?.subscribers;
      if (at !== undefined) {
        context.log(`fanout: profiling tickql with ${at} subscribers`);
        const result = await measure(context, rig, fleet, monitor, plan.slice(0, at), plan.slice(0, at), 'graphql-ws', rig.app.info.wsUrl, rig.app.process.pid!, profilePath);
        await fleet.close();
        found.profile = { subscribers: at, path: profilePath, result };
      }
      const relayAt = [...new Set([...sizes.relaySteps, ...(at === undefined ? [] : [at])])].sort((a, b) => a - b);
      found.relay = await relaySeries(context, relayAt, rig, fleet, monitor, plan);
    });
    await withRig(context, sizes, 'fanout-plain', { SHARE_PAYLOADS: '0' }, async (rig, plan, monitor) => {
      series.push(await stepUp(context, sizes, rig, fleet, monitor, plan, 'tickql, executed per subscriber'));
      await fleet.close();
    });
  } finally {
    await fleet.stop();
  }
  const { profile } = found;
  const profileSummary =
    profile !== null && existsSync(profile.path)
      ? { subscribers: profile.subscribers, result: profile.result, summary: summarizeProfile(JSON.parse(readFileSync(profile.path, 'utf8')) as CpuProfile, 10) }
      : null;
  rmSync(profileDir, { recursive: true, force: true });
  return report(context, sizes, series, found.relay, profileSummary, load);
}

async function withRig(
  context: ScenarioContext,
  sizes: Sizes,
  prefix: string,
  env: Record<string, string>,
  body: (rig: Rig, plan: PlannedSubscriber[], monitor: PublishMonitor) => Promise<void>,
): Promise<void> {
  context.log(`fanout: starting the simulator (${sizes.rate} frames/s over ${sizes.markets} markets) and tickql (${prefix})`);
  const rig = await startRig(context, { markets: sizes.markets, rate: sizes.rate, batchMs: 0, prefix, env }); // tickql's default INGEST_BATCH_MS
  const monitor = await PublishMonitor.start(context.redisUrl, prefix);
  try {
    await body(rig, watchlists(Math.max(...sizes.steps), rig.marketIds, sizes.perSubscriber, 4), monitor);
  } finally {
    monitor.close();
    await rig.stop();
  }
}

function measure(
  context: ScenarioContext,
  rig: Rig,
  fleet: SubscriberFleet,
  monitor: PublishMonitor,
  connected: readonly PlannedSubscriber[],
  add: readonly PlannedSubscriber[],
  protocol: 'graphql-ws' | 'raw',
  url: string,
  serverPid: number,
  profilePath?: string,
): Promise<DeliveryResult> {
  return measureDelivery({
    rig,
    fleet,
    monitor,
    protocol,
    url,
    serverPid,
    connected,
    add,
    measureMs: context.durationS * 1000,
    settleMs: context.smoke ? 500 : 3000,
    ...(profilePath ? { profilePath } : {}),
  });
}

/** Adds subscribers step by step; stops after the first step over the target or with failures. */
async function stepUp(
  context: ScenarioContext,
  sizes: Sizes,
  rig: Rig,
  fleet: SubscriberFleet,
  monitor: PublishMonitor,
  plan: readonly PlannedSubscriber[],
  label: string,
): Promise<Series> {
  const heapBaseline = (await appStats(rig, true)).memory.heapUsed; // collects garbage first, as every step does
  const baseline = await rssBytes(rig.app.process.pid!);
  const steps: Step[] = [];
  let stopped: string | null = null;
  let connected = 0;
  for (const count of sizes.steps) {
    context.log(`fanout: ${label}: ${count} subscribers`);
    let result: DeliveryResult;
    try {
      result = await measure(context, rig, fleet, monitor, plan.slice(0, count), plan.slice(connected, count), 'graphql-ws', rig.app.info.wsUrl, rig.app.process.pid!);
    } catch (err) {
      stopped = `stopped at ${count.toLocaleString('en')} subscribers: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      break;
    }
    connected = count;
    steps.push({
      subscribers: count,
      result,
      bytesPerConnection: (result.serverRss - baseline) / count,
      heapPerConnection: result.serverHeapUsed === null ? null : (result.serverHeapUsed - heapBaseline) / count,
    });
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
  return { label, steps, stopped };
}

async function relaySeries(
  context: ScenarioContext,
  counts: readonly number[],
  rig: Rig,
  fleet: SubscriberFleet,
  monitor: PublishMonitor,
  plan: readonly PlannedSubscriber[],
): Promise<Series> {
  const relay = await startChild<{ url: string }>('bench/servers/raw-relay.ts', { REDIS_URL: context.redisUrl, REDIS_PREFIX: 'fanout-shared' });
  const steps: Step[] = [];
  try {
    const baseline = await rssBytes(relay.process.pid!);
    let connected = 0;
    for (const count of counts) {
      context.log(`fanout: raw relay: ${count} subscribers`);
      const result = await measure(context, rig, fleet, monitor, plan.slice(0, count), plan.slice(connected, count), 'raw', relay.info.url, relay.process.pid!);
      connected = count;
      steps.push({ subscribers: count, result, bytesPerConnection: (result.serverRss - baseline) / count, heapPerConnection: null });
    }
    await fleet.close();
  } finally {
    await relay.stop();
  }
  return { label: 'raw relay (no GraphQL)', steps, stopped: null };
}

const perSecond = (n: number) => Math.round(n).toLocaleString('en');
const cores = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(2));

function stepRow(label: string, step: Step): Array<string | number> {
  const r = step.result;
  return [
    label,
    step.subscribers.toLocaleString('en'),
    perSecond(r.deliveredPerSecond),
    r.offeredPerSecond > 0 ? (r.deliveredPerSecond / r.offeredPerSecond).toFixed(3) : '–',
    ms(r.all.p50),
    ms(r.all.p99),
    ms(r.all.p999),
    ms(r.ingest.p99),
    cores(r.cpu.server),
    cores(r.cpu.subscribers),
    (r.serverRss / 2 ** 20).toFixed(0),
    (step.bytesPerConnection / 1024).toFixed(1),
    step.heapPerConnection === null ? '–' : (step.heapPerConnection / 1024).toFixed(1),
    r.failed,
    r.loadAverage.toFixed(1),
  ];
}

function report(
  context: ScenarioContext,
  sizes: Sizes,
  series: readonly Series[],
  relay: Series | null,
  profile: { readonly subscribers: number; readonly result: DeliveryResult; readonly summary: ReturnType<typeof summarizeProfile> } | null,
  load: number,
): ScenarioReport {
  const perSubscriberRate = (sizes.perSubscriber * sizes.rate) / sizes.markets;
  const columns = ['path', 'subscribers', 'delivered msg/s', 'delivered / offered', 'p50 ms', 'p99 ms', 'p99.9 ms', 'of which ingest p99 ms', 'CPU: server', 'CPU: subscribers', 'server RSS MB', 'RSS per connection KB', 'heap per connection KB', 'failed', 'load average'];
  const steps: Table = {
    caption: `Subscribers added in steps, each watching ${sizes.perSubscriber} markets (${perSubscriberRate.toFixed(0)} messages/s offered per subscriber); ${sizes.rate.toLocaleString('en')} frames/s over ${sizes.markets.toLocaleString('en')} markets`,
    columns,
    rows: [...series, ...(relay ? [relay] : [])].flatMap((s) => s.steps.map((step) => stepRow(s.label, step))),
  };
  const best = (s: Series | undefined) => s?.steps.filter((step) => step.result.all.p99 <= TARGET_P99_MS).at(-1) ?? null;
  const [shared, plain] = series;
  const sharedBest = best(shared);
  const plainBest = best(plain);
  const summary: Table = {
    caption: `Largest subscriber count measured with delivery p99 ≤ ${TARGET_P99_MS} ms`,
    columns: ['path', 'subscribers', 'delivered msg/s', 'p99 ms', 'CPU: server', 'RSS per connection KB', 'heap per connection KB', 'why stepping stopped'],
    rows: series.map((s) => {
      const b = best(s);
      return b
        ? [s.label, b.subscribers.toLocaleString('en'), perSecond(b.result.deliveredPerSecond), ms(b.result.all.p99), cores(b.result.cpu.server), (b.bytesPerConnection / 1024).toFixed(1), b.heapPerConnection === null ? '–' : (b.heapPerConnection / 1024).toFixed(1), s.stopped ?? 'largest step reached']
        : [s.label, 'none', '–', '–', '–', '–', '–', s.stopped ?? '–'];
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
        bars: [...series, ...(relay ? [relay] : [])].flatMap((s) => s.steps.filter((st) => st.subscribers === count).map((st) => ({ label: s.label, value: st.result.all.p99 }))),
      }))
      .filter((g) => g.bars.length > 0),
  };

  const findings: string[] = [];
  if (shared) {
    const met = sharedBest !== null && sharedBest.subscribers >= TARGET_SUBSCRIBERS && sharedBest.result.deliveredPerSecond >= TARGET_MESSAGES * 0.98;
    findings.push(
      sharedBest
        ? `Target ≥ ${TARGET_SUBSCRIBERS.toLocaleString('en')} subscribers and ${TARGET_MESSAGES.toLocaleString('en')} messages/s at p99 ≤ ${TARGET_P99_MS} ms: **${met ? 'met' : 'missed'}**. ` +
            `The largest count measured within ${TARGET_P99_MS} ms is ${sharedBest.subscribers.toLocaleString('en')} subscribers, delivering ${perSecond(sharedBest.result.deliveredPerSecond)} messages/s at p99 ${ms(sharedBest.result.all.p99)} ms, with tickql using ${cores(sharedBest.result.cpu.server)} cores${shared.stopped ? `; ${shared.stopped}` : ''}.`
        : `Target missed: no step met p99 ≤ ${TARGET_P99_MS} ms${shared.stopped ? ` (${shared.stopped})` : ''}.`,
    );
    if (sharedBest) {
      const us = (sharedBest.result.cpu.server! * 1e6) / sharedBest.result.deliveredPerSecond;
      findings.push(
        `What limits it: tickql spent ${us.toFixed(1)} µs of CPU per delivered message at ${sharedBest.subscribers.toLocaleString('en')} subscribers (ingest included). Delivery runs on the process's one JavaScript thread, socket writes included, so one process tops out near ${perSecond(1e6 / us)} messages/s even with a whole core to itself; ` +
          `${TARGET_MESSAGES.toLocaleString('en')} messages/s would take ${((TARGET_MESSAGES * us) / 1e6).toFixed(1)} cores at that cost, while the subscribers' own graphql-ws clients, on the same 2 cores, used ${((sharedBest.result.cpu.subscribers! * 1e6) / sharedBest.result.deliveredPerSecond).toFixed(1)} µs per message. Past one process, more tickql processes share the Redis (each subscribes the channels its clients need).`,
      );
      const heaps = shared.steps.filter((s) => s.heapPerConnection !== null).map((s) => s.heapPerConnection! / 1024);
      findings.push(
        `Memory per connection (one WebSocket, one graphql-ws subscription with its context, its Redis channel references and conflation queue): ${(sharedBest.bytesPerConnection / 1024).toFixed(1)} KB of tickql RSS at ${sharedBest.subscribers.toLocaleString('en')} subscribers; ` +
          `the JavaScript heap after a full collection grew by ${Math.min(...heaps).toFixed(1)}–${Math.max(...heaps).toFixed(1)} KB per connection across the steps (RSS moves with the collector and the allocator, the collected heap is the steadier figure).`,
      );
    }
    if (plain) {
      findings.push(
        plainBest
          ? `Executing and serializing every update per subscriber (the plain graphql-ws path) stays within ${TARGET_P99_MS} ms only up to ${plainBest.subscribers.toLocaleString('en')} subscribers (${perSecond(plainBest.result.deliveredPerSecond)} messages/s)${plain.stopped ? `; ${plain.stopped}` : ''}: sharing payloads serves ${ratio((sharedBest?.subscribers ?? 0) / plainBest.subscribers)} the subscribers.`
          : `Executing and serializing every update per subscriber (the plain graphql-ws path) met ${TARGET_P99_MS} ms at no step${plain.stopped ? ` (${plain.stopped})` : ''}.`,
      );
      const common = shared.steps.find((s) => plain.steps.some((p) => p.subscribers === s.subscribers && p.subscribers === (plainBest ?? plain.steps[0])?.subscribers));
      const other = common && plain.steps.find((p) => p.subscribers === common.subscribers);
      if (common && other) {
        findings.push(
          `At ${common.subscribers.toLocaleString('en')} subscribers, tickql's CPU per delivered message: ${((common.result.cpu.server! * 1e6) / common.result.deliveredPerSecond).toFixed(1)} µs shared against ${((other.result.cpu.server! * 1e6) / other.result.deliveredPerSecond).toFixed(1)} µs per subscriber (${ratio(((other.result.cpu.server! / other.result.deliveredPerSecond) * common.result.deliveredPerSecond) / common.result.cpu.server!)}).`,
        );
      }
    }
    if (relay) {
      for (const r of relay.steps) {
        const t = shared.steps.find((s) => s.subscribers === r.subscribers);
        if (!t) continue;
        findings.push(
          `Against the raw relay at ${r.subscribers.toLocaleString('en')} subscribers (same channels, no GraphQL; tickql keeps ingesting meanwhile, at ${cores(r.result.cpu['tickql (ingest only)'])} cores): p99 ${ms(t.result.all.p99)} against ${ms(r.result.all.p99)} ms (${ratio(t.result.all.p99 / r.result.all.p99)}), serving CPU ${cores(t.result.cpu.server)} against ${cores(r.result.cpu.server)} cores, ${(t.bytesPerConnection / 1024).toFixed(1)} against ${(r.bytesPerConnection / 1024).toFixed(1)} KB per connection.`,
        );
      }
    }
  }
  if (profile) {
    const p = profile.summary;
    const sharing = profile.result.sharing;
    findings.push(
      `Profile of tickql at ${profile.subscribers.toLocaleString('en')} subscribers (V8 sampling profiler over one ${context.durationS} s window, ${perSecond(profile.result.deliveredPerSecond)} messages/s): idle ${(p.idle * 100).toFixed(0)} % of samples; busy time by area: ${formatShares(p.byArea, 8)}; top functions: ${formatShares(p.byFunction, 6)}. ` +
        '`writev` is the socket write system call (ws writes a frame header and its payload together): it, not GraphQL, is where the time goes. ' +
        (sharing
          ? `In that window ${sharing.computed.toLocaleString('en')} payloads were executed and serialized and reused ${sharing.reused.toLocaleString('en')} times (${ratio((sharing.computed + sharing.reused) / Math.max(1, sharing.computed))} fewer executions than one per message), and ${sharing.messages.toLocaleString('en')} messages took ${sharing.writes.toLocaleString('en')} socket writes.`
          : ''),
    );
  }
  return {
    title: '4. Fan-out',
    method: [
      `The real path, as in scenario 3: a local exchange speaking Binance's protocol (\`BinanceSim\` in its own process) sends ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames/s over ${sizes.markets.toLocaleString('en')} markets (${(sizes.rate / sizes.markets).toFixed(0)} per market per second); one tickql process (\`buildApp\`, \`FEEDS=binance\`, default \`INGEST_BATCH_MS=0\`) ingests them into Redis and serves graphql-ws.`,
      `Every subscriber is its own \`graphql-ws\` client and WebSocket and watches ${sizes.perSubscriber} markets by \`ids\`, chosen with Zipf popularity (popular markets have thousands of watchers, the tail few), so each is offered ${perSubscriberRate.toFixed(0)} messages/s and ${TARGET_SUBSCRIBERS.toLocaleString('en')} subscribers are offered ${(TARGET_SUBSCRIBERS * perSubscriberRate).toLocaleString('en')} messages/s. ` +
        `Subscribers are added in steps (${sizes.steps.map((s) => s.toLocaleString('en')).join(', ')}) over ${sizes.clientProcesses} client process(es) (the file limit is 20,000 per process, the server's included, which ends the steps below 20,000); after each step has connected and settled, one ${context.durationS} s window is measured. Stepping stops after the first step whose p99 is over ${TARGET_P99_MS} ms or where more than 1 % of subscribers failed. ` +
        `Latency is receive time − the frame's event time (scenario 3), and "of which ingest" the same measured at a plain Redis subscriber (frame to PUBLISH); "delivered / offered" compares messages received with the updates Redis published times their watchers (below 1: updates conflated for clients that fell behind, or lost). ` +
        `RSS per connection is the serving process's resident memory after the step minus before the first subscriber, divided by the subscribers; heap per connection the same for tickql's JavaScript heap, each read after a full garbage collection.`,
      `Compared in the same run: **executed per subscriber** is a second tickql with \`sharePayloads: false\`, stepped the same way; the **raw relay** (\`bench/servers/raw-relay.ts\`) writes the same channels' published JSON to plain WebSockets with no GraphQL at ${sizes.relaySteps.map((s) => s.toLocaleString('en')).join(' and ')} subscribers and at the largest count tickql served within the target, while tickql keeps ingesting.`,
      `The simulator, tickql, Redis, the relay and the client processes all share the machine's 2 cores, and the client processes, lean as they are (they speak graphql-transport-ws themselves and read each message's timestamp from its bytes, bench/clients/subscribers.ts), still spend CPU on every message, so the subscribers' own CPU limits the total as much as the server does; other work on the machine shares the cores too (1-minute load average ${load.toFixed(1)} when this scenario started; the last column gives it at each window, this scenario's own processes included).`,
    ].join('\n\n'),
    tables: [steps, summary],
    charts: [chart],
    findings,
  };
}
