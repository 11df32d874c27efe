/**
 * The real push path, assembled for the subscription scenarios (tick to subscriber, fan-out):
 *
 *   paced Binance simulator (child) --ws--> tickql (child: buildApp, FEEDS=binance)
 *     --Lua upsert + PUBLISH--> Redis --pub/sub--> tickql graphql-ws --> subscriber children
 *
 * plus, as baseline, the raw relay (child) serving the same channels over plain ws, and a
 * monitor in this process that counts what Redis publishes per market (and how old each
 * message is when it arrives), so delivered messages can be compared with what was offered.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { startIpcChild, type IpcChild } from './ipc-child';
import { wallClockMs } from './clock';
import { coreShare, cpuSeconds } from './cpu';
import { LatencyHistogram, type LatencySummary } from './histogram';
import { rssBytes, startChild, type Child } from './processes';
import { split, watchersPerMarket, type PlannedSubscriber } from './subscriber-plan';
import type { ScenarioContext } from './context';

export interface RigOptions {
  /** Markets the simulator lists and tickql subscribes (at most 1024, one Binance connection). */
  readonly markets: number;
  /** Exchange frames per second. */
  readonly rate: number;
  /** INGEST_BATCH_MS of the tickql process. */
  readonly batchMs: number;
  /** Redis key prefix, unique per rig. */
  readonly prefix: string;
  /** Extra environment of the tickql process (SHARE_PAYLOADS, CPU_PROFILE: bench/servers/tickql-app.ts). */
  readonly env?: Record<string, string>;
}

export interface AppInfo {
  readonly url: string;
  readonly wsUrl: string;
  readonly statsUrl: string;
}

export interface Rig {
  readonly app: Child<AppInfo>;
  /** Market ids as tickql names them (`binance:BTC/USDT`). */
  readonly marketIds: readonly string[];
  readonly redisPid: number;
  readonly simPid: number;
  stop(): Promise<{ readonly app: unknown; readonly sim: unknown }>;
}

export async function startRig(context: ScenarioContext, options: RigOptions): Promise<Rig> {
  const sim = await startChild<{ wsUrl: string; restUrl: string; symbols: string[] }>('bench/servers/paced-binance-sim.ts', {
    SIM_MARKETS: String(options.markets),
    SIM_RATE: String(options.rate),
  });
  let app: Child<AppInfo>;
  try {
    app = await startChild(
      'bench/servers/tickql-app.ts',
      {
        REDIS_URL: context.redisUrl,
        REDIS_PREFIX: options.prefix,
        FEEDS: 'binance',
        BINANCE_WS_URL: sim.info.wsUrl,
        BINANCE_REST_URL: sim.info.restUrl,
        BINANCE_SYMBOLS: sim.info.symbols.join(','),
        INGEST_BATCH_MS: String(options.batchMs),
        WAIT_MARKETS: String(options.markets), // every market has moved once and is in Redis
        NODE_OPTIONS: '--expose-gc', // for heap figures after a collection (tickql-app's stats)
        ...options.env,
      },
      60_000,
    );
  } catch (err) {
    await sim.stop();
    throw err;
  }
  const redis = new Redis(context.redisUrl);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const marketIds = await redis.zrange(`{${options.prefix}}:ids`, 0, -1);
  redis.disconnect();
  return {
    app,
    marketIds,
    redisPid,
    simPid: sim.process.pid!,
    stop: async () => ({ app: await app.stop(), sim: await sim.stop() }),
  };
}

/**
 * Counts what Redis publishes on every market channel while it runs, and how long after the
 * exchange frame left each message reached a plain Redis subscriber (the ingest part of the
 * path: socket, parse, batch window, Lua, PUBLISH).
 */
export class PublishMonitor {
  private readonly counts = new Map<string, number>();
  readonly latency = new LatencyHistogram();
  /**
   * From tickql's receive time of the frame (the market's `receivedAt`, `Date.now()` in the
   * ingest process: whole milliseconds, so each sample reads 0-1 ms high) to the same arrival.
   */
  readonly fromReceipt = new LatencyHistogram();
  /** `performance.now()` of the last message (or of the start): how long the channels have been quiet. */
  lastMessageAt = performance.now();
  private constructor(
    private readonly redis: Redis,
    private readonly channelPrefix: string,
  ) {
    redis.on('pmessage', (_pattern: string, channel: string, message: string) => {
      const id = channel.slice(this.channelPrefix.length);
      this.lastMessageAt = performance.now();
      this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
      const now = wallClockMs();
      const updatedAt = /"updatedAt":([0-9.e+]+)/.exec(message)?.[1];
      if (updatedAt) this.latency.record(now - Number(updatedAt));
      const receivedAt = /"receivedAt":([0-9.e+]+)/.exec(message)?.[1];
      if (receivedAt) this.fromReceipt.record(now - Number(receivedAt));
    });
  }

  static async start(redisUrl: string, prefix: string): Promise<PublishMonitor> {
    const redis = new Redis(redisUrl);
    await redis.psubscribe(`${prefix}:tick:*`);
    return new PublishMonitor(redis, `${prefix}:tick:`);
  }

