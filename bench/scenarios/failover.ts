/**
 * Scenario: failover. How long a feed goes without writes when the instance ingesting it dies
 * without a goodbye, and whether anything is lost or written out of turn meanwhile.
 *
 * Setup, as a user runs it: a private redis-server, a local exchange speaking Binance's protocol
 * in a child process of its own (bench/servers/local-exchange.ts: a Binance-sized listing, every
 * market ticking at a steady total rate, a snapshot of a market's ticker on subscribe as
 * Binance's ticker stream gives within a second), and three tickql instances started like
 * `npm start` (the esbuild bundle, bench/lib/service.ts) in their default configuration but
 * for what points them at that exchange and that Redis (FEEDS=binance, BINANCE_WS_URL,
 * BINANCE_REST_URL, REDIS_URL) and a PORT each. One holds the feed's lease and ingests it; the
 * other two stand by (src/feed-leases.ts).
 *
 * Each round, at a random moment of the holder's one-second renewal cycle: find the holder
 * (the lease key `{tickql}:lease:binance` holds `<token>:<instance>`; the instance whose log
 * says it began that tenure is the holder), SIGKILL its whole process group at once
 * (supervisor, ingest process and serving workers, as the crash of its machine would end them;
 * the instances are spawned as process-group leaders), then time from the kill:
 * - the lease taken by a survivor: the lease key polled every 10 ms; its PTTL when first seen
 *   with a new value dates the acquisition to the millisecond (it was set with the full
 *   3,000 ms lifetime and no renewal comes for a second);
 * - the first market state written by the new holder, and the moment it has written every
 *   market: see the detector below;
 * - as a breakdown, the lease's time left at the kill (PTTL read just before it: when it
 *   expires), so kill -> acquired splits into waiting for the expiry and the standby's next
 *   attempt, and acquired -> first write is the new tenure starting its feed (listing,
 *   connections, subscriptions, the exchange's snapshots, the write).
 * Then start a replacement, so there are always three, and wait until its log says it stands
 * by before the next round.
 *
 * The detector. Every applied market write is one upsert script call that also PUBLISHes the
 * market's JSON on its channel (lua/upsertMarkets-n.lua), so a plain Redis subscriber on
 * `tickql:tick:*` sees each write as soon as Redis makes it visible. Each state carries
 * `receivedAt`, the ingest process's clock when the frame arrived (the same clock as this
 * process's `Date.now()`, one machine). A killed holder receives nothing after its kill; the
 * new holder receives nothing before it took the lease, seconds later. So a write seen after
 * the kill with `receivedAt` after the kill is the new holder's, and one with `receivedAt` at or
 * before it is the dead holder's (sent before it died; the marker below tells whether Redis ran
 * it after the kill); the standbys and the replacement write no market of the feed. Nothing here leans on timing
 * being tight: the two kinds are seconds apart, and a write whose `receivedAt` falls between
 * the kill and the new lease (explained by neither) fails the scenario. The subscriber's clock
 * reads a write when this process gets to it, an upper bound; the first write's `receivedAt` is
 * reported too, a lower bound (the frame behind it arrived then).
 *
 * A dead holder's writes after the kill: as soon as kill() returns, this process PUBLISHes a
 * marker on a channel the same subscriber listens to. Redis delivers one connection's messages
 * in the order it ran the commands, so a dead holder's write that reaches the subscriber after
 * the marker ran in Redis after the kill (a command the holder had sent before it died, waiting
 * in Redis's input); one before the marker ran around the kill, before or after it.
 *
 * Checks that fail the scenario: a dead holder's write seen after the new holder took the
 * lease (its writes are fenced by the lease: lua/upsertMarkets-n.lua); a write explained by
 * neither holder; a takeover, first write or full rewrite not within its time-out; and at the
 * end, every update the exchange sent must be served: the ticking stops, and each market's
 * state in Redis must be the exchange's last frame for it (price, bid, ask, volumes equal, and
 * `updatedAt` at or after that frame's event time: a later snapshot on subscribe carries the
 * same state with a later time). The exchange's last frame per market is read off the wire by a
 * client of the bench subscribed to every market (`LastFrames`); the exchange ticks random
 * subscribed markets, so that client also keeps it ticking through a takeover while no tickql
 * is connected, as a real exchange's markets keep moving. `feeds { ingestedBy status }` on every
 * instance must name the lease's holder, LIVE.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { LEASE_TTL_MS, RENEW_MS } from '../../src/feed-leases';
import { createPrng } from '../../src/ingest/sim/prng';
import { leaseOwner, leaseToken } from '../../src/redis/acquire-lease';
import { createKeys } from '../../src/redis/keys';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import { decodeMarket } from '../../src/redis/market-codec';
import type { Market } from '../../src/market';
import type { ScenarioContext } from '../lib/context';
import { cpuSeconds, machineBusySeconds } from '../lib/cpu';
import { startIpcChild, type IpcChild } from '../lib/ipc-child';
import type { ScenarioReport, Table } from '../lib/report';
import { alive, buildBundle, descendants, serviceEnv, startService, type ServiceProcess } from '../lib/service';
import type { LocalExchangeInfo } from '../servers/local-exchange';

interface Sizes {
  /** Markets the exchange lists, all trading; tickql subscribes them all (the default: no BINANCE_SYMBOLS). */
  readonly markets: number;
  /** Ticker frames per second over all markets. */
  readonly rate: number;
  readonly rounds: number;
  /** Pause after a replacement stands by (its start-up CPU dies down), before the random phase. */
  readonly settleMs: number;
  /** Longest wait for an instance to listen and stand by. */
  readonly startTimeoutMs: number;
  /** Longest wait, from the kill, for the new lease, the first write and the full rewrite. */
  readonly takeoverTimeoutMs: number;
  /** WORKERS of each instance; null: the default (one serving process per core). */
  readonly workers: number | null;
}

