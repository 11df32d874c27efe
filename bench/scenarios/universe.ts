/**
 * Scenario 7, universe: tickql the way a user runs it on the whole market. The real service
 * process (`tsx src/main.ts`, what `npm start` runs) in its default configuration (no
 * `<EXCHANGE>_SYMBOLS`: every feed reads its exchange's whole listing) against five local
 * exchanges the size of the real five together, each in a child process of its own, ticking at
 * a realistic total rate. Measured: the time until every listed market is served, the
 * connections opened, Redis memory per market, tickql's CPU at steady state; and, in the same
 * run, the same process configured with the built-in pair lists, what tickql covered before.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BYBIT_MAX_ARGS_PER_REQUEST, BYBIT_MAX_MESSAGES_PER_SECOND } from '../../src/ingest/exchanges/bybit';
import { WINDOW_MARGIN } from '../../src/ingest/rate-window';
import { createAdapter } from '../../src/ingest/registry';
import { createKeys } from '../../src/redis/keys';
import type { LocalExchangeId } from '../lib/exchange-listing';
import type { ScenarioContext } from '../lib/context';
import { coreShare, cpuSeconds, machineBusySeconds } from '../lib/cpu';
import { startIpcChild, type IpcChild } from '../lib/ipc-child';
import { liftedLimitsEnv } from '../lib/lifted-limits';
import { ratio, type ScenarioReport } from '../lib/report';
import { freePort, serviceEnv, startService, type ServiceProcess } from '../lib/service';
import type { LocalExchangeInfo, LocalExchangeStats } from '../servers/local-exchange';
import { redisCpuSeconds } from './ingest-costs';

const EXCHANGE_IDS: readonly LocalExchangeId[] = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'];

/** docs/exchanges/README.md, "Universe size": spot markets each exchange lists as trading, estimated. */
const UNIVERSE: Readonly<Record<LocalExchangeId, number>> = { binance: 1450, coinbase: 750, kraken: 1100, okx: 700, bybit: 650 };
/** Ticker updates per second over the five together, shared in proportion to listing size (see the method text). */
const UPDATES_PER_S = 5000;
const SMOKE_MARKETS_PER_EXCHANGE = 60;
const SMOKE_UPDATES_PER_S = 200;
/** How long tickql may take to serve every market before the scenario fails. */
const SERVE_TIMEOUT_MS = 180_000;
const SMOKE_SERVE_TIMEOUT_MS = 60_000;
/** After everything is served, before the measured window: JIT, buffers, the first listing-driven work. */
const WARM_UP_MS = 3000;
const SMOKE_WARM_UP_MS = 500;
const POLL_FAST_MS = 100;
const POLL_SLOW_MS = 1000;
/** Page size when paging through every market served (the API's maximum). */
const PAGE = 500;

type RunKind = 'universe' | 'baseline';

interface RunSpec {
  readonly kind: RunKind;
  /** Markets each local exchange lists (the same in both runs). */
  readonly sizes: Readonly<Record<LocalExchangeId, number>>;
  /** Updates per second each local exchange sends (the same in both runs). */
  readonly rates: Readonly<Record<LocalExchangeId, number>>;
}

interface FeedResult {
  readonly exchange: LocalExchangeId;
  readonly listed: number;
  /** Markets tickql should serve: the whole listing, or the built-in pairs. */
  readonly expected: number;
  readonly served: number;
  /** Seconds from spawning tickql; null when it never happened while the run lasted. */
  readonly liveAfterS: number | null;
  readonly allMarketsAfterS: number | null;
  readonly status: string;
  readonly tickqlConnections: number;
  readonly serverConnections: number;
  /** What tickql's caps and first-fit placement give for `expected` symbols. */
  readonly capConnections: number;
  /** Symbols on the fullest of those connections. */
  readonly largestConnection: number;
  readonly offeredPerS: number;
  readonly framesPerS: number;
  readonly messagesPerSecond: number;
  readonly breaches: LocalExchangeStats['breaches'];
}

interface LogSummary {
  readonly lines: number;
  /** `level message` -> count, for warn and above. */
  readonly warnings: ReadonlyMap<string, number>;
  readonly warnCount: number;
  readonly errorCount: number;
  readonly stderrLines: readonly string[];
  /** Markets the leftover sweep removed (src/ingest/live-coverage.ts), and a few of their ids. */
  readonly swept: number;
  readonly sweptExamples: readonly string[];
}

interface RedisMemory {
  readonly used: number;
  readonly dataset: number;
}

interface RunResult {
  readonly spec: RunSpec;
  readonly expected: number;
  readonly total: number;
  readonly answeredAfterS: number;
  readonly servedAfterS: number;
  readonly feeds: readonly FeedResult[];
  /** INFO memory `used_memory` and `used_memory_dataset`, bytes: after FLUSHALL, once served, at the end of the window. */
  readonly memory: { readonly empty: RedisMemory; readonly served: RedisMemory; readonly loaded: RedisMemory };
  /** `MEMORY USAGE` of the search index key at the end of the window, bytes. */
  readonly searchIndexBytes: number;
  readonly seconds: number;
  /** Shares of one core over the window. */
  readonly cpu: { readonly tickql: number | null; readonly servers: number | null; readonly redis: number; readonly bench: number; readonly others: number | null };
  readonly updatesPerS: number;
  readonly writtenPerS: number;
  readonly framesPerS: number;
  readonly offeredPerS: number;
  readonly usPerUpdate: number | null;
  readonly load: { readonly start: number; readonly end: number };
  readonly checks: readonly string[];
  readonly log: LogSummary;
  /** Pids of tickql's tree still alive after its graceful stop, killed with SIGKILL. */
  readonly killed: readonly number[];
}

