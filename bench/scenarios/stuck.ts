/**
 * Scenario 6: stuck subscribers. Issue 5 asks that outbound buffering per connection be
 * bounded, that a client stuck past a time limit be closed with a clear close code, and that
 * memory stay flat with 1k stuck clients. test/integration/slow-clients.test.ts proves the
 * behaviour in one process; this measures it under load, in separate processes, on the real
 * push path (bench/lib/delivery-rig.ts):
 *
 * - run A: a few live subscribers, their delivery latency (the baseline, same rig as B);
 * - run B: the same plus 1,000 subscribers of the whole exchange that stop reading
 *   (bench/clients/subscribers.ts, `graphql-ws-stuck`), with WS_STUCK_CLIENT_MS long enough
 *   that they stay; over consecutive windows, tickql's RSS and collected heap, the live
 *   subscribers' latency against run A, the conflation and outbound-wait counters (/metrics)
 *   and what the kernel holds per stuck connection (/proc/net/tcp), to tell whether a window
 *   got past the kernel's buffers;
 * - run C: a second tickql with WS_STUCK_CLIENT_MS of a few seconds: how many stuck clients it
 *   closes, within how long, with which close code as the clients see it once they read
 *   again, and the live subscribers' latency meanwhile.
 */
import { loadavg } from 'node:os';
import type { ScenarioContext } from '../lib/context';
import { PublishMonitor, SubscriberFleet, appStats, measureDelivery, startAppRig, type AppRig as Rig, type DeliveryResult } from '../lib/delivery-rig';
import { rssBytes } from '../lib/processes';
import { cores, ms, perSecond, ratio, type ScenarioReport, type Table } from '../lib/report';
import { watchlists, type PlannedSubscriber } from '../lib/subscriber-plan';
import { connectionQueues, tcpMemoryBytes, tcpMemoryLimits } from '../lib/tcp-queues';
import type { ResumeReply, StuckStatus } from '../clients/subscribers';

interface Sizes {
  readonly markets: number;
  /** Exchange frames per second. */
  readonly rate: number;
  /** Live subscribers watching `perWatchlist` markets by ids, and live subscribers of the whole exchange. */
  readonly liveWatchlists: number;
  readonly perWatchlist: number;
  readonly liveExchangeWide: number;
  /** Subscribers of the whole exchange that stop reading. */
  readonly stuck: number;
  readonly stuckProcesses: number;
  /** Consecutive windows of run B. */
  readonly windows: number;
  /** WS_STUCK_CLIENT_MS of run C. */
  readonly shortStuckMs: number;
  /** Run C's window, seconds: long enough to span the closes. */
  readonly closeWindowS: number;
}

// 2,000 frames/s over 1,000 markets: each stuck subscriber of the whole exchange is offered
// 2,000 messages/s, so 1,000 of them 2 million/s, far past what one process writes: their
// kernel buffers fill as fast as tickql can write, then everything waits in its queues.
const FULL: Sizes = { markets: 1000, rate: 2000, liveWatchlists: 100, perWatchlist: 5, liveExchangeWide: 1, stuck: 1000, stuckProcesses: 2, windows: 5, shortStuckMs: 4000, closeWindowS: 12 };
const SMOKE: Sizes = { markets: 20, rate: 100, liveWatchlists: 3, perWatchlist: 2, liveExchangeWide: 1, stuck: 4, stuckProcesses: 1, windows: 2, shortStuckMs: 1000, closeWindowS: 2 };
/** WS_STUCK_CLIENT_MS of runs A and B: longer than the scenario, so the stuck clients stay. */
const HELD_STUCK_MS = 600_000;
/** "Flat": tickql's RSS and collected heap grow by at most this share across run B's steady windows. */
const FLAT_SHARE = 0.05;

interface Counters {
  readonly conflated: number;
  readonly outboundWaits: number;
  readonly slowClientsClosed: number;
  readonly clients: number;
}