/** Binance's spot listing (docs/exchanges/README.md, as the universe scenario), each market about once a second, as its ticker stream pushes. */
const FULL: Sizes = { markets: 1450, rate: 1450, rounds: 20, settleMs: 2000, startTimeoutMs: 60_000, takeoverTimeoutMs: 30_000, workers: null };
/** One serving process per instance: fewer processes to start, so the smoke run stays short. */
const SMOKE: Sizes = { markets: 40, rate: 100, rounds: 2, settleMs: 200, startTimeoutMs: 30_000, takeoverTimeoutMs: 20_000, workers: 1 };

const INSTANCES = 3;
const FEED = 'binance';
/** tickql's default key prefix (REDIS_PREFIX unset). */
const PREFIX = 'tickql';
/** The issue's target: a survivor writes the feed again within this long of the holder's death. */
const TARGET_TAKEOVER_MS = 5000;
const LEASE_POLL_MS = 10;
/** Not a tickql channel: the subscriber's marker of the moment of a kill. */
const KILL_MARKER_CHANNEL = 'bench:failover:kill';
const WAIT_POLL_MS = 5;
/** How often the instances' logs are read while waiting on them. */
const LOG_POLL_MS = 50;
/** The end check starts once neither the exchange nor Redis has sent anything for this long. */
const QUIET_MS = 500;
const QUIET_TIMEOUT_MS = 10_000;
/** Streams one Binance connection may carry. */
const STREAMS_PER_CONNECTION = 1024;
/** Seed of the kill phases. */
const SEED = 11;

interface Instance {
  /** Start order, 1-based: the instance's name in the report (#n). */
  readonly n: number;
  readonly port: number;
  readonly service: ServiceProcess;
}

interface RoundResult {
  readonly round: number;
  /** Instance numbers. */
  readonly killed: number;
  readonly successor: number;
  readonly oldToken: number | null;
  readonly newToken: number | null;
  /** Milliseconds, from the kill. */
  readonly leaseLeft: number;
  readonly acquired: number;
  readonly firstWrite: number;
  /** The frame behind the first write received by the new holder (ms resolution): a lower bound of `firstWrite`. */
  readonly firstFrame: number;
  readonly everyMarket: number;
  /** Every process of the killed instance gone (not running; zombies count as gone). */
  readonly gone: number;
  /** Writes of the dead holder's tenure seen after the kill: run in Redis after it (after the marker), around it (before the marker); the last one's time. */
  readonly deadAfter: number;
  readonly deadAround: number;
  readonly lastDeadWrite: number | null;
}

interface EndCheck {
  readonly markets: number;
  readonly matched: number;
  readonly mismatches: readonly string[];
  readonly feeds: string;
}

interface MachineLoad {
  readonly seconds: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  /** Cores busy on average over the scenario, the machine's and this scenario's processes'. */
  readonly machineCores: number | null;
  readonly ourCores: number;
  readonly tickqlCores: number;
  readonly redisCores: number | null;
  readonly exchangeCores: number | null;
  /** This process: the scenario, its Redis subscriber and its client of the exchange. */
  readonly benchCores: number;
  /** The busiest processes outside this scenario that ran through it. */
  readonly others: string;
}