export async function universe(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes: Record<LocalExchangeId, number> = context.smoke
    ? { binance: SMOKE_MARKETS_PER_EXCHANGE, coinbase: SMOKE_MARKETS_PER_EXCHANGE, kraken: SMOKE_MARKETS_PER_EXCHANGE, okx: SMOKE_MARKETS_PER_EXCHANGE, bybit: SMOKE_MARKETS_PER_EXCHANGE }
    : { ...UNIVERSE };
  const total = sum(EXCHANGE_IDS.map((id) => sizes[id]));
  const totalRate = context.smoke ? SMOKE_UPDATES_PER_S : UPDATES_PER_S;
  const rates = Object.fromEntries(EXCHANGE_IDS.map((id) => [id, (totalRate * sizes[id]) / total])) as Record<LocalExchangeId, number>;
  const loadBefore = loadavg();
  const logDir = mkdtempSync(join(tmpdir(), 'tickql-universe-'));
  context.log(`universe: tickql's logs go to ${logDir}`);
  const universeRun = await measureRun(context, { kind: 'universe', sizes, rates }, logDir);
  const baselineRun = await measureRun(context, { kind: 'baseline', sizes, rates }, logDir);
  const loadAfter = loadavg();
  if (context.smoke && process.env.BENCH_KEEP_LOGS !== '1') rmSync(logDir, { recursive: true, force: true });
  return report(context, universeRun, baselineRun, { before: loadBefore, after: loadAfter, logDir });
}