async function counters(rig: Rig): Promise<Counters> {
  const text = await (await fetch(new URL('/metrics', rig.app.info.url))).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    conflated: value('tickql_subscription_messages_conflated_total'),
    outboundWaits: value('tickql_websocket_outbound_waits_total'),
    slowClientsClosed: value('tickql_websocket_slow_clients_closed_total'),
    clients: value('tickql_websocket_clients'),
  };
}

interface Memory {
  readonly rss: number;
  /** V8 heap in use after a full collection. */
  readonly heap: number;
}

async function memory(rig: Rig): Promise<Memory> {
  const heap = (await appStats(rig, true)).memory.heapUsed;
  return { rss: await rssBytes(rig.app.process.pid!), heap };
}

interface KernelQueues {
  /** Bytes per stuck connection in the kernel (server send queue + client receive queue). */
  readonly median: number;
  readonly max: number;
  /** All TCP memory of the machine (sockstat). */
  readonly tcpMemory: number | null;
}

async function kernelQueues(rig: Rig, ports: readonly number[]): Promise<KernelQueues | null> {
  const queues = await connectionQueues(Number(new URL(rig.app.info.url).port), ports);
  if (queues === null || queues.length === 0) return null;
  const sorted = queues.map((q) => q.bytes).sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)!, tcpMemory: await tcpMemoryBytes() };
}

interface Window {
  /** Seconds from the last stuck subscriber stopping reading to the end of the window. */
  readonly sinceStuckS: number;
  readonly live: DeliveryResult;
  /** After the window. */
  readonly memory: Memory;
  readonly conflatedPerSecond: number;
  readonly outboundWaitsPerSecond: number;
  readonly kernel: KernelQueues | null;
  /** Updates published over the window: each stuck subscriber of the whole exchange was offered that many. */
  readonly published: number;
}

interface HeldRun {
  readonly baseline: DeliveryResult;
  readonly baselineMemory: Memory;
  readonly status: StuckStatus;
  readonly connectSeconds: number;
  readonly stuckFailed: number;
  readonly windows: readonly Window[];
}

interface CloseRun {
  readonly live: DeliveryResult;
  readonly status: StuckStatus;
  /** tickql's count of clients it closed as stuck, at the end. */
  readonly closed: number;
  /** ms from the first stuck subscriber stopping reading to the first close, and from the last one stopping to the last close (null: not all closed). */
  readonly firstCloseMs: number | null;
  readonly lastCloseMs: number | null;
  /** WebSocket connections left on tickql once the closes were done (the live subscribers'). */
  readonly clientsLeft: number;
  readonly codes: ResumeReply;
}

function sleep(msToWait: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msToWait));
}

async function stuckStatus(fleet: SubscriberFleet): Promise<StuckStatus> {
  const parts = await Promise.all(fleet.children.map((c) => c.request<StuckStatus>('stuckStatus')));
  const firsts = parts.flatMap((p) => (p.firstPausedAt === null ? [] : [p.firstPausedAt]));
  const lasts = parts.flatMap((p) => (p.lastPausedAt === null ? [] : [p.lastPausedAt]));
  const paused = parts.reduce((n, p) => n + p.paused, 0);
  return {
    paused,
    firstPausedAt: firsts.length > 0 ? Math.min(...firsts) : null,
    lastPausedAt: lasts.length > 0 ? Math.max(...lasts) : null,
    localPorts: parts.flatMap((p) => p.localPorts),
    messageBytes: parts.reduce((n, p) => n + p.messageBytes * p.paused, 0) / Math.max(1, paused),
  };
}

async function resumeStuck(fleet: SubscriberFleet, waitMs: number): Promise<ResumeReply> {
  const parts = await Promise.all(fleet.children.map((c) => c.request<ResumeReply>('resume', { ms: waitMs })));
  const codes: Record<string, number> = {};
  const reasons: Record<string, string> = {};
  for (const p of parts) {
    for (const [code, n] of Object.entries(p.codes)) codes[code] = (codes[code] ?? 0) + n;
    Object.assign(reasons, p.reasons);
  }
  return { codes, reasons };
}

