/**
 * The real push path, assembled for the subscription scenarios (tick to subscriber, fan-out):
 *
 *   paced Binance simulator (child) --ws--> tickql's ingest process
 *     --Lua upsert + PUBLISH--> Redis --pub/sub--> tickql's serving processes (graphql-ws)
 *     --> subscriber children
 *
 * tickql runs as `npm start` runs it (`startRig`: the bundle dist/main.js, a supervisor, one
 * ingest process and WORKERS serving processes sharing PORT; call `buildBundle()` once first).
 * Besides it, as baseline, the raw relay (child) serving the same channels over plain ws, and
 * a monitor that counts what Redis publishes per market (and how old each message is when it
 * arrives), so delivered messages can be compared with what was offered.
 *
 * `startAppRig` runs the older in-process shape instead (bench/servers/tickql-app.ts: `buildApp`
 * in one process that ingests and serves, with a stats endpoint for its heap and sharing
 * counters); only the stuck-subscribers scenario still uses it.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createKeys } from '../../src/redis/keys';
import { startIpcChild, type IpcChild } from './ipc-child';
import { wallClockMs } from './clock';
import { coreShare, cpuSeconds, machineBusySeconds, runDelaySeconds } from './cpu';
import { LatencyHistogram, type LatencySummary } from './histogram';
import { liftedLimitsEnv } from './lifted-limits';
import { postGraphql } from './graphql-post';
import { waitServed } from './live-service';
import { ROOT, rssBytes, startChild, type Child } from './processes';
import { expectTree, freePort, processKinds, serviceEnv, startService, type ProcessKinds, type ServiceProcess } from './service';
import { split, watchersPerMarket, type PlannedSubscriber } from './subscriber-plan';
import type { ScenarioContext } from './context';

/** The bench's variable naming where bench/lib/cpu-profile-preload.cjs writes profiles. */
export const PROFILE_DIR_ENV = 'BENCH_CPU_PROFILE_DIR';
const PRELOAD = join(ROOT, 'bench', 'lib', 'cpu-profile-preload.cjs');

/** What every rig offers a delivery measurement, whichever shape tickql runs in. */
export interface Rig {
  /** tickql's GraphQL endpoint over HTTP and over WebSocket. */
  readonly url: string;
  readonly wsUrl: string;
  /** tickql's REDIS_PREFIX. */
  readonly prefix: string;
  /** Market ids as tickql names them (`binance:BTC/USDT`). */
  readonly marketIds: readonly string[];
  readonly redisPid: number;
  readonly simPid: number;
  /** tickql's pids by role, now (the in-process app counts as one serving process). */
  roles(): Promise<ProcessKinds>;
  stop(): Promise<unknown>;
}

export interface RigOptions {
  /** Markets the simulator lists and tickql subscribes (at most 1024, one Binance connection). */
  readonly markets: number;
  /** Exchange frames per second. */
  readonly rate: number;
  /** Serving processes (tickql's WORKERS). */
  readonly workers: number;
  /** Redis key prefix, unique per rig. */
  readonly prefix: string;
  /** Where the tree's stdout and stderr go (`<dir>/<prefix>.stdout.log`). */
  readonly logDir: string;
  /** Load bench/lib/cpu-profile-preload.cjs into every process of the tree, writing profiles here. */
  readonly profileDir?: string;
  readonly servedTimeoutMs?: number;
}

export interface TreeRig extends Rig {
  readonly service: ServiceProcess;
  readonly workers: number;
  readonly profileDir: string | null;
}

/**
 * The simulator and tickql's process tree in its default configuration, pointed at it: only
 * REDIS_URL, REDIS_PREFIX, PORT, FEEDS=binance, BINANCE_WS_URL, BINANCE_REST_URL (no
 * BINANCE_SYMBOLS: the simulator lists exactly its markets) and WORKERS, plus the lifted limits
 * (all the subscribers come from one address). Resolves once every market is served.
 */