async function measureRun(context: ScenarioContext, spec: RunSpec, logDir: string): Promise<RunResult> {
  context.log(`universe: ${spec.kind} run`);
  const admin = new Redis(context.redisUrl);
  const servers = new Map<LocalExchangeId, IpcChild>();
  let service: ServiceProcess | null = null;
  let poller: Poller | null = null;
  try {
    await admin.flushall();
    await admin.script('FLUSH');
    const memoryEmpty = usedMemory(await admin.info('memory'));

    // Five exchanges, each in its own process, started together.
    const started = await Promise.allSettled(
      EXCHANGE_IDS.map(async (id) => {
        const child = await startIpcChild('bench/servers/local-exchange.ts', { EXCHANGE: id, LISTING_SIZE: String(spec.sizes[id]) });
        servers.set(id, child);
        return child;
      }),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const infos = new Map<LocalExchangeId, LocalExchangeInfo>();
    for (const id of EXCHANGE_IDS) infos.set(id, await servers.get(id)!.request<LocalExchangeInfo>('info'));
    for (const id of EXCHANGE_IDS) await servers.get(id)!.request('tick', { updatesPerSecond: spec.rates[id] });

    // What tickql should serve, by exchange: (exchange, native symbol) -> market id.
    const expectedByExchange = new Map<LocalExchangeId, ReadonlyMap<string, string>>();
    for (const id of EXCHANGE_IDS) {
      const info = infos.get(id)!;
      const wanted = spec.kind === 'universe' ? info.listing : info.listing.filter((m) => info.builtIn.includes(m.symbol));
      if (spec.kind === 'baseline' && wanted.length !== info.builtIn.length) throw new Error(`${id}: the local listing lacks some built-in pairs`);
      expectedByExchange.set(id, new Map(wanted.map((m) => [m.symbol, `${id}:${m.base}/${m.quote}`])));
    }
    const expected = sum([...expectedByExchange.values()].map((m) => m.size));

    // tickql, as `npm start` runs it, in its default configuration.
    const port = await freePort();
    const env: Record<string, string> = { REDIS_URL: context.redisUrl, PORT: String(port), ...liftedLimitsEnv() };
    for (const id of EXCHANGE_IDS) {
      const prefix = id.toUpperCase();
      env[`${prefix}_WS_URL`] = infos.get(id)!.wsUrl;
      env[`${prefix}_REST_URL`] = infos.get(id)!.restUrl;
      if (spec.kind === 'baseline') env[`${prefix}_SYMBOLS`] = infos.get(id)!.builtIn.join(',');
    }
    service = startService(serviceEnv(env), join(logDir, spec.kind));
    const url = `http://127.0.0.1:${port}`;
    poller = new Poller(url, service, expectedByExchange, expected);
    const served = await poller.served(context.smoke ? SMOKE_SERVE_TIMEOUT_MS : SERVE_TIMEOUT_MS);
    const memoryServed = usedMemory(await admin.info('memory'));
    context.log(`  ${spec.kind}: ${served.total} markets served ${served.afterS.toFixed(1)} s after spawning tickql (answering after ${served.answeredAfterS.toFixed(1)} s)`);

    // Steady state: everything served and ticking.
    poller.slowDown();
    await sleep(context.smoke ? SMOKE_WARM_UP_MS : WARM_UP_MS);
    const loadStart = loadavg()[0]!;
    const before = await snapshot(url, admin, service, servers);
    await sleep(context.durationS * 1000);
    const after = await snapshot(url, admin, service, servers);
    const loadEnd = loadavg()[0]!;
    const memoryLoaded = usedMemory(await admin.info('memory'));
    // tickql's default REDIS_PREFIX (the service's environment has none); SAMPLES 0 counts every member.
    const searchIndexBytes = Number(await admin.call('MEMORY', 'USAGE', createKeys('tickql').searchIndex, 'SAMPLES', '0'));
    const seconds = (after.at - before.at) / 1000;

    const health = await feedsNow(url);
    const checks = await checkAnswers(url, expectedByExchange, expected);
    poller.stop();
    const killed = await service.stop();
    const final = new Map<LocalExchangeId, LocalExchangeStats>();
    for (const id of EXCHANGE_IDS) final.set(id, await servers.get(id)!.request<LocalExchangeStats>('stats'));

    const breaches = EXCHANGE_IDS.flatMap((id) => final.get(id)!.breaches.map((b) => `${id}: ${b.limit}: ${b.detail}`));
    if (breaches.length > 0) throw new Error(`universe (${spec.kind}): tickql breached exchange limits, which must never happen:\n  ${breaches.join('\n  ')}`);

    const tickqlCpu = before.tickqlCpu === null || after.tickqlCpu === null ? null : after.tickqlCpu - before.tickqlCpu;
    const updates = after.metrics.updates - before.metrics.updates;
    const feeds: FeedResult[] = EXCHANGE_IDS.map((id) => {
      const h = health.find((f) => f.exchange === id);
      const wanted = expectedByExchange.get(id)!;
      return {
        exchange: id,
        listed: infos.get(id)!.listing.length,
        expected: wanted.size,
        served: h?.markets ?? 0,
        liveAfterS: poller!.liveAfterS.get(id) ?? null,
        allMarketsAfterS: poller!.allMarketsAfterS.get(id) ?? null,
        status: h?.status ?? 'absent',
        tickqlConnections: h?.connections ?? 0,
        serverConnections: after.servers.get(id)!.connections,
        capConnections: placement(id, [...wanted.keys()]).length,
        largestConnection: Math.max(0, ...placement(id, [...wanted.keys()])),
        offeredPerS: (after.servers.get(id)!.ticks - before.servers.get(id)!.ticks) / seconds,
        framesPerS: ((after.metrics.frames.get(id) ?? 0) - (before.metrics.frames.get(id) ?? 0)) / seconds,
        messagesPerSecond: h?.messagesPerSecond ?? 0,
        breaches: final.get(id)!.breaches,
      };
    });
    const cpu = {
      tickql: tickqlCpu === null ? null : tickqlCpu / seconds,
      servers: coreShare(before.serversCpu, after.serversCpu, seconds),
      redis: (after.redisCpu - before.redisCpu) / seconds,
      bench: (after.benchCpu - before.benchCpu) / 1e6 / seconds,
      machine: coreShare(before.machineBusy, after.machineBusy, seconds),
    };
    const { machine, ...ours } = cpu;
    const others = machine === null || ours.tickql === null || ours.servers === null ? null : Math.max(0, machine - ours.tickql - ours.servers - ours.redis - ours.bench);
    const result: RunResult = {
      spec,
      expected,
      total: served.total,
      answeredAfterS: served.answeredAfterS,
      servedAfterS: served.afterS,
      feeds,
      memory: { empty: memoryEmpty, served: memoryServed, loaded: memoryLoaded },
      searchIndexBytes,
      seconds,
      cpu: { ...ours, others },
      updatesPerS: updates / seconds,
      writtenPerS: (after.metrics.written - before.metrics.written) / seconds,
      framesPerS: sum(feeds.map((f) => f.framesPerS)),
      offeredPerS: sum(feeds.map((f) => f.offeredPerS)),
      usPerUpdate: tickqlCpu === null || updates === 0 ? null : (tickqlCpu * 1e6) / updates,
      load: { start: loadStart, end: loadEnd },
      checks,
      log: summarizeLog(service.stdoutPath, service.stderrPath),
      killed,
    };
    context.log(
      `  ${spec.kind}: ${fmt(result.updatesPerS, 0)} updates/s ingested (${fmt(result.offeredPerS, 0)} offered), tickql ${fmtCore(result.cpu.tickql)} cores, ` +
        `${fmtUs(result.usPerUpdate)} µs/update; connections ${sum(feeds.map((f) => f.tickqlConnections))}; Redis ${mb(memoryLoaded.used - memoryEmpty.used)} MB; ` +
        `log: ${result.log.warnCount} warnings, ${result.log.errorCount} errors`,
    );
    return result;
  } finally {
    poller?.stop();
    if (service !== null) {
      const left = await service.stop();
      if (left.length > 0) context.log(`  tickql's processes ${left.join(', ')} did not stop on SIGTERM and were killed`);
    }
    await Promise.all([...servers.values()].map((child) => child.stop()));
    admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Polling tickql's GraphQL API

interface FeedHealth {
  readonly exchange: string;
  readonly status: string;
  readonly markets: number;
  readonly connections: number;
  readonly messagesPerSecond: number;
}

const POLL_QUERY = '{ markets(page: { limit: 1 }) { total } feeds { exchange status markets connections messagesPerSecond } }';

/**
 * Asks tickql for its total and its feeds from the moment it is spawned (connection refusals
 * until it listens), and notes when it first answered, when each feed first went LIVE and
 * first had all its markets, and when the total first reached the universe.
 */
class Poller {
  readonly liveAfterS = new Map<LocalExchangeId, number>();
  readonly allMarketsAfterS = new Map<LocalExchangeId, number>();
  private answeredAfterS: number | null = null;
  private servedAt: { afterS: number; total: number } | null = null;
  private last: { total: number; feeds: readonly FeedHealth[] } | null = null;
  private lastError = '';
  private intervalMs = POLL_FAST_MS;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly service: ServiceProcess,
    private readonly expectedByExchange: ReadonlyMap<LocalExchangeId, ReadonlyMap<string, string>>,
    private readonly expected: number,
  ) {
    void this.loop();
  }

  /** Resolves once the total equals the expected count (and every feed has all its markets). */
  async served(timeoutMs: number): Promise<{ total: number; afterS: number; answeredAfterS: number }> {
    const deadline = this.service.spawnedAt + timeoutMs;
    while (this.servedAt === null) {
      const exited = this.service.exited();
      if (exited !== null) throw new Error(`tickql exited (${exited}) before serving every market; see ${this.service.stderrPath} and ${this.service.stdoutPath}`);
      if (performance.now() > deadline) {
        throw new Error(
          `tickql did not serve ${this.expected} markets within ${timeoutMs / 1000} s: ${this.last === null ? `no answer (${this.lastError})` : `total ${this.last.total}, feeds ${JSON.stringify(this.last.feeds)}`}`,
        );
      }
      await sleep(20);
    }
    return { ...this.servedAt, answeredAfterS: this.answeredAfterS! };
  }

  slowDown(): void {
    this.intervalMs = POLL_SLOW_MS;
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.service.exited() === null) {
      try {
        const data = await graphql<{ markets: { total: number }; feeds: FeedHealth[] }>(this.url, POLL_QUERY);
        const afterS = (performance.now() - this.service.spawnedAt) / 1000;
        this.answeredAfterS ??= afterS;
        this.last = { total: data.markets.total, feeds: data.feeds };
        let allFeeds = true;
        for (const [id, wanted] of this.expectedByExchange) {
          const feed = data.feeds.find((f) => f.exchange === id);
          if (feed?.status === 'LIVE' && !this.liveAfterS.has(id)) this.liveAfterS.set(id, afterS);
          const complete = feed !== undefined && feed.markets >= wanted.size;
          if (complete && !this.allMarketsAfterS.has(id)) this.allMarketsAfterS.set(id, afterS);
          allFeeds &&= complete;
        }
        if (this.servedAt === null && data.markets.total >= this.expected && allFeeds) this.servedAt = { afterS, total: data.markets.total };
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
      }
      await sleep(this.intervalMs);
    }
  }
}

async function graphql<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (body.errors !== undefined || body.data === undefined) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

async function feedsNow(url: string): Promise<FeedHealth[]> {
  return (await graphql<{ feeds: FeedHealth[] }>(url, '{ feeds { exchange status markets connections messagesPerSecond } }')).feeds;
}

// ---------------------------------------------------------------------------------------------
// Counters at the start and end of the measured window

interface Metrics {
  readonly updates: number;
  readonly written: number;
  readonly frames: ReadonlyMap<string, number>;
}

interface Snapshot {
  /** performance.now() ms. */
  readonly at: number;
  readonly tickqlCpu: number | null;
  readonly serversCpu: number | null;
  readonly redisCpu: number;
  readonly benchCpu: number;
  readonly machineBusy: number | null;
  readonly metrics: Metrics;
  readonly servers: ReadonlyMap<LocalExchangeId, LocalExchangeStats>;
}

async function snapshot(url: string, admin: Redis, service: ServiceProcess, servers: ReadonlyMap<LocalExchangeId, IpcChild>): Promise<Snapshot> {
  const at = performance.now();
  const [tickqlCpu, serverCpus, redisInfo, machineBusy, metrics, stats] = await Promise.all([
    service.cpuSeconds(),
    Promise.all(EXCHANGE_IDS.map((id) => cpuSeconds(servers.get(id)!.pid))),
    admin.info('cpu'),
    machineBusySeconds(),
    readMetrics(url),
    Promise.all(EXCHANGE_IDS.map(async (id) => [id, await servers.get(id)!.request<LocalExchangeStats>('stats')] as const)),
  ]);
  const cpu = process.cpuUsage();
  return {
    at,
    tickqlCpu,
    serversCpu: serverCpus.some((s) => s === null) ? null : sum(serverCpus as number[]),
    redisCpu: redisCpuSeconds(redisInfo),
    benchCpu: cpu.user + cpu.system,
    machineBusy,
    metrics,
    servers: new Map(stats),
  };
}

/** tickql's own counters from GET /metrics (Prometheus text). */
async function readMetrics(url: string): Promise<Metrics> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
  const frames = new Map<string, number>();
  for (const match of text.matchAll(/^tickql_feed_messages_total\{exchange="([a-z]+)"\} ([0-9.e+]+)$/gm)) frames.set(match[1]!, Number(match[2]));
  return { updates: value('tickql_ingest_updates_total'), written: value('tickql_ingest_written_total'), frames };
}