  /** Starts a new window. */
  reset(): void {
    this.counts.clear();
    this.latency.reset();
    this.fromReceipt.reset();
  }

  /** Messages per market id in the current window. */
  published(): ReadonlyMap<string, number> {
    return this.counts;
  }

  close(): void {
    this.redis.disconnect();
  }
}

export interface KindResult {
  readonly kind: string;
  readonly subscribers: number;
  readonly latency: LatencySummary;
  readonly messagesPerSecond: number;
}

export interface DeliveryResult {
  /** Of the subscribers just added, those that received a first message while connecting. */
  readonly receiving: number;
  /** Subscribers (of all connected) whose socket or subscription failed or closed. */
  readonly failed: number;
  readonly errors: readonly string[];
  readonly connectSeconds: number;
  readonly kinds: readonly KindResult[];
  readonly all: LatencySummary;
  readonly deliveredPerSecond: number;
  /** Messages per second the subscribers would get if every published update reached every watcher. */
  readonly offeredPerSecond: number;
  /** Published updates per second (all markets), after ingest coalesced updates of one market within a batch. */
  readonly publishedPerSecond: number;
  /** Exchange frames per second tickql received (its feed's 10 s average at the end of the window). */
  readonly framesPerSecond: number;
  /** Frame to plain Redis subscriber, same window. */
  readonly ingest: LatencySummary;
  /** Cores kept busy during the window, per process group. */
  readonly cpu: Readonly<Record<string, number>>;
  /** Resident memory of the server process after connecting. */
  readonly serverRss: number;
  /** The machine's 1-minute load average as the window started (everything else running counts). */
  readonly loadAverage: number;
  /** tickql's V8 heap in use after connecting, after a full collection (null when the relay serves). */
  readonly serverHeapUsed: number | null;
  /** tickql's shared-subscription counters over the window (null when the relay serves). */
  readonly sharing: SharingCounts | null;
}

export interface SharingCounts {
  /** Payloads executed and serialized (once per update and selection). */
  readonly computed: number;
  /** Payloads reused from another subscriber's computation. */
  readonly reused: number;
  /** Messages written by shared subscriptions, and the socket writes they took. */
  readonly messages: number;
  readonly writes: number;
}

export interface AppStats {
  readonly subscriptions: {
    readonly sharedPayloads: { readonly computed: number; readonly shared: number };
    readonly sharedDelivery: { readonly messages: number; readonly writes: number };
  } | null;
  readonly memory: { readonly heapUsed: number };
}

/** tickql's counters; with `collect`, its heap after a full garbage collection. */
export async function appStats(rig: Rig, collect = false): Promise<AppStats> {
  return (await (await fetch(`${rig.app.info.statsUrl}${collect ? '?gc' : ''}`)).json()) as AppStats;
}

/** Subscriber child processes, each holding a share of the subscribers. */
export class SubscriberFleet {
  private constructor(readonly children: readonly IpcChild[]) {}

  static async start(processes: number): Promise<SubscriberFleet> {
    return new SubscriberFleet(await Promise.all(Array.from({ length: processes }, () => startIpcChild('bench/clients/subscribers.ts', {}))));
  }

  /** Connects `subscribers` (spread round-robin over the processes) to `url`. */
  async connect(protocol: 'graphql-ws' | 'raw' | 'graphql-ws-stuck', url: string, subscribers: readonly PlannedSubscriber[]) {
    const parts = split(subscribers, this.children.length);
    const replies = await Promise.all(
      this.children.map((c, i) =>
        c.request<{ receiving: number; failed: number; errors: string[]; seconds: number }>('connect', { protocol, url, subscribers: parts[i], concurrency: 50 }),
      ),
    );
    return {
      receiving: replies.reduce((n, r) => n + r.receiving, 0),
      failed: replies.reduce((n, r) => n + r.failed, 0),
      errors: replies.flatMap((r) => r.errors),
      seconds: Math.max(...replies.map((r) => r.seconds)),
    };
  }

  async measure(ms: number) {
    return Promise.all(
      this.children.map((c) =>
        c.request<{ seconds: number; cpu: number; failed: number; kinds: Record<string, { histogram: string; messages: number }> }>('measure', { ms }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => c.request('close')));
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop()));
  }
}

export interface DeliveryRunOptions {
  readonly rig: Rig;
  readonly fleet: SubscriberFleet;
  readonly monitor: PublishMonitor;
  readonly protocol: 'graphql-ws' | 'raw';
  readonly url: string;
  /** The pid serving the subscribers (tickql or the relay). */
  readonly serverPid: number;
  /** Every subscriber connected so far plus `add`, for the offered-message count. */
  readonly connected: readonly PlannedSubscriber[];
  /** Subscribers to connect now, before measuring. */
  readonly add: readonly PlannedSubscriber[];
  readonly measureMs: number;
  /** Pause after connecting, before measuring. */
  readonly settleMs?: number;
  /** Profile the tickql process over the window into this file (its CPU_PROFILE). */
  readonly profilePath?: string;
}