export async function startRig(context: ScenarioContext, options: RigOptions): Promise<TreeRig> {
  const sim = await startChild<{ wsUrl: string; restUrl: string; symbols: string[] }>('bench/servers/paced-binance-sim.ts', {
    SIM_MARKETS: String(options.markets),
    SIM_RATE: String(options.rate),
  });
  let service: ServiceProcess | null = null;
  try {
    const port = await freePort();
    const env: Record<string, string> = {
      REDIS_URL: context.redisUrl,
      REDIS_PREFIX: options.prefix,
      PORT: String(port),
      FEEDS: 'binance',
      BINANCE_WS_URL: sim.info.wsUrl,
      BINANCE_REST_URL: sim.info.restUrl,
      WORKERS: String(options.workers),
      ...liftedLimitsEnv(),
    };
    if (options.profileDir) {
      env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`.trim();
      env[PROFILE_DIR_ENV] = options.profileDir;
    }
    // A process group of its own: stopping it needs no watcher scanning /proc every 200 ms (a
    // good part of a core on a busy machine, in the bench process, during the windows).
    service = startService(serviceEnv(env), join(options.logDir, options.prefix), { bundle: true, processGroup: true });
    const url = `http://127.0.0.1:${port}/graphql`;
    await waitServed(url, service, options.markets, options.servedTimeoutMs ?? 60_000);
    const running = service;
    await expectTree(running, options.workers);
    const { redisPid, marketIds } = await redisFacts(context.redisUrl, options.prefix);
    return {
      url,
      wsUrl: url.replace(/^http/, 'ws'),
      prefix: options.prefix,
      marketIds,
      redisPid,
      simPid: sim.process.pid!,
      service: running,
      workers: options.workers,
      profileDir: options.profileDir ?? null,
      roles: () => processKinds(running),
      stop: async () => {
        const killed = await running.stop();
        if (killed.length > 0) context.log(`tickql (${options.prefix}) did not stop within its grace period; killed ${killed.join(', ')}`);
        return { killed, sim: await sim.stop() };
      },
    };
  } catch (err) {
    await service?.stop();
    await sim.stop();
    throw err;
  }
}

/** A directory for one scenario's tickql logs. */
export function rigLogDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `tickql-${name}-`));
}

export interface AppRigOptions {
  /** Markets the simulator lists and tickql subscribes (at most 1024, one Binance connection). */
  readonly markets: number;
  /** Exchange frames per second. */
  readonly rate: number;
  /** INGEST_BATCH_MS of the tickql process. */
  readonly batchMs: number;
  /** Redis key prefix, unique per rig. */
  readonly prefix: string;
  /** Extra environment of the tickql process (SHARE_PAYLOADS: bench/servers/tickql-app.ts). */
  readonly env?: Record<string, string>;
}

export interface AppInfo {
  readonly url: string;
  readonly wsUrl: string;
  readonly statsUrl: string;
}

export interface AppRig extends Rig {
  readonly app: Child<AppInfo>;
}

/** The Redis server's pid (for its CPU) and the market ids tickql wrote under `prefix`, as tickql names them. */
async function redisFacts(redisUrl: string, prefix: string): Promise<{ readonly redisPid: number; readonly marketIds: string[] }> {
  const redis = new Redis(redisUrl);
  try {
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    return { redisPid, marketIds: await redis.zrange(createKeys(prefix).ids, 0, -1) };
  } finally {
    redis.disconnect();
  }
}