function usedMemory(info: string): RedisMemory {
  const field = (name: string) => {
    const value = new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1];
    if (value === undefined) throw new Error(`INFO memory lacks ${name}`);
    return Number(value);
  };
  return { used: field('used_memory'), dataset: field('used_memory_dataset') };
}

/**
 * The connections tickql's pool opens for these symbols, as the symbols each carries: the
 * adapter's capacity, first fit in listing order (src/ingest/connection-pool.ts).
 */
function placement(id: LocalExchangeId, symbols: readonly string[]): number[] {
  const { perConnection, cost } = createAdapter(id, { exchange: id, wsUrl: 'ws://127.0.0.1:1', restUrl: null }).capacity;
  const used: number[] = [];
  const carried: number[] = [];
  for (const symbol of symbols) {
    const size = cost(symbol);
    const index = used.findIndex((u) => u + size <= perConnection);
    if (index === -1) {
      used.push(size);
      carried.push(1);
    } else {
      used[index]! += size;
      carried[index]!++;
    }
  }
  return carried;
}

// ---------------------------------------------------------------------------------------------
// Checking the answers

/**
 * Every market tickql serves, paged in symbol order (stable while prices move), must be one
 * the servers list (and that this run subscribes), each exactly once, and as many as expected;
 * a few markets asked for by id must exist with the right exchange and native symbol. Throws
 * on the first problem; returns what was checked.
 */