export async function failover(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const startedAt = performance.now();
  const loadBefore = loadavg();
  const machineBefore = await machineBusySeconds();
  const cpuBefore = process.cpuUsage();
  const othersBefore = await processCpu();
  context.log('failover: npm run build (the bundle npm start runs)');
  buildBundle();
  const logDir = mkdtempSync(join(tmpdir(), 'tickql-failover-'));
  const keys = createKeys(PREFIX);
  const leaseKey = keys.lease(FEED);
  const random = createPrng(SEED);

  let redis: LocalRedis | null = null;
  let exchange: IpcChild | null = null;
  let admin: Redis | null = null;
  let watch: WriteWatch | null = null;
  let frames: LastFrames | null = null;
  const instances: Instance[] = [];
  /** CPU seconds of every instance's tree: read before its kill, or before the final stop. */
  let tickqlCpu = 0;
  let started = 0;
  const results: RoundResult[] = [];
  const violations: string[] = [];

  const startInstance = async (info: LocalExchangeInfo): Promise<Instance> => {
    const port = await listenPort();
    const n = ++started;
    const env = serviceEnv({
      REDIS_URL: redis!.url,
      PORT: String(port),
      FEEDS: FEED,
      BINANCE_WS_URL: info.wsUrl,
      BINANCE_REST_URL: info.restUrl,
      ...(sizes.workers === null ? {} : { WORKERS: String(sizes.workers) }),
    });
    const instance = { n, port, service: startService(env, join(logDir, `instance-${n}`), { bundle: true, processGroup: true }) };
    instances.push(instance);
    return instance;
  };

  try {
    redis = await startLocalRedis();
    admin = new Redis(redis.url);
    const redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    exchange = await startIpcChild('bench/servers/local-exchange.ts', { EXCHANGE: FEED, LISTING_SIZE: String(sizes.markets) });
    const info = await exchange.request<LocalExchangeInfo>('info');
    const marketCount = info.listing.length;
    frames = await LastFrames.open(info.wsUrl, info.listing.map((m) => m.symbol));
    await exchange.request('tick', { updatesPerSecond: sizes.rate });
    watch = await WriteWatch.start(redis.url, keys.tickPattern(null, null));

    context.log(`failover: ${INSTANCES} instances, ${marketCount} markets at ${sizes.rate} frames/s, ${sizes.rounds} rounds`);
    const first = await Promise.all(Array.from({ length: INSTANCES }, () => startInstance(info)));
    await Promise.all(first.map((instance) => waitUp(instance, sizes.startTimeoutMs)));
    context.log(`failover: ${INSTANCES} instances up ${((performance.now() - startedAt) / 1000).toFixed(1)} s after the scenario began`);
    await until(async () => (await admin!.zcard(keys.ids)) === marketCount, sizes.takeoverTimeoutMs + sizes.startTimeoutMs, 'every market in Redis', LOG_POLL_MS);

    for (let round = 1; round <= sizes.rounds; round++) {
      await sleep(sizes.settleMs + random() * RENEW_MS);
      const lease = await admin.get(leaseKey);
      if (lease === null) throw new Error(`failover: round ${round}: nobody holds the lease of ${FEED}`);
      const holder = await instanceOfLease(instances, lease);
      const pids = await holder.service.tree();
      tickqlCpu += await sum(pids.map((p) => cpuSeconds(p)));

      // The lease's value and time left, then the kill, with nothing in between but the clock.
      const [[, current], [, pttl]] = (await admin.multi().get(leaseKey).pttl(leaseKey).exec()) as [[null, string | null], [null, number]];
      if (current !== lease) throw new Error(`failover: round ${round}: the lease changed hands before the kill (${lease} -> ${current})`);
      const leaseReadAt = performance.now();
      const tenure = watch.arm();
      tenure.killAt = performance.now();
      holder.service.killGroup('SIGKILL');
      tenure.killWall = Date.now();
      void admin.publish(KILL_MARKER_CHANNEL, String(round));
      const killAt = tenure.killAt;

      const [acquired, gone] = await Promise.all([waitNewLease(admin, leaseKey, lease, killAt + sizes.takeoverTimeoutMs), waitGone(pids, killAt + sizes.takeoverTimeoutMs)]);
      await until(() => tenure.firstAt !== null, killAt + sizes.takeoverTimeoutMs - performance.now(), `round ${round}: the new holder's first write`);
      await until(() => tenure.everyMarketAt(marketCount) !== null, killAt + sizes.takeoverTimeoutMs - performance.now(), `round ${round}: a write of every market by the new holder`);
      const successor = await instanceOfLease(instances, acquired.lease);
      instances.splice(instances.indexOf(holder), 1);
      await holder.service.stop();

      if (tenure.minNewReceivedAt < acquired.wall - 1) {
        violations.push(`round ${round}: a write with receivedAt ${tenure.minNewReceivedAt}, after the kill (${tenure.killWall}) but before the new lease (${Math.round(acquired.wall)}): neither holder's`);
      }
      const result: RoundResult = {
        round,
        killed: holder.n,
        successor: successor.n,
        oldToken: leaseToken(lease),
        newToken: leaseToken(acquired.lease),
        leaseLeft: leaseReadAt + pttl - killAt,
        acquired: acquired.at - killAt,
        firstWrite: tenure.firstAt! - killAt,
        firstFrame: tenure.firstReceivedAt! - tenure.killWall,
        everyMarket: tenure.everyMarketAt(marketCount)! - killAt,
        gone: gone - killAt,
        deadAfter: 0,
        deadAround: 0,
        lastDeadWrite: null,
      };
      context.log(
        `failover: round ${round}: killed #${holder.n} (token ${result.oldToken}, ${ms0(result.leaseLeft)} ms of lease left); #${successor.n} took it after ${ms0(result.acquired)} ms, wrote after ${ms0(result.firstWrite)} ms, every market after ${ms0(result.everyMarket)} ms`,
      );

      // A replacement, so there are always three; the dead holder's late writes are counted
      // until it stands by.
      await waitUp(await startInstance(info), sizes.startTimeoutMs);
      watch.disarm();
      if (tenure.lastDeadAt !== null && tenure.lastDeadAt > acquired.at) {
        violations.push(`round ${round}: a write of the killed holder's tenure ${ms0(tenure.lastDeadAt - killAt)} ms after the kill, after the new lease (${ms0(acquired.at - killAt)} ms)`);
      }
      if (!tenure.markerSeen) violations.push(`round ${round}: the kill marker never reached the subscriber`);
      results.push({ ...result, deadAfter: tenure.deadAfter, deadAround: tenure.deadAround, lastDeadWrite: tenure.lastDeadAt === null ? null : tenure.lastDeadAt - killAt });
    }

    // Every update the exchange sent is served: stop it, let the last frames land, compare.
    await exchange.request('tick', { updatesPerSecond: 0 });
    await until(() => performance.now() - Math.max(frames!.lastAt, watch!.lastAt) >= QUIET_MS, QUIET_TIMEOUT_MS, 'the exchange and Redis to fall quiet');
    const end = await checkEnd(admin, keys.market, frames, instances, leaseKey);
    if (end.mismatches.length > 0 || end.matched !== marketCount) {
      violations.push(`the state after the run differs from the exchange's last frames in ${marketCount - end.matched} of ${marketCount} markets: ${end.mismatches.slice(0, 5).join('; ')}`);
    }
    if (!end.feeds.startsWith('every instance')) violations.push(end.feeds);

    for (const instance of instances) tickqlCpu += (await instance.service.cpuSeconds()) ?? 0;
    const seconds = (performance.now() - startedAt) / 1000;
    const [machineAfter, othersAfter, redisCpu, exchangeCpu] = await Promise.all([machineBusySeconds(), processCpu(), cpuSeconds(redisPid), cpuSeconds(exchange.pid)]);
    const usage = process.cpuUsage(cpuBefore);
    const bench = (usage.user + usage.system) / 1e6;
    const ours = tickqlCpu + (redisCpu ?? 0) + (exchangeCpu ?? 0) + bench;
    const machine: MachineLoad = {
      seconds,
      loadBefore,
      loadAfter: loadavg(),
      machineCores: machineBefore === null || machineAfter === null ? null : (machineAfter - machineBefore) / seconds,
      ourCores: ours / seconds,
      tickqlCores: tickqlCpu / seconds,
      redisCores: redisCpu === null ? null : redisCpu / seconds,
      exchangeCores: exchangeCpu === null ? null : exchangeCpu / seconds,
      benchCores: bench / seconds,
      others: await busiestOthers(othersBefore, othersAfter, seconds),
    };
    if (violations.length > 0) throw new Error(`failover: ${violations.join(' | ')} (logs in ${logDir})`);
    if (context.smoke && process.env.BENCH_KEEP_LOGS !== '1') rmSync(logDir, { recursive: true, force: true });
    return report(sizes, marketCount, results, end, machine, context.smoke ? null : logDir);
  } finally {
    watch?.close();
    frames?.close();
    await Promise.all(instances.map((instance) => instance.service.stop()));
    await exchange?.stop();
    admin?.disconnect();
    await redis?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Instances, read through their logs (pino JSON lines on stdout)

interface LogLine {
  readonly msg?: string;
  readonly lease?: string;
}

async function logLines(instance: Instance, containing: string): Promise<LogLine[]> {
  const text = await readFile(instance.service.stdoutPath, 'utf8').catch(() => '');
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(containing)) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** Waits until the instance's serving processes listen and its ingest process holds the feed or stands by for it. */
async function waitUp(instance: Instance, timeoutMs: number): Promise<void> {
  await until(
    async () => {
      const exited = instance.service.exited();
      if (exited !== null) throw new Error(`failover: instance #${instance.n} exited (${exited}) while starting; see ${instance.service.stderrPath}`);
      const [listening, feed] = await Promise.all([logLines(instance, 'tickql listening'), logLines(instance, `feed ${FEED}`)]);
      return listening.length > 0 && feed.some((l) => l.msg?.startsWith(`standing by for feed ${FEED}`) || l.msg?.startsWith(`ingesting feed ${FEED}`));
    },
    timeoutMs,
    `instance #${instance.n} to listen and stand by`,
    LOG_POLL_MS,
  );
}

/** The instance whose ingest process began the tenure `lease` names (it logs the lease value). */
async function instanceOfLease(instances: readonly Instance[], lease: string): Promise<Instance> {
  let found: Instance | undefined;
  await until(
    async () => {
      for (const instance of instances) {
        const lines = await logLines(instance, lease);
        if (lines.some((l) => l.lease === lease && l.msg?.startsWith(`ingesting feed ${FEED}`))) found = instance;
      }
      return found !== undefined;
    },
    5000,
    `the instance holding lease ${lease} (process ${leaseOwner(lease)})`,
    LOG_POLL_MS,
  );
  return found!;
}

// ---------------------------------------------------------------------------------------------
// Detectors

/** One round's writes after the kill, sorted by holder (see the header). */
class Tenure {
  /** performance.now() and Date.now() at the kill; set by the caller right around it. */
  killAt = Infinity;
  killWall = Infinity;
  firstAt: number | null = null;
  firstReceivedAt: number | null = null;
  /** Smallest receivedAt among the new holder's writes. */
  minNewReceivedAt = Infinity;
  /** The marker published right after the kill has arrived: what follows ran in Redis after the kill. */
  markerSeen = false;
  deadAfter = 0;
  deadAround = 0;
  lastDeadAt: number | null = null;
  private readonly written = new Set<string>();
  private everyAt: number | null = null;
  private everyCount = 0;

  record(channel: string, receivedAt: number, at: number): void {
    if (at < this.killAt) return;
    if (receivedAt > this.killWall) {
      if (this.firstAt === null) {
        this.firstAt = at;
        this.firstReceivedAt = receivedAt;
      }
      this.minNewReceivedAt = Math.min(this.minNewReceivedAt, receivedAt);
      this.written.add(channel);
      if (this.written.size > this.everyCount) {
        this.everyCount = this.written.size;
        this.everyAt = at;
      }
    } else {
      if (this.markerSeen) this.deadAfter++;
      else this.deadAround++;
      this.lastDeadAt = at;
    }
  }

  /** When the new holder had written `count` distinct markets, or null before. */
  everyMarketAt(count: number): number | null {
    return this.everyCount >= count ? this.everyAt : null;
  }
}

/** A plain Redis subscriber on every market channel: each message is one applied write. */
class WriteWatch {
  /** performance.now() of the last message. */
  lastAt = 0;
  private tenure: Tenure | null = null;

  private constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string) => {
      if (channel === KILL_MARKER_CHANNEL && this.tenure !== null) this.tenure.markerSeen = true;
    });
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      const at = performance.now();
      this.lastAt = at;
      if (this.tenure === null) return;
      // Read without parsing the whole market: the JSON has one "receivedAt" (src/market.ts).
      const receivedAt = Number(/"receivedAt":(\d+)/.exec(message)?.[1]);
      this.tenure.record(channel, receivedAt, at);
    });
  }

  static async start(url: string, pattern: string): Promise<WriteWatch> {
    const subscriber = new Redis(url);
    await subscriber.psubscribe(pattern);
    await subscriber.subscribe(KILL_MARKER_CHANNEL);
    return new WriteWatch(subscriber);
  }

  arm(): Tenure {
    this.tenure = new Tenure();
    return this.tenure;
  }

  disarm(): void {
    this.tenure = null;
  }

  close(): void {
    this.subscriber.disconnect();
  }
}