export async function stuckSubscribers(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const load = loadavg()[0]!;
  const live = await SubscriberFleet.start(1);
  const stuck = await SubscriberFleet.start(sizes.stuckProcesses);
  const stuckPlan: PlannedSubscriber[] = Array.from({ length: sizes.stuck }, () => ({ kind: 'stuck', exchanges: ['binance'] }));
  try {
    const held = await withRig(context, sizes, 'stuck-held', HELD_STUCK_MS, (rig, plan, monitor) => heldRun(context, sizes, rig, live, stuck, monitor, plan, stuckPlan));
    const closing = await withRig(context, sizes, 'stuck-closed', sizes.shortStuckMs, (rig, plan, monitor) => closeRun(context, sizes, rig, live, stuck, monitor, plan, stuckPlan));
    return report(context, sizes, held, closing, load, await tcpMemoryLimits());
  } finally {
    await Promise.all([live.stop(), stuck.stop()]);
  }
}

async function withRig<T>(
  context: ScenarioContext,
  sizes: Sizes,
  prefix: string,
  stuckClientMs: number,
  body: (rig: Rig, plan: PlannedSubscriber[], monitor: PublishMonitor) => Promise<T>,
): Promise<T> {
  context.log(`stuck: starting the simulator (${sizes.rate} frames/s over ${sizes.markets} markets) and tickql (${prefix}, WS_STUCK_CLIENT_MS=${stuckClientMs})`);
  const rig = await startAppRig(context, { markets: sizes.markets, rate: sizes.rate, batchMs: 0, prefix, env: { WS_STUCK_CLIENT_MS: String(stuckClientMs) } });
  const monitor = await PublishMonitor.start(context.redisUrl, prefix);
  try {
    const plan: PlannedSubscriber[] = [
      ...watchlists(sizes.liveWatchlists, rig.marketIds, sizes.perWatchlist, 6),
      ...Array.from({ length: sizes.liveExchangeWide }, () => ({ kind: 'whole exchange', exchanges: ['binance'] })),
    ];
    return await body(rig, plan, monitor);
  } finally {
    monitor.close();
    await rig.stop();
  }
}

async function heldRun(
  context: ScenarioContext,
  sizes: Sizes,
  rig: Rig,
  live: SubscriberFleet,
  stuck: SubscriberFleet,
  monitor: PublishMonitor,
  plan: readonly PlannedSubscriber[],
  stuckPlan: readonly PlannedSubscriber[],
): Promise<HeldRun> {
  const measureMs = context.durationS * 1000;
  const url = rig.app.info.wsUrl;
  context.log(`stuck: run A, ${plan.length} live subscribers, measuring ${context.durationS} s`);
  const baseline = await measureDelivery({ rig, fleet: live, monitor, protocol: 'graphql-ws', url, connected: plan, add: plan, measureMs, settleMs: context.smoke ? 500 : 2000 });
  const baselineMemory = await memory(rig);

  context.log(`stuck: run B, connecting ${sizes.stuck} subscribers that stop reading`);
  const connect = await stuck.connect('graphql-ws-stuck', url, stuckPlan);
  const status = await stuckStatus(stuck);
  const windows: Window[] = [];
  let before = await counters(rig);
  for (let i = 0; i < sizes.windows; i++) {
    context.log(`stuck: run B, window ${i + 1} of ${sizes.windows}`);
    const result = await measureDelivery({ rig, fleet: live, monitor, protocol: 'graphql-ws', url, connected: plan, add: [], measureMs, settleMs: 0 });
    const ended = Date.now();
    const after = await counters(rig);
    const seconds = measureMs / 1000;
    windows.push({
      sinceStuckS: (ended - (status.lastPausedAt ?? ended)) / 1000,
      live: result,
      memory: await memory(rig),
      conflatedPerSecond: (after.conflated - before.conflated) / seconds,
      outboundWaitsPerSecond: (after.outboundWaits - before.outboundWaits) / seconds,
      kernel: await kernelQueues(rig, status.localPorts),
      published: result.publishedPerSecond * seconds,
    });
    before = after;
  }
  await Promise.all([live.close(), stuck.close()]);
  return { baseline, baselineMemory, status, connectSeconds: connect.seconds, stuckFailed: connect.failed, windows };
}