/** Frames per second tickql's feeds received, as its `feeds` query reports them. */
async function feedRate(graphqlUrl: string): Promise<number> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ feeds { messagesPerSecond } }' }),
  });
  const body = (await response.json()) as { data?: { feeds: Array<{ messagesPerSecond: number }> } };
  return (body.data?.feeds ?? []).reduce((sum, f) => sum + f.messagesPerSecond, 0);
}

async function waitForFile(path: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`no CPU profile at ${path} after 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cpuTimes(pids: Readonly<Record<string, number>>): Promise<Record<string, number | null>> {
  const entries = await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, await cpuSeconds(pid)] as const));
  return Object.fromEntries(entries);
}

/** Connects `add`, lets it settle, then measures one window over everything connected. */
export async function measureDelivery(options: DeliveryRunOptions): Promise<DeliveryResult> {
  const { fleet, monitor, rig } = options;
  const connect = await fleet.connect(options.protocol, options.url, options.add);
  await new Promise((r) => setTimeout(r, options.settleMs ?? 1000));
  const servedByTickql = options.serverPid === rig.app.process.pid;
  const statsBefore = servedByTickql ? await appStats(rig, true) : null;
  const serverRss = await rssBytes(options.serverPid);

  const pids: Record<string, number> = { server: options.serverPid, redis: rig.redisPid, simulator: rig.simPid };
  if (!servedByTickql) pids['tickql (ingest only)'] = rig.app.process.pid!;
  fleet.children.forEach((c, i) => (pids[`subscribers ${i + 1}`] = c.pid));
  const loadAverage = loadavg()[0]!;
  const cpuBefore = await cpuTimes(pids);
  if (options.profilePath) rig.app.process.kill('SIGUSR2');
  monitor.reset();
  const started = wallClockMs();
  const replies = await fleet.measure(options.measureMs);
  const seconds = (wallClockMs() - started) / 1000;
  const published = new Map(monitor.published());
  const ingest = monitor.latency.summary();
  const cpuAfter = await cpuTimes(pids);
  const framesPerSecond = await feedRate(rig.app.info.url);
  const statsAfter = servedByTickql ? await appStats(rig) : null;
  let sharing: SharingCounts | null = null;
  if (statsBefore?.subscriptions && statsAfter?.subscriptions) {
    const [b, a] = [statsBefore.subscriptions, statsAfter.subscriptions];
    sharing = {
      computed: a.sharedPayloads.computed - b.sharedPayloads.computed,
      reused: a.sharedPayloads.shared - b.sharedPayloads.shared,
      messages: a.sharedDelivery.messages - b.sharedDelivery.messages,
      writes: a.sharedDelivery.writes - b.sharedDelivery.writes,
    };
  }
  if (options.profilePath) {
    rig.app.process.kill('SIGUSR2');
    await waitForFile(options.profilePath);
  }

  const byKind = new Map<string, { histogram: LatencyHistogram; messages: number; seconds: number }>();
  const all = new LatencyHistogram();
  for (const reply of replies) {
    for (const [kind, k] of Object.entries(reply.kinds)) {
      let entry = byKind.get(kind);
      if (!entry) byKind.set(kind, (entry = { histogram: new LatencyHistogram(), messages: 0, seconds: reply.seconds }));
      entry.histogram.addEncoded(k.histogram);
      all.addEncoded(k.histogram);
      entry.messages += k.messages;
    }
  }
  const windowS = Math.max(...replies.map((r) => r.seconds));
  const subscribersOf = (kind: string) => options.connected.filter((s) => s.kind === kind).length;
  const watchers = watchersPerMarket(options.connected, rig.marketIds);
  let offered = 0;
  let publishedTotal = 0;
  for (const [id, count] of published) {
    offered += count * (watchers.get(id) ?? 0);
    publishedTotal += count;
  }
  const cpuOut: Record<string, number> = {};
  for (const name of Object.keys(pids)) {
    const group = name.startsWith('subscribers') ? 'subscribers' : name;
    cpuOut[group] = (cpuOut[group] ?? 0) + (coreShare(cpuBefore[name] ?? null, cpuAfter[name] ?? null, seconds) ?? NaN);
  }
  return {
    receiving: connect.receiving,
    failed: replies.reduce((n, r) => n + r.failed, 0),
    errors: connect.errors,
    connectSeconds: connect.seconds,
    kinds: [...byKind].map(([kind, k]) => ({ kind, subscribers: subscribersOf(kind), latency: k.histogram.summary(), messagesPerSecond: k.messages / windowS })),
    all: all.summary(),
    deliveredPerSecond: [...byKind.values()].reduce((n, k) => n + k.messages, 0) / windowS,
    offeredPerSecond: offered / seconds,
    publishedPerSecond: publishedTotal / seconds,
    framesPerSecond,
    ingest,
    cpu: cpuOut,
    serverRss,
    loadAverage,
    serverHeapUsed: statsBefore?.memory.heapUsed ?? null,
    sharing,
  };
}