/**
 * The last ticker frame the exchange sent for each market, read off the wire by a client of the
 * bench subscribed to every market's `@ticker` stream (one connection per 1,024 streams, one
 * SUBSCRIBE each, within Binance's limits). The exchange sends each update to every subscriber
 * of its market, so what this client saw last is what the exchange sent last.
 */
class LastFrames {
  /** performance.now() of the last frame. */
  lastAt = 0;
  /** Native symbol -> the last frame's `data`, as sent. */
  private readonly last = new Map<string, string>();

  private constructor(private readonly sockets: readonly WebSocket[]) {}

  static async open(wsUrl: string, symbols: readonly string[]): Promise<LastFrames> {
    const sockets: WebSocket[] = [];
    const frames = new LastFrames(sockets);
    for (let i = 0; i < symbols.length; i += STREAMS_PER_CONNECTION) {
      const streams = symbols.slice(i, i + STREAMS_PER_CONNECTION).map((s) => `${s.toLowerCase()}@ticker`);
      const ws = new WebSocket(wsUrl);
      sockets.push(ws);
      ws.on('message', (data: Buffer) => frames.receive(data.toString()));
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => {
          ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: streams, id: 1 }));
          resolve();
        });
      });
    }
    await until(() => frames.last.size === symbols.length, 10_000, 'a frame of every market at the exchange');
    return frames;
  }

  private receive(text: string): void {
    // {"stream":"btcusdt@ticker","data":{...,"s":"BTCUSDT",...}}
    if (!text.startsWith('{"stream":')) return; // a SUBSCRIBE ack
    this.lastAt = performance.now();
    const data = text.slice(text.indexOf('"data":') + 7, -1);
    const symbol = /"s":"([^"]+)"/.exec(data)?.[1];
    if (symbol !== undefined) this.last.set(symbol, data);
  }

  /** Native symbol -> the last frame's data. */
  entries(): IterableIterator<[string, string]> {
    return this.last.entries();
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
  }
}