/** The simulator and tickql in one process (bench/servers/tickql-app.ts), as before the process split. */
export async function startAppRig(context: ScenarioContext, options: AppRigOptions): Promise<AppRig> {
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
  const { redisPid, marketIds } = await redisFacts(context.redisUrl, options.prefix);
  return {
    app,
    url: app.info.url,
    wsUrl: app.info.wsUrl,
    prefix: options.prefix,
    marketIds,
    redisPid,
    simPid: sim.process.pid!,
    roles: async () => ({ supervisor: [], ingest: [], serve: [app.process.pid!] }),
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
    const keys = createKeys(prefix);
    await redis.psubscribe(keys.tickPattern(null, null));
    return new PublishMonitor(redis, keys.tickChannel(''));
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

  /** Records a fresh window of `ms` and returns it. */
  async measure(ms: number): Promise<PublishWindow> {
    this.reset();
    const started = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    return {
      seconds: (performance.now() - started) / 1000,
      published: Object.fromEntries(this.counts),
      fromSent: this.latency.encode(),
      fromReceipt: this.fromReceipt.encode(),
    };
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** One window of a `PublishMonitor`. */
export interface PublishWindow {
  readonly seconds: number;
  /** Messages per market id in the window. */
  readonly published: Record<string, number>;
  /** Frame sent by the exchange (`updatedAt`) -> message here, encoded histogram. */
  readonly fromSent: string;
  /** Frame received by tickql (`receivedAt`) -> message here, encoded histogram. */
  readonly fromReceipt: string;
}

/** What a delivery measurement needs of a publish monitor, in this process or its own. */
export interface PublishWindows {
  measure(ms: number): Promise<PublishWindow>;
}

/**
 * A `PublishMonitor` in a process of its own (bench/clients/publish-monitor.ts), so nothing on
 * the scenario's event loop (its /proc readings, its HTTP requests) delays the moment it reads
 * a message. `watch` points it at a rig's prefix.
 */
export class MonitorProcess implements PublishWindows {
  private constructor(readonly child: IpcChild) {}

  static async start(): Promise<MonitorProcess> {
    return new MonitorProcess(await startIpcChild('bench/clients/publish-monitor.ts', {}));
  }

  async watch(redisUrl: string, prefix: string): Promise<void> {
    await this.child.request('start', { redisUrl, prefix });
  }

  measure(ms: number): Promise<PublishWindow> {
    return this.child.request<PublishWindow>('measure', { ms });
  }

  async unwatch(): Promise<void> {
    await this.child.request('close');
  }

  stop(): Promise<void> {
    return this.child.stop();
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
  /**
   * Cores kept busy during the window, per process group: `server` (the processes serving the
   * subscribers: tickql's serving processes, or the relay), `ingest` and `supervisor` (tickql's
   * tree), `tickql` (every tickql process), `redis`, `simulator`, `subscribers`, `monitor`
   * (the publish monitor's process, when it has one), `bench` (this process), `machine` (every
   * core's busy time, all processes of the machine) and `other` (`machine` minus all of the
   * above: whatever else ran).
   */
  readonly cpu: Readonly<Record<string, number>>;
  /**
   * Per process group as in `cpu`: seconds per second of the window the groups' main threads
   * were ready to run but waiting for a core (/proc/<pid>/schedstat; summed over the group's
   * processes, so a group of two can reach 2).
   */
  readonly waiting: Readonly<Record<string, number>>;
  /** Cores of each serving process (or the relay), in pid order. */
  readonly serverCpuEach: readonly number[];
  /** Resident memory of the serving processes (or the relay) after connecting, together. */
  readonly serverRss: number;
  readonly serverRssEach: readonly number[];
  /** CPU profiles written over the window (`profileDir`), by process kind. */
  readonly profiles: ReadonlyArray<{ readonly kind: string; readonly pid: number; readonly path: string }>;
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

/** The in-process tickql's counters (bench/servers/tickql-app.ts); with `collect`, its heap after a full garbage collection. */
export async function appStats(rig: AppRig, collect = false): Promise<AppStats> {
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
  readonly monitor: PublishWindows;
  /** The publish monitor's own process, when it has one, for its CPU. */
  readonly monitorPid?: number;
  readonly protocol: 'graphql-ws' | 'raw';
  readonly url: string;
  /** The relay's pid when the relay serves the subscribers; tickql's serving processes otherwise. */
  readonly relayPid?: number;
  /** Every subscriber connected so far plus `add`, for the offered-message count. */
  readonly connected: readonly PlannedSubscriber[];
  /** Subscribers to connect now, before measuring. */
  readonly add: readonly PlannedSubscriber[];
  readonly measureMs: number;
  /** Pause after connecting, before measuring. */
  readonly settleMs?: number;
  /** Profile tickql's ingest and serving processes over the settling pause and the window (a rig started with this `profileDir`). */
  readonly profileDir?: string;
}

/** Frames per second tickql's feeds received, as its `feeds` query reports them. */
async function feedRate(graphqlUrl: string): Promise<number> {
  const { body } = await postGraphql(graphqlUrl, '{ feeds { messagesPerSecond } }');
  const data = body?.data as { feeds?: Array<{ messagesPerSecond: number }> } | undefined;
  return (data?.feeds ?? []).reduce((sum, f) => sum + f.messagesPerSecond, 0);
}

async function waitForFile(path: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`no CPU profile at ${path} after 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `read` of each group's processes together, so far (a process gone meanwhile counts 0). */
async function perGroup(groups: Readonly<Record<string, readonly number[]>>, read: (pid: number) => Promise<number | null>): Promise<Record<string, number>> {
  const entries = await Promise.all(
    Object.entries(groups).map(async ([name, pids]) => [name, (await Promise.all(pids.map(read))).reduce<number>((a, s) => a + (s ?? 0), 0)] as const),
  );
  return Object.fromEntries(entries);
}

const cpuTimes = (groups: Readonly<Record<string, readonly number[]>>) => perGroup(groups, cpuSeconds);
const runDelays = (groups: Readonly<Record<string, readonly number[]>>) => perGroup(groups, runDelaySeconds);

function isAppRig(rig: Rig): rig is AppRig {
  return 'app' in rig;
}

/** Connects `add`, lets it settle, then measures one window over everything connected. */
export async function measureDelivery(options: DeliveryRunOptions): Promise<DeliveryResult> {
  const { fleet, monitor, rig } = options;
  const connect = await fleet.connect(options.protocol, options.url, options.add);
  const roles = await rig.roles();
  // Started before the settling pause: starting the profiler stalls the process for a moment
  // (the inspector's `dispatch` in the profile), which should not land in the window.
  const profiled = options.profileDir ? [...roles.ingest.map((pid) => ({ kind: 'ingest', pid })), ...roles.serve.map((pid) => ({ kind: 'serve', pid }))] : [];
  for (const { pid } of profiled) process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, options.settleMs ?? 1000));
  const servers = options.relayPid === undefined ? [...roles.serve].sort((a, b) => a - b) : [options.relayPid];
  const appServes = options.relayPid === undefined && isAppRig(rig);
  const statsBefore = appServes ? await appStats(rig, true) : null;
  const serverRssEach = await Promise.all(servers.map((p) => rssBytes(p)));

  const groups: Record<string, readonly number[]> = {
    server: servers,
    ingest: roles.ingest,
    supervisor: roles.supervisor,
    tickql: [...roles.supervisor, ...roles.ingest, ...roles.serve],
    redis: [rig.redisPid],
    simulator: [rig.simPid],
    subscribers: fleet.children.map((c) => c.pid),
    bench: [process.pid],
    ...(options.monitorPid === undefined ? {} : { monitor: [options.monitorPid] }),
  };
  servers.forEach((p, i) => (groups[`server ${i}`] = [p]));
  const loadAverage = loadavg()[0]!;
  const [cpuBefore, waitBefore, machineBefore] = await Promise.all([cpuTimes(groups), runDelays(groups), machineBusySeconds()]);
  const started = wallClockMs();
  const [replies, window] = await Promise.all([fleet.measure(options.measureMs), monitor.measure(options.measureMs)]);
  const seconds = (wallClockMs() - started) / 1000;
  for (const { pid } of profiled) process.kill(pid, 'SIGUSR2');
  const [cpuAfter, waitAfter, machineAfter] = await Promise.all([cpuTimes(groups), runDelays(groups), machineBusySeconds()]);
  const published = new Map(Object.entries(window.published));
  const ingestHistogram = new LatencyHistogram();
  ingestHistogram.addEncoded(window.fromSent);
  const ingest = ingestHistogram.summary();
  const framesPerSecond = await feedRate(rig.url);
  const statsAfter = appServes ? await appStats(rig) : null;
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
  const profiles = profiled.map(({ kind, pid }) => ({ kind, pid, path: join(options.profileDir!, `${kind}-${pid}.cpuprofile`) }));
  for (const p of profiles) await waitForFile(p.path);

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
  for (const name of Object.keys(groups)) {
    if (!name.startsWith('server ')) cpuOut[name] = coreShare(cpuBefore[name] ?? null, cpuAfter[name] ?? null, seconds) ?? NaN;
  }
  cpuOut.machine = coreShare(machineBefore, machineAfter, seconds) ?? NaN;
  const known = ['tickql', 'redis', 'simulator', 'subscribers', 'monitor', 'bench', ...(options.relayPid === undefined ? [] : ['server'])];
  cpuOut.other = cpuOut.machine - known.reduce((sum, name) => sum + (cpuOut[name] ?? 0), 0);
  const waiting: Record<string, number> = {};
  for (const name of Object.keys(groups)) waiting[name] = coreShare(waitBefore[name] ?? null, waitAfter[name] ?? null, seconds) ?? NaN;
  const serverCpuEach = servers.map((_, i) => coreShare(cpuBefore[`server ${i}`] ?? null, cpuAfter[`server ${i}`] ?? null, seconds) ?? NaN);
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
    waiting,
    serverCpuEach,
    serverRss: serverRssEach.reduce((a, b) => a + b, 0),
    serverRssEach,
    profiles,
    loadAverage,
    serverHeapUsed: statsBefore?.memory.heapUsed ?? null,
    sharing,
  };
}