async function checkAnswers(url: string, expectedByExchange: ReadonlyMap<LocalExchangeId, ReadonlyMap<string, string>>, expected: number): Promise<string[]> {
  const known = new Map<string, { exchange: LocalExchangeId; nativeSymbol: string }>();
  for (const [exchange, wanted] of expectedByExchange) for (const [nativeSymbol, id] of wanted) known.set(id, { exchange, nativeSymbol });

  const seen = new Set<string>();
  let total = -1;
  for (let offset = 0; total === -1 || offset < total; offset += PAGE) {
    const data = await graphql<{ markets: { total: number; items: Array<{ id: string; exchange: string; nativeSymbol: string }> } }>(
      url,
      `query ($offset: Int) { markets(sort: { field: SYMBOL, direction: ASC }, page: { offset: $offset, limit: ${PAGE} }) { total items { id exchange nativeSymbol } } }`,
      { offset },
    );
    total = data.markets.total;
    if (data.markets.items.length === 0) break;
    for (const item of data.markets.items) {
      const want = known.get(item.id);
      if (want === undefined) throw new Error(`tickql serves ${item.id} (${item.exchange} ${item.nativeSymbol}), which no local exchange lists in this run`);
      if (want.exchange !== item.exchange || want.nativeSymbol !== item.nativeSymbol) throw new Error(`tickql serves ${item.id} as ${item.exchange} ${item.nativeSymbol}; listed as ${want.exchange} ${want.nativeSymbol}`);
      if (seen.has(item.id)) throw new Error(`tickql's pages list ${item.id} twice`);
      seen.add(item.id);
    }
  }
  if (total !== expected) throw new Error(`markets.total is ${total}; the servers list ${expected} markets for this run`);
  if (seen.size !== expected) throw new Error(`tickql's pages hold ${seen.size} distinct markets; total says ${total}, expected ${expected}`);

  const probes: string[] = [];
  for (const [exchange, wanted] of expectedByExchange) {
    const ids = [...wanted.values()];
    for (const id of new Set([ids[0]!, ids[ids.length - 1]!])) {
      const { market } = await graphql<{ market: { id: string; exchange: string; nativeSymbol: string; price: number } | null }>(
        url,
        'query ($id: ID!) { market(id: $id) { id exchange nativeSymbol price } }',
        { id },
      );
      const want = known.get(id)!;
      if (market === null) throw new Error(`market(id: "${id}") is null; ${exchange} lists it`);
      if (market.exchange !== exchange || market.nativeSymbol !== want.nativeSymbol || !(market.price > 0)) throw new Error(`market(id: "${id}") answered ${JSON.stringify(market)}`);
      probes.push(id);
    }
  }
  return [
    `markets.total = ${total} = the markets listed for the run`,
    `all ${seen.size} markets paged in symbol order, each once, each listed by its exchange under that native symbol`,
    `market(id) found with the right exchange, native symbol and a price: ${probes.map((p) => `\`${p}\``).join(', ')}`,
  ];
}

// ---------------------------------------------------------------------------------------------
// tickql's log

/** What src/ingest/live-coverage.ts logs when its sweep removes markets no running process covers. */
const SWEEP_MESSAGE = 'removed markets that no running process ingests';

function summarizeLog(stdoutPath: string, stderrPath: string): LogSummary {
  const warnings = new Map<string, number>();
  let lines = 0;
  let warnCount = 0;
  let errorCount = 0;
  let swept = 0;
  const sweptExamples: string[] = [];
  for (const line of readFileSync(stdoutPath, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    lines++;
    let entry: { level?: number; msg?: string; exchange?: string; feed?: string; removed?: number; examples?: string[] };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const level = entry.level ?? 0;
    if (entry.msg === SWEEP_MESSAGE) {
      swept += entry.removed ?? 0;
      sweptExamples.push(...(entry.examples ?? []).slice(0, 3));
    }
    if (level < 40) continue;
    if (level >= 50) errorCount++;
    else warnCount++;
    const who = entry.exchange ?? entry.feed;
    const key = `${level >= 50 ? 'error' : 'warn'}: ${who === undefined ? '' : `${who}: `}${entry.msg ?? '(no message)'}`;
    warnings.set(key, (warnings.get(key) ?? 0) + 1);
  }
  const stderrLines = readFileSync(stderrPath, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  return { lines, warnings, warnCount, errorCount, stderrLines, swept, sweptExamples };
}

// ---------------------------------------------------------------------------------------------
// Report

interface MachineLoad {
  readonly before: readonly number[];
  readonly after: readonly number[];
  readonly logDir: string;
}

function report(context: ScenarioContext, u: RunResult, b: RunResult, load: MachineLoad): ScenarioReport {
  const runRow = (r: RunResult) => [
    r.spec.kind === 'universe' ? 'whole listings (default)' : 'built-in pairs (`<EXCHANGE>_SYMBOLS`)',
    `${k(r.total)} / ${k(r.expected)}`,
    r.answeredAfterS.toFixed(1),
    r.servedAfterS.toFixed(1),
    `${connections(r)} / ${sum(r.feeds.map((f) => f.serverConnections))} / ${sum(r.feeds.map((f) => f.capConnections))}`,
    `${mb(r.memory.empty.used)} → ${mb(r.memory.loaded.used)}`,
    `${k(perMarket(r, 'used'))} / ${k(perMarket(r, 'dataset'))}`,
    `${k(r.offeredPerS)} / ${k(r.framesPerS)} / ${k(r.updatesPerS)}`,
    fmtCore(r.cpu.tickql),
    fmtUs(r.usPerUpdate),
    `${fmtCore(r.cpu.servers)} / ${fmtCore(r.cpu.redis)} / ${fmtCore(r.cpu.bench)} / ${fmtCore(r.cpu.others)}`,
    `${r.load.start.toFixed(2)} → ${r.load.end.toFixed(2)}`,
  ];
  const feedRows = [u, b].flatMap((r) =>
    r.feeds.map((f) => [
      r.spec.kind,
      f.exchange,
      `${k(f.listed)} / ${k(f.expected)} / ${k(f.served)}`,
      f.liveAfterS === null ? `not LIVE (${f.status})` : f.liveAfterS.toFixed(1),
      f.allMarketsAfterS === null ? 'never' : f.allMarketsAfterS.toFixed(1),
      `${f.tickqlConnections} / ${f.serverConnections} / ${f.capConnections}`,
      `${k(f.offeredPerS)} / ${k(f.framesPerS)}`,
      f.breaches.length === 0 ? 'none' : String(f.breaches.length),
    ]),
  );
  const ratioRow = [
    ratio(u.total / b.total),
    u.cpu.tickql === null || b.cpu.tickql === null ? '-' : ratio(u.cpu.tickql / b.cpu.tickql),
    u.usPerUpdate === null || b.usPerUpdate === null ? '-' : ratio(u.usPerUpdate / b.usPerUpdate),
    `${ratio(memoryDelta(u, 'used') / memoryDelta(b, 'used'))} / ${ratio(memoryDelta(u, 'dataset') / memoryDelta(b, 'dataset'))}`,
    ratio(connections(u) / connections(b)),
    ratio(u.servedAfterS / b.servedAfterS),
  ];
  return {
    title: '7. Universe: the whole market',
    method: methodText(context, u, b),
    tables: [
      {
        caption: `One tickql process (\`tsx src/main.ts\`), five local exchanges, ${k(totalRate(u))} updates/s sent in all; CPU in shares of one core (2 in all) over ${context.durationS} s at steady state`,
        columns: [
          'configuration',
          'markets served / expected',
          'GraphQL answers after s',
          'every market served after s',
          "connections: tickql / servers / at tickql's caps",
          'Redis used_memory MB: empty → loaded',
          'Redis bytes per market: used_memory / dataset',
          'updates/s: sent / frames received / ingested',
          'CPU: tickql',
          'tickql µs per update',
          'CPU: 5 servers / Redis / bench / others',
          'load average (1 min), window start → end',
        ],
        rows: [runRow(u), runRow(b)],
      },
      {
        caption: 'Per feed; times in seconds from spawning tickql',
        columns: ['run', 'exchange', 'markets: listed / subscribed / served', 'LIVE after s', 'all its markets after s', 'connections: tickql / server / at caps', 'updates/s: sent / frames received', 'limit breaches'],
        rows: feedRows,
      },
      {
        caption: 'Whole listings over built-in pairs: same process, same updates/s',
        columns: ['markets', 'tickql CPU per second', 'tickql CPU per update', 'Redis memory: used_memory / dataset', 'exchange connections', 'time to serve every market'],
        rows: [ratioRow],
      },
    ],
    charts: [],
    findings: findingsOf(context, u, b, load),
  };
}