async function closeRun(
  context: ScenarioContext,
  sizes: Sizes,
  rig: Rig,
  live: SubscriberFleet,
  stuck: SubscriberFleet,
  monitor: PublishMonitor,
  plan: readonly PlannedSubscriber[],
  stuckPlan: readonly PlannedSubscriber[],
): Promise<CloseRun> {
  const url = rig.app.info.wsUrl;
  await live.connect('graphql-ws', url, plan);
  // Polled from before the stuck subscribers connect: the first may be closed while the last connect.
  const polls: Array<{ readonly at: number; readonly counters: Counters }> = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const now = await counters(rig).catch(() => null); // a missed poll only coarsens the times
      if (now) polls.push({ at: Date.now(), counters: now });
      await sleep(200);
    }
  })();
  try {
    context.log(`stuck: run C, connecting ${sizes.stuck} subscribers that stop reading, WS_STUCK_CLIENT_MS=${sizes.shortStuckMs}`);
    await stuck.connect('graphql-ws-stuck', url, stuckPlan);
    const status = await stuckStatus(stuck);
    context.log(`stuck: run C, measuring the live subscribers for ${sizes.closeWindowS} s`);
    const result = await measureDelivery({ rig, fleet: live, monitor, protocol: 'graphql-ws', url, connected: plan, add: [], measureMs: sizes.closeWindowS * 1000, settleMs: 0 });
    // The longest a stuck client may take: a ping sent up to half the limit after it stopped,
    // the limit, a check a quarter limit later, then up to 5 s for the close before terminating.
    const deadline = Date.now() + 2 * sizes.shortStuckMs + 5000;
    while ((polls.at(-1)?.counters.slowClientsClosed ?? 0) < status.paused && Date.now() < deadline) await sleep(200);
    polling = false;
    await poller;
    const firstClose = polls.find((p) => p.counters.slowClientsClosed > 0);
    const allClosed = polls.find((p) => p.counters.slowClientsClosed >= status.paused);
    await sleep(Math.min(5000, sizes.shortStuckMs)); // the close grace, after which unclosed sockets are terminated
    const clientsLeft = (await counters(rig)).clients;
    context.log('stuck: run C, the stuck subscribers read again');
    const codes = await resumeStuck(stuck, context.smoke ? 5000 : 30_000);
    return {
      live: result,
      status,
      closed: polls.at(-1)?.counters.slowClientsClosed ?? 0,
      firstCloseMs: firstClose && status.firstPausedAt !== null ? firstClose.at - status.firstPausedAt : null,
      lastCloseMs: allClosed && status.lastPausedAt !== null ? allClosed.at - status.lastPausedAt : null,
      clientsLeft,
      codes,
    };
  } finally {
    polling = false;
    await poller;
    await Promise.all([live.close(), stuck.close()]);
  }
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const kb = (bytes: number) => (bytes / 1024).toFixed(1);

/** Least-squares slope of `y` over `x`; null for fewer than two points. */
function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((n, [x]) => n + x, 0) / points.length;
  const my = points.reduce((n, [, y]) => n + y, 0) / points.length;
  const sxx = points.reduce((n, [x]) => n + (x - mx) ** 2, 0);
  return sxx === 0 ? null : points.reduce((n, [x, y]) => n + (x - mx) * (y - my), 0) / sxx;
}