/** Polls the lease until it holds another value; dates the acquisition by its time to live. */
async function waitNewLease(admin: Redis, key: string, old: string, deadline: number): Promise<{ lease: string; at: number; wall: number }> {
  for (;;) {
    const [[, value], [, pttl]] = (await admin.multi().get(key).pttl(key).exec()) as [[null, string | null], [null, number]];
    const at = performance.now();
    const wall = Date.now();
    if (value !== null && value !== old) {
      // Set with the full lifetime; the holder renews only a second later.
      const age = LEASE_TTL_MS - pttl;
      return age >= 0 && age < RENEW_MS / 2 ? { lease: value, at: at - age, wall: wall - age } : { lease: value, at, wall };
    }
    if (at > deadline) throw new Error(`failover: no survivor took the lease of ${FEED} (still ${value ?? 'none'})`);
    await sleep(LEASE_POLL_MS);
  }
}

/** When every one of `pids` had stopped running (performance.now()). */
async function waitGone(pids: readonly number[], deadline: number): Promise<number> {
  while (pids.some(alive)) {
    if (performance.now() > deadline) throw new Error(`failover: processes ${pids.filter(alive).join(', ')} outlived the kill of their group`);
    await sleep(1);
  }
  return performance.now();
}

// ---------------------------------------------------------------------------------------------
// After the rounds