function methodText(context: ScenarioContext, u: RunResult, b: RunResult): string {
  const sizes = EXCHANGE_IDS.map((id) => `${id} ${k(u.spec.sizes[id])}`).join(', ');
  const rates = EXCHANGE_IDS.map((id) => `${id} ${k(u.spec.rates[id])}`).join(', ');
  const builtIn = EXCHANGE_IDS.map((id) => `${id} ${b.feeds.find((f) => f.exchange === id)!.expected}`).join(', ');
  return `
tickql the way a user runs it on the whole market. **The service** is the real process,
spawned as \`npm start\` runs it (\`tsx src/main.ts\`, the tsx wrapper and the node process
under it; bench/lib/service.ts), in its **default configuration**: no \`<EXCHANGE>_SYMBOLS\`,
so each of the five feeds reads its exchange's whole listing and subscribes every trading
market. Only \`<EXCHANGE>_WS_URL\` and \`<EXCHANGE>_REST_URL\` point at the local exchanges,
\`REDIS_URL\` at the bench's Redis and \`PORT\` at a free port, plus the lifted limits above;
every other tickql variable is removed from its environment. Its log (stdout) and stderr go to files and are read after the run.

**Five local exchanges**, each in a child process of its own so that their CPU is not
tickql's (bench/servers/local-exchange.ts): \`BinanceSim\` (src/ingest/sim/binance-sim.ts) and
the Coinbase, Kraken, OKX and Bybit servers of test/support/exchanges/, each speaking its
exchange's protocol and enforcing its documented limits, every breach recorded (a breach
fails the scenario). Each lists its exchange's built-in pairs and then synthetic markets up
to **the size of the real exchange**, from the estimates in
[docs/exchanges/README.md](docs/exchanges/README.md#universe-size): ${sizes}, ${k(sum(EXCHANGE_IDS.map((id) => u.spec.sizes[id])))} in all.
Binance, OKX and Bybit send each market's ticker on subscribe (\`snapshotOnSubscribe\`); Coinbase
and Kraken do so anyway. Each server's ticking generator then sends updates of random
subscribed markets: **${k(sum(EXCHANGE_IDS.map((id) => u.spec.rates[id])))} updates/s in all** (${rates}),
shared in proportion to listing size. This rate is **our assumption**: Binance's \`@ticker\`
stream pushes every listed market about once a second, so its ${k(UNIVERSE.binance)} markets
alone would send about ${k(UNIVERSE.binance)} updates/s; the other four push on change (per
trade, or at most every 50 to 100 ms on change), so most of their markets, which trade rarely,
send far less than once a second and a few busy ones far more; about one update per market
per second across the whole universe is a realistic average, not a peak.

Measured in one run: the **time from spawning tickql** until \`{ markets(page: {limit: 1}) { total } }\`
equals the markets listed and every feed (\`feeds { exchange status markets connections }\`) has
all of its own, polled every ${POLL_FAST_MS} ms, and when each feed first reported \`LIVE\`;
the **exchange connections** tickql reports (\`feeds { connections }\`), the servers' own count,
and what tickql's caps give with first-fit placement; **Redis memory**, \`INFO memory\`
\`used_memory\` (and \`used_memory_dataset\`, the part that is data rather than Redis's own
overhead) after FLUSHALL and SCRIPT FLUSH (empty) and at the end of the window, per market served;
**tickql's CPU** at steady state, after a ${(context.smoke ? SMOKE_WARM_UP_MS : WARM_UP_MS) / 1000} s warm-up
once everything is served, over ${context.durationS} s: user + system time of tickql's process tree (/proc) per wall second, with updates
ingested from tickql's own \`/metrics\` (\`tickql_ingest_updates_total\`, frames per feed from
\`tickql_feed_messages_total\`) and updates sent from the servers' counters; µs per update is
tickql's CPU over the updates ingested. The servers, Redis (INFO cpu), the bench process and
*others* (every other process on the machine: /proc/stat busy time minus the known ones) are
given alongside. After the window the answers are checked: every market paged in symbol
order is one the servers list, each once, the total is the universe, and the first and last
market of each exchange answer \`market(id)\` with the right exchange.

**Baseline, in the same run:** the same process and the same five servers (fresh ones, same
listings, same ${k(sum(EXCHANGE_IDS.map((id) => b.spec.rates[id])))} updates/s in total and per exchange), but
each \`<EXCHANGE>_SYMBOLS\` set to the exchange's built-in pair list (\`BINANCE_DEFAULT_SYMBOLS\`
etc. in src/ingest/exchanges/*.ts): ${builtIn}, ${k(b.expected)} markets, what tickql covered before it
read whole listings. Every server lists all of them, so none is skipped. The same update rate
over far fewer markets means each built-in market updates far more often; the ratios compare
the cost of covering the whole market at an equal flow of updates.
`;
}