function report(context: ScenarioContext, sizes: Sizes, held: HeldRun, closing: CloseRun, load: number, tcpLimits: readonly [number, number, number] | null): ScenarioReport {
  const a = held.baseline;
  const liveCount = sizes.liveWatchlists + sizes.liveExchangeWide;
  const liveRow = (label: string, r: DeliveryResult) => [
    label,
    perSecond(r.deliveredPerSecond),
    r.offeredPerSecond > 0 ? (r.deliveredPerSecond / r.offeredPerSecond).toFixed(3) : '–',
    ms(r.all.p50),
    ms(r.all.p99),
    ratio(r.all.p50 / a.all.p50),
    ratio(r.all.p99 / a.all.p99),
    cores(r.cpu.server),
    r.failed,
    r.loadAverage.toFixed(1),
  ];
  const latency: Table = {
    caption: `The ${liveCount} live subscribers: frame leaving the exchange socket to update received (ms), against run A`,
    columns: ['run', 'delivered msg/s', 'delivered / offered', 'p50', 'p99', 'p50 vs A', 'p99 vs A', 'CPU: tickql', 'failed live subscribers', 'load average'],
    rows: [
      liveRow('A: live subscribers only', a),
      ...held.windows.map((w, i) => liveRow(`B: + ${held.status.paused.toLocaleString('en')} stuck, window ${i + 1}`, w.live)),
      liveRow(`C: + ${closing.status.paused.toLocaleString('en')} stuck, WS_STUCK_CLIENT_MS=${sizes.shortStuckMs}`, closing.live),
    ],
  };
  const memoryTable: Table = {
    caption: `tickql's memory and queues with ${held.status.paused.toLocaleString('en')} stuck subscribers of the whole exchange (run B; memory after a full collection, at the end of each ${context.durationS} s window)`,
    columns: [
      'after',
      's since the last stopped reading',
      'RSS MB',
      'heap MB',
      'RSS per stuck client KB',
      'updates offered per stuck client',
      'conflated/s',
      'outbound waits/s',
      'kernel bytes per stuck connection, median KB',
      'max KB',
      'TCP memory of the machine MB',
    ],
    rows: [
      ['run A (no stuck clients)', '–', mb(held.baselineMemory.rss), mb(held.baselineMemory.heap), '–', '–', '–', '–', '–', '–', '–'],
      ...held.windows.map((w, i) => [
        `window ${i + 1}`,
        w.sinceStuckS.toFixed(1),
        mb(w.memory.rss),
        mb(w.memory.heap),
        kb((w.memory.rss - held.baselineMemory.rss) / Math.max(1, held.status.paused)),
        perSecond(w.published),
        perSecond(w.conflatedPerSecond),
        perSecond(w.outboundWaitsPerSecond),
        w.kernel ? kb(w.kernel.median) : '–',
        w.kernel ? kb(w.kernel.max) : '–',
        w.kernel?.tcpMemory != null ? mb(w.kernel.tcpMemory) : '–',
      ]),
    ],
  };
  const codeText = Object.entries(closing.codes.codes)
    .map(([code, n]) => `${n.toLocaleString('en')} × ${code === 'open' ? 'still open' : code}${closing.codes.reasons[code] ? ` ("${closing.codes.reasons[code]}")` : ''}`)
    .join(', ');
  const closes: Table = {
    caption: `Run C: WS_STUCK_CLIENT_MS=${sizes.shortStuckMs}`,
    columns: ['stuck subscribers', 'closed as stuck (tickql_websocket_slow_clients_closed_total)', 'first close after the first stopped reading, s', 'last close after the last stopped reading, s', 'connections left on tickql', 'close codes seen by the stuck clients once they read again'],
    rows: [
      [
        closing.status.paused.toLocaleString('en'),
        closing.closed.toLocaleString('en'),
        closing.firstCloseMs === null ? '–' : (closing.firstCloseMs / 1000).toFixed(1),
        closing.lastCloseMs === null ? 'not all closed' : (closing.lastCloseMs / 1000).toFixed(1),
        `${closing.clientsLeft} (${liveCount} live)`,
        codeText,
      ],
    ],
  };

  const findings: string[] = [];
  const ws = held.windows;
  const steady = ws.length >= 3 ? ws.slice(1) : ws;
  const first = steady[0];
  const last = ws.at(-1);
  if (first && last) {
    const rssGrowth = last.memory.rss - first.memory.rss;
    const heapGrowth = last.memory.heap - first.memory.heap;
    const flat = rssGrowth <= FLAT_SHARE * first.memory.rss && heapGrowth <= FLAT_SHARE * first.memory.heap;
    const start = ws.at(0)!.sinceStuckS - context.durationS;
    const rssSlope = slope(steady.map((w) => [w.sinceStuckS / 60, w.memory.rss / 2 ** 20] as const));
    const offered = steady.slice(1).reduce((n, w) => n + w.published, 0);
    findings.push(
      `"Memory stays flat with 1k stuck clients": **${flat ? 'holds' : 'does not hold'}** with ${held.status.paused.toLocaleString('en')} stuck subscribers (criterion: RSS and collected heap grow by at most ${FLAT_SHARE * 100} % from window ${ws.indexOf(first) + 1} to window ${ws.length}). ` +
        `tickql's RSS went from ${mb(held.baselineMemory.rss)} MB (live subscribers only) to ${mb(ws[0]!.memory.rss)} MB after the first window and ${mb(last.memory.rss)} MB after the last (${rssSlope === null ? 'no slope from one window' : `slope ${rssSlope.toFixed(1)} MB/min`} over windows ${ws.indexOf(first) + 1}–${ws.length}), ` +
        `the collected heap from ${mb(held.baselineMemory.heap)} to ${mb(ws[0]!.memory.heap)} and ${mb(last.memory.heap)} MB: ${kb((last.memory.rss - held.baselineMemory.rss) / Math.max(1, held.status.paused))} KB of RSS and ${kb((last.memory.heap - held.baselineMemory.heap) / Math.max(1, held.status.paused))} KB of heap per stuck client, ` +
        `while each stuck client was offered ${perSecond(offered)} more updates (${mb(offered * held.status.messageBytes)} MB at ${held.status.messageBytes.toFixed(0)} bytes each) between those windows. ` +
        `The windows start ${start.toFixed(1)} s after the last stuck subscriber stopped reading (connecting them took ${held.connectSeconds.toFixed(1)} s${held.stuckFailed > 0 ? `, ${held.stuckFailed} failed` : ''}).`,
    );
    const k = last.kernel;
    findings.push(
      k
        ? `How far past the kernel's buffers: after the last window the kernel held a median ${kb(k.median)} KB (max ${kb(k.max)} KB) per stuck connection (tickql's send queue plus the client's receive queue, /proc/net/tcp), ` +
            `${k.tcpMemory === null ? '' : `and all TCP sockets of the machine ${mb(k.tcpMemory)} MB (/proc/net/sockstat; the kernel's limits, tcp_mem, are ${tcpLimits ? tcpLimits.map(mb).join(' / ') : '?'} MB low / pressure / high)`}. ` +
            `That is what tickql wrote to each before anything queued in its own process; each stuck client was offered ${perSecond(ws.reduce((n, w) => n + w.published, 0))} updates over the windows (${mb(ws.reduce((n, w) => n + w.published, 0) * held.status.messageBytes)} MB), ` +
            `${last.conflatedPerSecond > 0 ? 'and updates waited in tickql, where a newer state of a market replaced the older one (the conflated count): the windows got past the kernel\'s buffers' : 'and no update was conflated in the last window: the kernel still took what tickql wrote, so the windows did not get past its buffers and do not show tickql\'s own bound'}. ` +
            `Conflated: ${perSecond(last.conflatedPerSecond)} updates/s in the last window; outbound waits (writes held over WS_MAX_BUFFERED_BYTES): ${perSecond(last.outboundWaitsPerSecond)}/s.`
        : 'The kernel\'s queues could not be read (/proc/net/tcp): how far the windows got past the kernel\'s buffers is not known.',
    );
    const worst = ws.reduce((w, x) => (x.live.all.p99 > w.live.all.p99 ? x : w), ws[0]!);
    findings.push(
      `The live subscribers meanwhile: p50 ${ms(last.live.all.p50)} / p99 ${ms(last.live.all.p99)} ms in the last window against ${ms(a.all.p50)} / ${ms(a.all.p99)} ms in run A (${ratio(last.live.all.p50 / a.all.p50)} / ${ratio(last.live.all.p99 / a.all.p99)}); the worst window's p99 was ${ms(worst.live.all.p99)} ms (window ${ws.indexOf(worst) + 1}). ` +
        `tickql used ${cores(last.live.cpu.server)} cores in the last window against ${cores(a.cpu.server)} in run A${(last.live.cpu.server ?? 0) >= 0.95 ? ' (its one JavaScript thread saturated)' : ''}: memory is bounded, but every published update is still pushed into each stuck subscriber's queue, where it replaces the market's older state (${perSecond(last.conflatedPerSecond)} conflated updates/s), and that work is what delays the live subscribers.`,
    );
  }
  const all4008 = closing.codes.codes['4008'] ?? 0;
  findings.push(
    `Closing stuck clients (run C, WS_STUCK_CLIENT_MS=${sizes.shortStuckMs}): tickql closed ${closing.closed.toLocaleString('en')} of ${closing.status.paused.toLocaleString('en')} stuck subscribers` +
      (closing.lastCloseMs === null
        ? ', not all of them within the wait'
        : `, the first ${((closing.firstCloseMs ?? NaN) / 1000).toFixed(1)} s after the first one stopped reading and the last ${(closing.lastCloseMs / 1000).toFixed(1)} s after the last one did (expected within about 1.75 × the limit: a ping up to half the limit after the last pong, the limit, a check every quarter; times polled every 200 ms)`) +
      `; ${closing.clientsLeft} connections were left (the ${liveCount} live ones). Once they read again, the stuck clients saw: ${codeText}. ` +
      (all4008 === closing.status.paused
        ? 'Every one read close code 4008 after the data the kernel held.'
        : 'A client whose close frame could not be handed to the kernel within the close grace (its buffers full) is terminated: it reads what the kernel held and then the connection ends without a close frame (1006).') +
      ` The live subscribers' p50 / p99 meanwhile: ${ms(closing.live.all.p50)} / ${ms(closing.live.all.p99)} ms (${ratio(closing.live.all.p50 / a.all.p50)} / ${ratio(closing.live.all.p99 / a.all.p99)} run A's), ${closing.live.failed} of them failed.`,
  );

  return {
    title: '6. Stuck subscribers',
    method: [
      `The real push path, as in scenarios 3 and 4: a local exchange speaking Binance's protocol (its own process) sends ${sizes.rate.toLocaleString('en')} \`24hrTicker\` frames/s over ${sizes.markets.toLocaleString('en')} markets into one tickql process (\`buildApp\`, \`FEEDS=binance\`, defaults otherwise), which serves graphql-ws. ` +
        `${liveCount} live subscribers in one client process (${sizes.liveWatchlists} watching ${sizes.perWatchlist} markets by \`ids\`, ${sizes.liveExchangeWide} the whole exchange) have their delivery latency measured as in scenario 3.`,
      `**Run A**: the live subscribers alone, one ${context.durationS} s window (the baseline). **Run B**, same tickql process, \`WS_STUCK_CLIENT_MS=${HELD_STUCK_MS}\` so nobody is closed: ${sizes.stuck.toLocaleString('en')} more subscribers of the whole exchange (\`exchanges: ["binance"]\`, every update, ${perSecond(sizes.rate)} messages/s offered each) in ${sizes.stuckProcesses} client process(es), each of which stops reading its socket (\`ws.pause()\`) when its first update arrives; then ${sizes.windows} consecutive ${context.durationS} s windows. ` +
        `After each window: tickql's RSS (/proc) and V8 heap after a full collection, its counters from \`/metrics\` (\`tickql_subscription_messages_conflated_total\`, \`tickql_websocket_outbound_waits_total\`), and what the kernel holds per stuck connection (tickql's send queue plus the client's receive queue, /proc/net/tcp) and for all TCP sockets (/proc/net/sockstat), which tells whether the window got past the kernel's buffers. ` +
        `**Run C**: a second tickql process with \`WS_STUCK_CLIENT_MS=${sizes.shortStuckMs}\`, the live subscribers, then ${sizes.stuck.toLocaleString('en')} stuck subscribers again; one ${sizes.closeWindowS} s window of live latency while \`/metrics\` is polled every 200 ms for the clients closed as stuck; then the stuck clients read again and report the close code they find.`,
      `The simulator, tickql, Redis and the client processes share the machine's 2 cores (1-minute load average ${load.toFixed(1)} when this scenario started).`,
    ].join('\n\n'),
    tables: [latency, memoryTable, closes],
    charts: [],
    findings,
  };
}