/** Redis against the exchange's last frames, and `feeds` on every instance against the lease. */
async function checkEnd(admin: Redis, marketKey: string, frames: LastFrames, instances: readonly Instance[], leaseKey: string): Promise<EndCheck> {
  const stored = new Map<string, Market>();
  for (const text of Object.values(await admin.hgetall(marketKey))) {
    const market = decodeMarket(text);
    if (market.exchange === FEED) stored.set(market.nativeSymbol, market);
  }
  let markets = 0;
  let matched = 0;
  const mismatches: string[] = [];
  for (const [symbol, data] of frames.entries()) {
    markets++;
    const frame = JSON.parse(data) as Record<string, unknown>;
    const market = stored.get(symbol);
    const wrong: string[] = [];
    if (market === undefined) wrong.push('not in Redis');
    else {
      const expect = (field: keyof Market, wire: string, zeroIsNull = false) => {
        const sent = Number(frame[wire]);
        const want = zeroIsNull && sent === 0 ? null : sent;
        if (market[field] !== want) wrong.push(`${field} ${String(market[field])}, sent ${String(frame[wire])}`);
      };
      expect('price', 'c');
      expect('bid', 'b', true);
      expect('ask', 'a', true);
      expect('volume24h', 'v');
      expect('quoteVolume24h', 'q');
      if (market.updatedAt < Number(frame.E)) wrong.push(`updatedAt ${market.updatedAt} before the last frame's ${String(frame.E)}`);
    }
    if (wrong.length === 0) matched++;
    else mismatches.push(`${symbol}: ${wrong.join(', ')}`);
  }

  const holder = leaseOwner(await admin.get(leaseKey));
  const answers = await Promise.all(
    instances.map(async (instance) => {
      const response = await fetch(`http://127.0.0.1:${instance.port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ feeds { exchange status ingestedBy } }' }),
      });
      const body = (await response.json()) as { data?: { feeds: Array<{ exchange: string; status: string; ingestedBy: string | null }> } };
      const feed = body.data?.feeds.find((f) => f.exchange === FEED);
      return { instance, feed };
    }),
  );
  const wrong = answers.filter((a) => a.feed?.ingestedBy !== holder || a.feed?.status !== 'LIVE');
  const feeds =
    wrong.length === 0
      ? `every instance (${answers.map((a) => `#${a.instance.n}`).join(', ')}) answers \`feeds\` with ${FEED} LIVE, ingestedBy the lease's holder`
      : `feeds disagrees with the lease (held by ${holder}) on ${wrong.map((a) => `#${a.instance.n}: ${JSON.stringify(a.feed)}`).join('; ')}`;
  return { markets, matched, mismatches, feeds };
}

/** CPU seconds of every process on the machine, by pid, with its name. */
async function processCpu(): Promise<Map<number, { readonly name: string; readonly cpu: number }>> {
  const out = new Map<number, { name: string; cpu: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const [stat, cpu] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null), cpuSeconds(pid)]);
    if (stat === null || cpu === null) continue;
    out.set(pid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpu });
  }
  return out;
}