function findingsOf(context: ScenarioContext, u: RunResult, b: RunResult, load: MachineLoad): string[] {
  const findings: string[] = [];
  const slowest = [...u.feeds].sort((x, y) => (y.allMarketsAfterS ?? Infinity) - (x.allMarketsAfterS ?? Infinity))[0]!;
  const others = u.feeds.filter((f) => f !== slowest);
  findings.push(
    `Every one of the ${k(u.total)} markets was served ${u.servedAfterS.toFixed(1)} s after tickql was spawned; its GraphQL API answered after ${u.answeredAfterS.toFixed(1)} s ` +
      `(tsx and start-up), and ${others.map((f) => f.exchange).join(', ')} had all their markets ${fmtRange(others.map((f) => f.allMarketsAfterS))} s after the spawn. ` +
      `The last was ${slowest.exchange}: LIVE after ${slowest.liveAfterS?.toFixed(1) ?? 'never'} s, all ${k(slowest.expected)} of its markets after ${slowest.allMarketsAfterS?.toFixed(1) ?? 'never'} s` +
      (slowest.exchange === 'bybit' ? `${bybitPacing(slowest)}.` : '.') +
      ` With the built-in pairs every market (${k(b.total)}) was served after ${b.servedAfterS.toFixed(1)} s.`,
  );
  for (const r of [u, b]) {
    if (r.log.swept === 0) continue;
    findings.push(
      `**tickql removed its own markets at start-up** (${r.spec.kind} run): its leftover sweep (src/ingest/live-coverage.ts) logged \`${SWEEP_MESSAGE}\` for ${r.log.swept} markets ` +
        `(${r.log.sweptExamples.map((id) => `\`${id}\``).join(', ')}, ...) that this very process subscribes and had just written; each came back only with its next update, ` +
        `which on a real exchange may be minutes away for a market that rarely trades. It happens on some start-ups and not others: \`LiveCoverage.pass\` computes the coverage, publishes it, and decides that every feed ` +
        `has chosen its symbols only after awaiting \`publishCoverage\`, so when a feed chooses during that await, the sweep runs against coverage published without its markets.`,
    );
  }
  findings.push(
    `${connections(u)} exchange connections for the whole market (${u.feeds.map((f) => `${f.exchange} ${f.tickqlConnections}`).join(', ')}), ` +
      `${connections(u) === sum(u.feeds.map((f) => f.capConnections)) ? 'exactly' : `against ${sum(u.feeds.map((f) => f.capConnections))}`} what tickql's caps and first-fit placement give` +
      `${context.smoke ? '' : ' (docs/exchanges/README.md expects 15 for these estimates)'}; the servers counted ${sum(u.feeds.map((f) => f.serverConnections))}. ` +
      `${connections(b)} with the built-in pairs. No server recorded a limit breach in either run.`,
  );
  findings.push(
    `Redis: ${mb(memoryDelta(u, 'used'))} MB more \`used_memory\` with the whole market loaded than empty, ${k(perMarket(u, 'used'))} bytes per market ` +
      `(${k(perMarket(u, 'dataset'))} of them \`used_memory_dataset\`: the market JSON, the sorted-set indexes and the filter sets; ${k(u.searchIndexBytes / u.total)} of them the search index, its key's \`MEMORY USAGE\`); ${mb(memoryDelta(b, 'used'))} MB for the ${k(b.total)} built-in pairs.`,
  );
  findings.push(
    `Steady state at ${k(u.offeredPerS)} updates/s sent: tickql used ${fmtCore(u.cpu.tickql)} of a core for the whole market (${fmtUs(u.usPerUpdate)} µs per update ingested) ` +
      `and ${fmtCore(b.cpu.tickql)} for the built-in pairs (${fmtUs(b.usPerUpdate)} µs), so ${k(u.total)} markets instead of ${k(b.total)} cost ${u.cpu.tickql === null || b.cpu.tickql === null ? '-' : ratio(u.cpu.tickql / b.cpu.tickql)} the CPU at the same flow of updates; ` +
      `it ingested ${k(u.updatesPerS)} and ${k(b.updatesPerS)} updates/s and wrote ${k(u.writtenPerS)} and ${k(b.writtenPerS)} market states/s (updates of one market that arrive while ` +
      'a write is in flight coalesce, more so over fewer markets).',
  );
  for (const r of [u, b]) {
    const top = [...r.log.warnings.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6);
    findings.push(
      `tickql's log, ${r.spec.kind} run: ${r.log.lines} lines, ${r.log.warnCount} warnings, ${r.log.errorCount} errors` +
        (top.length === 0 ? '' : ` (${top.map(([m, n]) => `${n} x ${m.replace(/\|/g, '\\|')}`).join('; ')})`) +
        `; ${r.log.stderrLines.length === 0 ? 'nothing on stderr' : `${r.log.stderrLines.length} lines on stderr, first: ${r.log.stderrLines[0]!.slice(0, 200).replace(/\|/g, '\\|')}`}` +
        (r.killed.length === 0 ? '; it stopped on SIGTERM.' : `; ${r.killed.length} of its processes had to be killed after SIGTERM.`),
    );
  }
  if ([u, b].some((r) => [...r.log.warnings.keys()].some((m) => m.includes('redis connection error')))) {
    findings.push(
      '`redis connection error` (`write EPIPE` on the `commands` connection) is logged while tickql stops, after its Redis connections were closed: something still sends ' +
        'a command on the way out (on some stops, not all). Harmless to the data, but an operator sees a warning on a clean shutdown.',
    );
  }
  findings.push(`Checked after each run: ${u.checks.join('; ')}. The built-in run passed the same checks (${k(b.total)} markets).`);
  findings.push(
    `The machine: 1/5/15-minute load average ${load.before.map((l) => l.toFixed(2)).join(' / ')} before this scenario and ${load.after.map((l) => l.toFixed(2)).join(' / ')} after ` +
      `(its own processes included); other processes took ${fmtCore(u.cpu.others)} and ${fmtCore(b.cpu.others)} of a core during the two measured windows.`,
  );
  return findings;
}

/** Why Bybit is last: 10 topics per subscribe request (Bybit's limit), two topics per symbol, and tickql's own pacing of 9 requests per 1.1 s on a connection. */
function bybitPacing(feed: FeedResult): string {
  const requests = Math.ceil((feed.largestConnection * 2) / BYBIT_MAX_ARGS_PER_REQUEST);
  const perWindow = BYBIT_MAX_MESSAGES_PER_SECOND - 1;
  const seconds = (Math.ceil(requests / perWindow) - 1) * WINDOW_MARGIN;
  return (
    `: its fuller connection carries ${k(feed.largestConnection)} symbols, two topics each (\`tickers\` and \`orderbook.1\`), at most ${BYBIT_MAX_ARGS_PER_REQUEST} topics per ` +
    `subscribe request (Bybit's limit), and tickql sends at most ${perWindow} requests per ${WINDOW_MARGIN} s on a connection (its own pacing: Bybit publishes no message rate), so ` +
    `${requests} requests take about ${seconds.toFixed(0)} s`
  );
}

// ---------------------------------------------------------------------------------------------

function connections(r: RunResult): number {
  return sum(r.feeds.map((f) => f.tickqlConnections));
}

function totalRate(r: RunResult): number {
  return sum(EXCHANGE_IDS.map((id) => r.spec.rates[id]));
}

function memoryDelta(r: RunResult, field: keyof RedisMemory): number {
  return r.memory.loaded[field] - r.memory.empty[field];
}

function perMarket(r: RunResult, field: keyof RedisMemory): number {
  return memoryDelta(r, field) / r.total;
}

function fmtRange(values: ReadonlyArray<number | null>): string {
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return '-';
  const [low, high] = [Math.min(...known), Math.max(...known)];
  return low === high ? low.toFixed(1) : `${low.toFixed(1)} to ${high.toFixed(1)}`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, v) => a + v, 0);
}

function k(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function fmt(n: number, digits: number): string {
  return n.toFixed(digits);
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function fmtCore(share: number | null): string {
  return share === null ? '-' : share.toFixed(3);
}

function fmtUs(us: number | null): string {
  return us === null ? '-' : us.toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