/** The processes outside this one's tree that used the most CPU between the two readings. */
async function busiestOthers(before: Map<number, { name: string; cpu: number }>, after: Map<number, { name: string; cpu: number }>, seconds: number): Promise<string> {
  const ours = new Set(await descendants(process.pid));
  const busy = [...after]
    .filter(([pid]) => !ours.has(pid) && before.has(pid))
    .map(([pid, p]) => ({ pid, name: p.name, cores: (p.cpu - before.get(pid)!.cpu) / seconds }))
    .filter((p) => p.cores >= 0.01)
    .sort((a, b) => b.cores - a.cores)
    .slice(0, 5);
  return busy.length === 0 ? 'none over 0.01 of a core' : busy.map((p) => `${p.name} (pid ${p.pid}) ${p.cores.toFixed(2)}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Report

/** Nearest-rank percentile of `values` (p in 0..100). */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function report(sizes: Sizes, markets: number, results: readonly RoundResult[], end: EndCheck, machine: MachineLoad, logDir: string | null): ScenarioReport {
  const row = (label: string, values: readonly number[]): Array<string | number> => [label, values.length, ms0(percentile(values, 50)), ms0(percentile(values, 90)), ms0(Math.max(...values)), ms0(Math.min(...values))];
  const summary: Table = {
    caption: `Failover over ${results.length} kills (ms from the SIGKILL of the holder's process group; nearest-rank percentiles)`,
    columns: ['from the kill to', 'kills', 'p50', 'p90', 'max', 'min'],
    rows: [
      row('**the first market state written by the new holder**', results.map((r) => r.firstWrite)),
      row('the frame behind that write received by the new holder (lower bound)', results.map((r) => r.firstFrame)),
      row('the lease acquired by a survivor', results.map((r) => r.acquired)),
      row(`every market (${markets.toLocaleString('en')}) written by the new holder`, results.map((r) => r.everyMarket)),
      row('the lease expiring (its time left at the kill)', results.map((r) => r.leaseLeft)),
      row('breakdown: lease expired → acquired (the standby\'s next try)', results.map((r) => r.acquired - r.leaseLeft)),
      row('breakdown: lease acquired → first write (the new tenure\'s feed starting)', results.map((r) => r.firstWrite - r.acquired)),
      row('every process of the killed instance gone', results.map((r) => r.gone)),
    ],
  };
  const rounds: Table = {
    caption: 'Each kill (ms from the kill; instances numbered in start order, tokens are the lease\'s fencing tokens)',
    columns: ['kill', 'killed', 'new holder', 'token', 'lease left', 'acquired', 'first write', 'every market', 'dead holder\'s writes seen after the kill: run after it / around it (last seen at)'],
    rows: results.map((r) => [
      r.round,
      `#${r.killed}`,
      `#${r.successor}`,
      `${r.oldToken} → ${r.newToken}`,
      ms0(r.leaseLeft),
      ms0(r.acquired),
      ms0(r.firstWrite),
      ms0(r.everyMarket),
      r.lastDeadWrite === null ? '0' : `${r.deadAfter} / ${r.deadAround} (${r.lastDeadWrite.toFixed(1)})`,
    ]),
  };
  const firstWrites = results.map((r) => r.firstWrite);
  const worst = Math.max(...firstWrites);
  const deadAfter = results.reduce((n, r) => n + r.deadAfter, 0);
  const deadAround = results.reduce((n, r) => n + r.deadAround, 0);
  const lastDead = Math.max(0, ...results.map((r) => r.lastDeadWrite ?? 0));
  const findings = [
    `Target "a survivor takes the feed over within ${TARGET_TAKEOVER_MS / 1000} s": **${worst <= TARGET_TAKEOVER_MS ? 'met' : 'missed'}** in ${firstWrites.filter((t) => t <= TARGET_TAKEOVER_MS).length} of ${results.length} kills: kill → first write by the new holder p50 ${ms0(percentile(firstWrites, 50))}, p90 ${ms0(percentile(firstWrites, 90))}, max ${ms0(worst)} ms.`,
    `Where the time goes: the lease outlives its holder by what was left of its ${LEASE_TTL_MS.toLocaleString('en')} ms lifetime (renewed every ${RENEW_MS.toLocaleString('en')} ms, so ${(LEASE_TTL_MS - RENEW_MS).toLocaleString('en')} to ${LEASE_TTL_MS.toLocaleString('en')} ms; here p50 ${ms0(percentile(results.map((r) => r.leaseLeft), 50))}), a standby's next try comes within 500 ms of the expiry (p50 ${ms0(percentile(results.map((r) => r.acquired - r.leaseLeft), 50))}), and the new holder's feed then reads the listing, connects, subscribes and writes the exchange's snapshots (p50 ${ms0(percentile(results.map((r) => r.firstWrite - r.acquired), 50))} to the first write).`,
    `Writes of a killed holder after its kill: ${
      deadAfter + deadAround === 0
        ? 'none reached the subscriber after any kill'
        : `${deadAfter === 0 ? 'none ran in Redis after the kill (none reached the subscriber after the bench\'s marker)' : `${deadAfter} ran in Redis after the kill (after the bench's marker), in ${results.filter((r) => r.deadAfter > 0).length} of ${results.length} kills: commands the holder had sent before it died, still in Redis's input`}; ${deadAround} reached the subscriber after the kill but ran before the marker, around the kill (in ${results.filter((r) => r.deadAround > 0).length} kills), the last seen ${lastDead.toFixed(1)} ms after its kill`
    }. None after the new holder took the lease (the lease fences them), and no write explained by neither holder.`,
    `Every update the exchange sent is served: after the last round the ticking stopped, and all ${end.matched.toLocaleString('en')} of ${end.markets.toLocaleString('en')} markets in Redis equal the exchange's last frame (price, bid, ask, volumes; \`updatedAt\` at or after its event time). ${end.feeds[0]!.toUpperCase()}${end.feeds.slice(1)}.`,
    `Machine: ${cpus().length} cores; over the scenario's ${machine.seconds.toFixed(0)} s the machine was ${machine.machineCores === null ? '?' : machine.machineCores.toFixed(2)} cores busy on average, ${machine.ourCores.toFixed(2)} of them this scenario's processes (tickql instances ${machine.tickqlCores.toFixed(2)}, Redis ${cores(machine.redisCores)}, the exchange ${cores(machine.exchangeCores)}, the bench process with its subscriber and exchange client ${machine.benchCores.toFixed(2)}) and ${machine.machineCores === null ? '?' : Math.max(0, machine.machineCores - machine.ourCores).toFixed(2)} everything else; the busiest other processes that ran through it: ${machine.others}. 1-minute load average ${machine.loadBefore[0]!.toFixed(2)} before and ${machine.loadAfter[0]!.toFixed(2)} after.${logDir === null ? '' : ` Logs of every instance: ${logDir}.`}`,
  ];
  return {
    title: 'Failover',
    method: [
      `Three tickql instances as \`npm start\` runs them (built once with \`npm run build\`, then \`node --enable-source-maps dist/main.js\`: a supervisor, one ingest process and ${sizes.workers === null ? `\`WORKERS\` serving processes, one per core (${cpus().length})` : `${sizes.workers} serving process${sizes.workers === 1 ? '' : 'es'} (\`WORKERS=${sizes.workers}\`)`}), each a process group of its own, sharing one private redis-server, in the default configuration but for \`FEEDS=binance\`, \`BINANCE_WS_URL\`, \`BINANCE_REST_URL\`, \`REDIS_URL\` and a \`PORT\` each (the per-address limits are not lifted: no client connects). ` +
        `One holds the feed's lease and ingests it; the others stand by. The exchange is a local one speaking Binance's protocol in a process of its own (\`bench/servers/local-exchange.ts\`): ${markets.toLocaleString('en')} markets listed, all subscribed (the default is the whole listing), ${sizes.rate.toLocaleString('en')} ticker frames/s at a steady rate, a market's current ticker on subscribe.`,
      `${sizes.rounds} rounds. Each, at a random moment of the holder's renewal cycle: the holder is found from the lease key (\`{tickql}:lease:binance\`, \`<token>:<instance>\`) and the instance whose log began that tenure, its whole process group is sent SIGKILL (supervisor, ingest and serving processes at once, as a machine's crash), and a replacement is started once a survivor has taken over, so there are always three; the next kill waits until the replacement stands by and ${(sizes.settleMs / 1000).toFixed(1)} s more. ` +
        `Detectors: the lease key polled every ${LEASE_POLL_MS} ms (the acquisition dated by its PTTL, to the millisecond); a plain Redis subscriber on \`tickql:tick:*\`, which sees every write (the upsert script publishes each applied state in the same call), a write counting as the new holder's when the frame behind it arrived (its \`receivedAt\`) after the kill, and as the dead holder's otherwise: the two are seconds apart, and a write between the kill and the new lease would fail the scenario. The subscriber's receive time is an upper bound of a write's, the \`receivedAt\` of the frame behind it a lower bound. A marker the bench publishes as soon as kill() returns, read by the same subscriber in Redis's order, tells a dead holder's writes Redis ran after the kill from those around it. ` +
        `After the last round the exchange stops ticking, and every market's state in Redis is compared with the last frame the exchange sent for it, read off the wire by a client subscribed to every market (it also keeps the exchange ticking while no tickql is connected, as a real exchange's markets keep moving).`,
    ].join('\n\n'),
    tables: [summary, rounds],
    charts: [],
    findings,
  };
}

/**
 * A port to give an instance: free now, and below the kernel's ephemeral range. A port from
 * that range (what listening on port 0 hands out) may meanwhile become the local end of some
 * outgoing connection on the machine, and then the instance's serving processes fail to bind
 * it with EADDRINUSE and keep being restarted until it is released (seen on a busy machine).
 */
async function listenPort(): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const low = 20_000;
  const high = Math.max(low + 1000, ephemeralLow ?? 32_768);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    const server = createServer();
    server.listen(port, '0.0.0.0');
    const ok = await Promise.race([once(server, 'listening').then(() => true), once(server, 'error').then(() => false)]);
    if (ok) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
  throw new Error('failover: found no free port below the ephemeral range');
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs = WAIT_POLL_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`failover: timed out after ${Math.round(timeoutMs)} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

async function sum(values: ReadonlyArray<Promise<number | null>>): Promise<number> {
  return (await Promise.all(values)).reduce<number>((a, v) => a + (v ?? 0), 0);
}

const sleep = (msToWait: number) => new Promise((r) => setTimeout(r, msToWait));
const cores = (value: number | null) => (value === null ? '?' : value.toFixed(2));
const ms0 = (value: number) => Math.round(value).toLocaleString('en');
