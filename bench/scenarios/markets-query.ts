/**
 * Scenario 1, markets query: what a user gets from `markets`. tickql runs as `npm start` runs it
 * (the esbuild bundle's process tree: a supervisor, one ingest process and `WORKERS` serving
 * processes) in its default configuration, with WORKERS=1 and with WORKERS at its default,
 * ingesting from five local exchanges (each in a process of its own, whole listings, an equal
 * share of the markets each) at a stated update rate, at 10,000 and at 50,000 markets. autocannon, in a process
 * of its own, asks one query shape at a time flat out: first the floor `{ __typename }`, then
 * the `markets` shapes, each reported as a share of the floor in the same process and run.
 *
 * Baseline: the same shapes from a GraphQL server over an indexed PostgreSQL table
 * (bench/sources/postgres.ts behind bench/servers/query-server.ts, in its own process) holding
 * the markets tickql served at that size, while a writer process applies the same number of
 * updates per second. Skipped, with a message, when PostgreSQL does not answer.
 *
 * After every measured run the answer is checked: the exchanges are paused (or the writer
 * stopped), tickql's writes settle (no PUBLISH for a while), the shape is asked once more and
 * compared, every selected field of every item and the total, with the page the plain
 * reference implementation (test/support/reference-query.ts) computes from the whole state.
 * Requests answered with anything but 200 and wrong answers fail the scenario: it still
 * reports everything it measured, with the failures first (ScenarioReport.failures).
 *
 * Also measured in each window: ingest lag (frame sent by the exchange → its PUBLISH at a plain
 * Redis subscriber, bench/clients/publish-monitor.ts) idle and under each load, CPU per request
 * by process kind (the supervisor's children carry TICKQL_PROCESS), and what else used the
 * machine (load average, every other process's CPU).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isObjectType } from 'graphql';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../../src/config';
import { DEFAULT_MAX_LISTED_SYMBOLS } from '../../src/ingest/listing';
import { silentLogger } from '../../src/logger';
import type { Market } from '../../src/market';
import { createKeys, type Keys } from '../../src/redis/keys';
import { decodeMarket } from '../../src/redis/market-codec';
import { USD_FIELD_OF, type MarketPageResult, type MarketQuery } from '../../src/redis/query-markets';
import { buildSchema } from '../../src/schema';
import { Staleness } from '../../src/staleness';
import { referenceQuery } from '../../test/support/reference-query';
import type { PublishWindow } from '../clients/publish-monitor';
import type { ScenarioContext } from '../lib/context';
import { cpuSeconds, machineBusySeconds } from '../lib/cpu';
import type { LocalExchangeId } from '../lib/exchange-listing';
import { postGraphql, type GraphqlReply } from '../lib/graphql-post';
import { LatencyHistogram, type LatencySummary } from '../lib/histogram';
import { startIpcChild, type IpcChild } from '../lib/ipc-child';
import { countLogLines, LiveService } from '../lib/live-service';
import type { LoadResult } from '../lib/load';
import { describeOtherLoad } from '../lib/machine';
import { startChild, type Child } from '../lib/processes';
import { ms, ratio, type ScenarioReport, type Table } from '../lib/report';
import { buildBundle, expectTree, processKinds } from '../lib/service';
import type { BarChart } from '../lib/svg-chart';
import { fetchAndSortSource } from '../sources/fetch-and-sort';
import { allMarkets, createTable } from '../sources/postgres';

// ---------------------------------------------------------------------------------------------
// What is measured

/** One query a client sends, flat out, for one measured run. */
export interface QueryShape {
  readonly name: string;
  readonly graphql: string;
  /** The `markets` query in storage terms, for the reference answer; null for the floor. */
  readonly query: MarketQuery | null;
  /** Market fields each item selects. */
  readonly fields: readonly string[];
  /** Target throughput as a share of the floor's (issue 11); null for the floor itself. */
  readonly floorTarget: number | null;
}

/**
 * Every field of the schema's `Market` type (schema/market.graphql), in schema order, but the
 * USD conversions (`priceUsd`, `quoteVolume24hUsd`): the PostgreSQL baseline has no rates, and
 * the answers are checked against the stored states.
 */
const EVERY_MARKET_FIELD: readonly string[] = (() => {
  const type = buildSchema().getType('Market');
  if (!isObjectType(type)) throw new Error('the schema has no Market object type');
  return Object.keys(type.getFields()).filter((field) => !(field in USD_FIELD_OF));
})();

const TOP_TARGET = 0.8;
const OTHER_TARGET = 0.6;

function marketsDocument(args: string, fields: readonly string[]): string {
  return `{ markets${args === '' ? '' : `(${args})`} { total items { ${fields.join(' ')} } } }`;
}

const FLOOR: QueryShape = { name: 'floor: { __typename }', graphql: '{ __typename }', query: null, fields: [], floorTarget: null };

/** The busiest leaderboard: also the query of the freshness scenario. */
export const TOP_50: QueryShape & { readonly query: MarketQuery } = {
  name: 'top 50 by quote volume',
  graphql: marketsDocument('page: { limit: 50 }', ['id', 'price', 'quoteVolume24h', 'changePercent24h']),
  query: { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: {}, offset: 0, limit: 50 },
  fields: ['id', 'price', 'quoteVolume24h', 'changePercent24h'],
  floorTarget: TOP_TARGET,
};

/** The floor first, then every `markets` shape; the deep page starts in the middle of the list. */
export function shapesFor(size: number): QueryShape[] {
  const offset = Math.floor(size / 2);
  return [
    FLOOR,
    TOP_50,
    {
      name: 'top 50, every Market field',
      graphql: marketsDocument('page: { limit: 50 }', EVERY_MARKET_FIELD),
      query: TOP_50.query,
      fields: EVERY_MARKET_FIELD,
      floorTarget: TOP_TARGET,
    },
    {
      name: 'USDT on binance+okx by change',
      graphql: marketsDocument('sort: { field: CHANGE_PERCENT_24H }, filter: { quotes: ["USDT"], exchanges: ["binance", "okx"] }', ['id', 'price', 'changePercent24h']),
      query: { sort: { field: 'changePercent24h', direction: 'desc' }, filter: { quotes: ['USDT'], exchanges: ['binance', 'okx'] }, offset: 0, limit: 50 },
      fields: ['id', 'price', 'changePercent24h'],
      floorTarget: OTHER_TARGET,
    },
    {
      name: 'search "BTC"',
      graphql: marketsDocument('filter: { search: "BTC" }', ['id', 'price']),
      query: { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { search: 'BTC' }, offset: 0, limit: 50 },
      fields: ['id', 'price'],
      floorTarget: OTHER_TARGET,
    },
    {
      name: `deep page (price ascending, offset ${offset.toLocaleString('en')})`,
      graphql: marketsDocument(`sort: { field: PRICE, direction: ASC }, page: { offset: ${offset}, limit: 50 }`, ['id', 'price']),
      query: { sort: { field: 'price', direction: 'asc' }, filter: {}, offset, limit: 50 },
      fields: ['id', 'price'],
      floorTarget: OTHER_TARGET,
    },
  ];
}

interface Sizes {
  /** Markets listed over both exchanges, one tickql run per size and WORKERS setting. */
  readonly markets: readonly number[];
  /** Ticker updates per second the exchanges send together; the PostgreSQL writer's rate. */
  readonly updatesPerSecond: number;
  /** Before a measured window: the load reaching its pace, the exchanges theirs after a check. */
  readonly settleMs: number;
  readonly servedTimeoutMs: number;
}

const FULL: Sizes = { markets: [10_000, 50_000], updatesPerSecond: 5000, settleMs: 1000, servedTimeoutMs: 300_000 };
const SMOKE: Sizes = { markets: [200], updatesPerSecond: 200, settleMs: 200, servedTimeoutMs: 60_000 };

/**
 * Five local exchanges listing an equal share of the markets each: at 50,000 markets each lists
 * 10,000, the most one feed takes from a listing by default (DEFAULT_MAX_LISTED_SYMBOLS), so
 * fewer exchanges could not reach that size with tickql's defaults.
 */
const EXCHANGES: readonly LocalExchangeId[] = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'];
/** tickql's log line when a feed's lease is lost (src/feed-leases.ts): its feed stops and is started again. */
const LEASE_LOST = '"msg":"stopped ingesting feed ';
/** `WORKERS` per tickql run; null leaves it unset, so tickql runs its default (one per core). */
const WORKER_SETTINGS: readonly (number | null)[] = [1, null];
/** autocannon connections, one request in flight each. */
const CONNECTIONS = 4;
/** After pausing the exchanges, no PUBLISH for this long means tickql has written everything. */
const QUIET_MS = 300;
const QUIET_TIMEOUT_MS = 20_000;
/** tickql's default key prefix (REDIS_PREFIX unset), and the one the PostgreSQL server's Redis side uses. */
const PREFIX = 'tickql';
const POSTGRES_SERVER_PREFIX = 'bench';
/** `application_name` of the baseline's connections, to find their PostgreSQL backends. */
const PG_APP_QUERIES = 'tickql-bench-queries';
const PG_APP_WRITER = 'tickql-bench-writer';

/** Issue 11's targets: tickql over PostgreSQL by size, and tickql's p99 at 10,000 markets. */
const TARGET_VS_POSTGRES: ReadonlyMap<number, number> = new Map([
  [10_000, 5],
  [50_000, 20],
]);
const TARGET_P99_MS = 10;
const TARGET_P99_AT = 10_000;

// ---------------------------------------------------------------------------------------------
// What a run yields

interface Check {
  readonly ok: boolean;
  readonly detail: string;
}

/** CPU seconds each part used over a window, and what the rest of the machine did. */
interface CpuUse {
  readonly seconds: number;
  readonly used: Readonly<Record<string, number | null>>;
  /** The machine's busy CPU seconds minus every part's: what else ran. */
  readonly other: number | null;
}

interface Window {
  readonly size: number;
  readonly system: string;
  /** Null: the idle window, no queries. */
  readonly shape: QueryShape | null;
  readonly load: LoadResult | null;
  readonly check: Check | null;
  readonly cpu: CpuUse;
  readonly loadAverage: number;
  /** tickql: frame sent by the exchange -> PUBLISH seen; frame received by tickql -> PUBLISH seen. */
  readonly lag: { readonly sent: LatencySummary; readonly received: LatencySummary } | null;
  /** tickql: updates the exchanges sent per second; PostgreSQL: updates the writer wrote. */
  readonly updatesPerSecond: number;
  /** tickql: market states published (written) per second. */
  readonly publishedPerSecond: number | null;
}

interface TickqlRun {
  readonly size: number;
  readonly system: string;
  /** Why the run measured nothing (not every market served in time), or null. */
  readonly error: string | null;
  readonly listed: string;
  readonly servedAfterS: number | null;
  /** Feed leases tickql lost (and took again) before every market was served, and after. */
  readonly leaseLosses: { readonly startUp: number; readonly measuring: number };
  readonly servingProcesses: number;
  readonly killed: readonly number[];
  readonly windows: readonly Window[];
}

interface Clients {
  readonly loader: IpcChild;
  readonly monitor: IpcChild;
}

export async function marketsQuery(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? SMOKE : FULL;
  const machine = { loadBefore: loadavg(), otherBefore: await describeOtherLoad(context.smoke ? 250 : 1000) };
  context.log('markets query: npm run build (the bundle npm start runs)');
  buildBundle();
  const logDir = mkdtempSync(join(tmpdir(), 'tickql-markets-'));
  const started = await Promise.allSettled([startIpcChild('bench/clients/query-load.ts', {}), startIpcChild('bench/clients/publish-monitor.ts', {})]);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  const [loader, monitor] = started.map((s) => (s as PromiseFulfilledResult<IpcChild>).value) as [IpcChild, IpcChild];
  const pool = context.postgresUrl ? new pg.Pool({ connectionString: context.postgresUrl, max: 2 }) : null;
  const runs: TickqlRun[] = [];
  const baseline: Window[] = [];
  try {
    for (const size of sizes.markets) {
      let universe: Market[] | null = null;
      for (const workers of WORKER_SETTINGS) {
        const { run, markets } = await measureTickql(context, sizes, size, workers, { loader, monitor }, logDir);
        runs.push(run);
        universe = markets ?? universe;
      }
      if (pool && universe) baseline.push(...(await measurePostgres(context, sizes, size, universe, pool, loader, logDir)));
      else if (pool) context.log(`markets query: no tickql run served all ${size.toLocaleString('en')} markets, so PostgreSQL has no universe to be given at that size`);
    }
  } finally {
    await Promise.all([loader.stop(), monitor.stop()]);
    await pool?.end();
  }
  const machineAfter = { loadAfter: loadavg(), otherAfter: await describeOtherLoad(context.smoke ? 250 : 1000) };
  if (context.smoke && process.env.BENCH_KEEP_LOGS !== '1') rmSync(logDir, { recursive: true, force: true });
  return report(context, sizes, runs, baseline, { ...machine, ...machineAfter, logDir, postgres: pool !== null });
}

// ---------------------------------------------------------------------------------------------
// tickql

/** The scenario's universe of `size` markets: an equal listing on each of the five local exchanges. */
export function equalListings(size: number): Partial<Record<LocalExchangeId, number>> {
  const perExchange = size / EXCHANGES.length;
  if (!Number.isInteger(perExchange) || perExchange > DEFAULT_MAX_LISTED_SYMBOLS) throw new Error(`markets query: ${size} markets do not split into ${EXCHANGES.length} listings of at most ${DEFAULT_MAX_LISTED_SYMBOLS}`);
  return Object.fromEntries(EXCHANGES.map((id) => [id, perExchange]));
}

async function measureTickql(
  context: ScenarioContext,
  sizes: Sizes,
  size: number,
  workers: number | null,
  clients: Clients,
  logDir: string,
): Promise<{ run: TickqlRun; markets: Market[] | null }> {
  const listings = equalListings(size);
  const perExchange = size / EXCHANGES.length;
  context.log(`markets query: ${size.toLocaleString('en')} markets, tickql with WORKERS=${workers ?? 'default'}: starting (${(performance.now() / 1000).toFixed(0)} s)`);
  const logPrefix = join(logDir, `${size}-workers-${workers ?? 'default'}`);
  let live: LiveService;
  try {
    live = await LiveService.start({
      listings,
      updatesPerSecond: sizes.updatesPerSecond,
      env: workers === null ? {} : { WORKERS: String(workers) },
      logPrefix,
      servedTimeoutMs: sizes.servedTimeoutMs,
    });
  } catch (err) {
    // Not every market served in time: a finding, reported as a failure; the other runs go on.
    const error = err instanceof Error ? err.message : String(err);
    context.log(`markets query: ${size.toLocaleString('en')} markets, tickql with WORKERS=${workers ?? 'default'}: ${error}`);
    const leaseLosses = { startUp: await countLogLines(`${logPrefix}.stdout.log`, LEASE_LOST), measuring: 0 };
    const listed = EXCHANGES.map((id) => `${id} ${perExchange.toLocaleString('en')}`).join(' + ');
    return { run: { size, system: `tickql, WORKERS=${workers ?? 'default'}`, error, listed, servedAfterS: null, leaseLosses, servingProcesses: 0, killed: [], windows: [] }, markets: null };
  }
  const lostAtStartUp = await countLogLines(live.service.stdoutPath, LEASE_LOST);
  let monitoring = false;
  try {
    const kinds = await expectTree(live.service, workers);
    const system = workers === null ? `tickql, WORKERS=${kinds.serve.length} (default)` : `tickql, WORKERS=${workers}`;
    context.log(`markets query: ${live.markets.toLocaleString('en')} markets served ${live.servedAfterS.toFixed(1)} s after spawning tickql (${system})`);
    await clients.monitor.request('start', { redisUrl: live.redis.url, prefix: PREFIX });
    monitoring = true;
    await sleep(sizes.settleMs);
    const keys = createKeys(PREFIX);
    const staleAfterMs = loadConfig({}).staleAfterMs;

    const windows: Window[] = [];
    for (const shape of [null, ...shapesFor(size)]) {
      context.log(`markets query: ${size.toLocaleString('en')} markets, ${system}, ${shape?.name ?? 'idle'}`);
      const pidsNow = async () => {
        const k = await processKinds(live.service);
        return {
          supervisor: k.supervisor,
          ingest: k.ingest,
          serve: k.serve,
          redis: [live.redisPid],
          exchanges: live.exchangePids,
          autocannon: [clients.loader.pid],
          bench: [process.pid, clients.monitor.pid],
        };
      };
      const before = await readCpu(await pidsNow());
      const sentBefore = await live.sent();
      const loadAverage = loadavg()[0]!;
      // The load runs from before the lag window to after it; its throughput is over its own run.
      const loading = shape
        ? clients.loader.request<LoadResult>('run', {
            url: live.graphqlUrl,
            body: JSON.stringify({ query: shape.graphql }),
            connections: CONNECTIONS,
            durationS: context.durationS + (2 * sizes.settleMs) / 1000,
          })
        : null;
      loading?.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
      if (loading) await sleep(sizes.settleMs);
      const published = await clients.monitor.request<PublishWindow>('measure', { ms: context.durationS * 1000 });
      const load = loading ? await loading : null;
      const after = await readCpu(await pidsNow());
      const sentAfter = await live.sent();
      const check = shape ? await checkTickql(live, shape, clients.monitor, keys, staleAfterMs, sizes.settleMs) : null;
      const sent = new LatencyHistogram();
      sent.addEncoded(published.fromSent);
      const received = new LatencyHistogram();
      received.addEncoded(published.fromReceipt);
      const cpu = cpuUse(before, after);
      windows.push({
        size,
        system,
        shape,
        load,
        check,
        cpu,
        loadAverage,
        lag: { sent: sent.summary(), received: received.summary() },
        updatesPerSecond: (sentAfter - sentBefore) / cpu.seconds,
        publishedPerSecond: Object.values(published.published).reduce((a, n) => a + n, 0) / published.seconds,
      });
      if (check && !check.ok) context.log(`markets query: WRONG ANSWER, ${shape!.name}: ${check.detail}`);
    }
    // The state at the end: the universe the PostgreSQL baseline is given at this size.
    const markets = (await live.admin.hvals(keys.market)).map(decodeMarket);
    await clients.monitor.request('close');
    monitoring = false;
    const servingProcesses = (await processKinds(live.service)).serve.length;
    const killed = await live.stop();
    if (killed.length > 0) context.log(`markets query: tickql did not stop within the grace period; killed ${killed.join(', ')}`);
    const leaseLosses = { startUp: lostAtStartUp, measuring: (await countLogLines(live.service.stdoutPath, LEASE_LOST)) - lostAtStartUp };
    const listed = live.exchanges.map((e) => `${e.id} ${e.info.listing.length.toLocaleString('en')}`).join(' + ');
    return { run: { size, system, error: null, listed, servedAfterS: live.servedAfterS, leaseLosses, servingProcesses, killed, windows }, markets };
  } finally {
    if (monitoring) await clients.monitor.request('close').catch(() => undefined);
    await live.stop();
  }
}

/**
 * Pauses the exchanges, waits until tickql has written everything (no PUBLISH for QUIET_MS),
 * asks the shape once from the bench's own address and compares the answer with the reference
 * page over every market in Redis at that moment; then resumes the exchanges.
 */
async function checkTickql(live: LiveService, shape: QueryShape, monitor: IpcChild, keys: Keys, staleAfterMs: number, settleMs: number): Promise<Check> {
  await live.pause();
  try {
    await monitor.request('quiet', { ms: QUIET_MS, timeoutMs: QUIET_TIMEOUT_MS });
    const staleness = new Staleness(live.admin, keys, staleAfterMs, silentLogger());
    await staleness.refresh();
    const sentAt = Date.now();
    const reply = await live.query(shape.graphql);
    const answeredAt = Date.now();
    const expected = shape.query ? await fetchAndSortSource(live.admin, keys).page(shape.query) : null;
    return compareAnswer(shape, reply, expected, (m) => [staleness.isStale(m, sentAt), staleness.isStale(m, answeredAt)]);
  } finally {
    await live.resume();
    await sleep(settleMs);
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function measurePostgres(context: ScenarioContext, sizes: Sizes, size: number, universe: readonly Market[], pool: pg.Pool, loader: IpcChild, logDir: string): Promise<Window[]> {
  const system = 'PostgreSQL';
  context.log(`markets query: ${size.toLocaleString('en')} markets, PostgreSQL: loading the ${universe.length.toLocaleString('en')} markets tickql served`);
  await createTable(pool, universe);
  const universeFile = join(logDir, `universe-${size}.json`);
  writeFileSync(universeFile, JSON.stringify(universe));
  const postgresUrl = context.postgresUrl!;
  const server = await startChild<{ url: string }>('bench/servers/query-server.ts', {
    SOURCE: 'postgres',
    REDIS_URL: context.redisUrl,
    REDIS_PREFIX: POSTGRES_SERVER_PREFIX,
    POSTGRES_URL: postgresUrl,
    PGAPPNAME: PG_APP_QUERIES,
  });
  const redis = new Redis(context.redisUrl);
  // The server's `stale` comes from the same code over its Redis side, where no feed reports.
  const staleness = new Staleness(redis, createKeys(POSTGRES_SERVER_PREFIX), loadConfig({}).staleAfterMs, silentLogger());
  const windows: Window[] = [];
  try {
    for (const shape of shapesFor(size)) {
      context.log(`markets query: ${size.toLocaleString('en')} markets, PostgreSQL, ${shape.name}`);
      const writer: Child<unknown> = await startChild('bench/servers/market-writer.ts', {
        TARGET: 'postgres',
        POSTGRES_URL: postgresUrl,
        UNIVERSE_FILE: universeFile,
        RATE: String(sizes.updatesPerSecond),
        PGAPPNAME: PG_APP_WRITER,
      });
      let load: LoadResult;
      let before: CpuReading;
      let after: CpuReading;
      let loadAverage: number;
      let written: { perSecond: number } | null;
      try {
        await sleep(sizes.settleMs);
        const pidsNow = async () => ({
          server: [server.process.pid!],
          backends: await backendPids(pool, PG_APP_QUERIES),
          writer: [writer.process.pid!, ...(await backendPids(pool, PG_APP_WRITER))],
          autocannon: [loader.pid],
          bench: [process.pid],
        });
        loadAverage = loadavg()[0]!;
        before = await readCpu(await pidsNow());
        load = await loader.request<LoadResult>('run', { url: server.info.url, body: JSON.stringify({ query: shape.graphql }), connections: CONNECTIONS, durationS: context.durationS });
        after = await readCpu(await pidsNow());
      } finally {
        written = (await writer.stop()) as { perSecond: number } | null;
      }
      // The writer has exited: the table stands still.
      await staleness.refresh();
      const sentAt = Date.now();
      const reply = await postGraphql(server.info.url, shape.graphql);
      const answeredAt = Date.now();
      const expected = shape.query ? referenceQuery(await allMarkets(pool), shape.query) : null;
      const check = compareAnswer(shape, reply, expected, (m) => [staleness.isStale(m, sentAt), staleness.isStale(m, answeredAt)]);
      if (!check.ok) context.log(`markets query: WRONG ANSWER from PostgreSQL, ${shape.name}: ${check.detail}`);
      windows.push({
        size,
        system,
        shape,
        load,
        check,
        cpu: cpuUse(before, after),
        loadAverage,
        lag: null,
        updatesPerSecond: written?.perSecond ?? NaN,
        publishedPerSecond: null,
      });
    }
  } finally {
    await server.stop();
    redis.disconnect();
  }
  return windows;
}

/** Pids of the PostgreSQL backends serving connections named `application`. */
async function backendPids(pool: pg.Pool, application: string): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [application]);
  return rows.map((r) => r.pid);
}

// ---------------------------------------------------------------------------------------------
// Answers

/**
 * The answer must be HTTP 200 without errors, and equal the reference: the floor `Query`; a
 * `markets` page the same total and, item by item, every selected field equal. `stale`
 * depends on the clock, so it may be what the service's own rule gives at the request's send
 * time or at its answer time (`staleAt` gives both).
 */
function compareAnswer(shape: QueryShape, reply: GraphqlReply, expected: MarketPageResult | null, staleAt: (m: Market) => readonly [boolean, boolean]): Check {
  if (reply.status !== 200 || !reply.body || reply.body.errors !== undefined) {
    return { ok: false, detail: `HTTP ${reply.status}: ${reply.text.slice(0, 300)}` };
  }
  if (expected === null) {
    const typename = (reply.body.data as { __typename?: unknown } | undefined)?.__typename;
    return typename === 'Query' ? { ok: true, detail: '`Query`' } : { ok: false, detail: `__typename ${JSON.stringify(typename)}` };
  }
  const page = (reply.body.data as { markets?: { total: number; items: Array<Record<string, unknown>> } } | undefined)?.markets;
  if (!page) return { ok: false, detail: `no markets in ${reply.text.slice(0, 300)}` };
  const problems: string[] = [];
  if (page.total !== expected.total) problems.push(`total ${page.total}, expected ${expected.total}`);
  if (page.items.length !== expected.items.length) problems.push(`${page.items.length} items, expected ${expected.items.length}`);
  let wrongItems = 0;
  const examples: string[] = [];
  for (let i = 0; i < Math.min(page.items.length, expected.items.length); i++) {
    const got = page.items[i]!;
    const want = expected.items[i]!;
    const wrong = shape.fields.filter((f) => (f === 'stale' ? !staleAt(want).includes(got[f] as boolean) : got[f] !== want[f as keyof Market]));
    if (wrong.length === 0) continue;
    wrongItems++;
    if (examples.length < 2) examples.push(`item ${i}: ${wrong.map((f) => `${f} ${JSON.stringify(got[f])}, expected ${JSON.stringify(f === 'stale' ? staleAt(want)[0] : want[f as keyof Market])}`).join(', ')}`);
  }
  if (wrongItems > 0) problems.push(`${wrongItems} of ${expected.items.length} items differ (${examples.join('; ')})`);
  return problems.length === 0
    ? { ok: true, detail: `same total (${page.total.toLocaleString('en')}) and ${page.items.length} items, ${shape.fields.length} fields each` }
    : { ok: false, detail: problems.join('; ') };
}

// ---------------------------------------------------------------------------------------------
// CPU

interface CpuReading {
  readonly at: number;
  /** Part -> pid -> CPU seconds so far. */
  readonly parts: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly machine: number | null;
}

async function readCpu(pids: Readonly<Record<string, readonly number[]>>): Promise<CpuReading> {
  const [parts, machine] = await Promise.all([
    Promise.all(
      Object.entries(pids).map(async ([part, list]) => {
        const each = await Promise.all(list.map(async (pid) => [pid, await cpuSeconds(pid)] as const));
        return [part, new Map(each.filter((e): e is readonly [number, number] => e[1] !== null))] as const;
      }),
    ),
    machineBusySeconds(),
  ]);
  return { at: performance.now(), parts: new Map(parts), machine };
}

/** Per part, the CPU its processes used between the readings (a process that started meanwhile counts from zero). */
function cpuUse(before: CpuReading, after: CpuReading): CpuUse {
  const used: Record<string, number | null> = {};
  let known = 0;
  for (const [part, pids] of after.parts) {
    let sum = 0;
    for (const [pid, seconds] of pids) sum += seconds - (before.parts.get(part)?.get(pid) ?? 0);
    used[part] = sum;
    known += sum;
  }
  const machine = before.machine === null || after.machine === null ? null : after.machine - before.machine;
  return { seconds: (after.at - before.at) / 1000, used, other: machine === null ? null : Math.max(0, machine - known) };
}

// ---------------------------------------------------------------------------------------------
// Report

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));
const k = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–');
const cores = (seconds: number | null | undefined, over: number) => (seconds === null || seconds === undefined ? '–' : (seconds / over).toFixed(2));
const perRequest = (seconds: number | null | undefined, load: LoadResult | null) =>
  seconds === null || seconds === undefined || !load || load.requests === 0 ? '–' : ((seconds * 1000) / load.requests).toFixed(3);

/** Responses other than 200, and requests without any response. */
function refused(load: LoadResult): number {
  return load.requests - (load.statuses['200'] ?? 0) + load.errors;
}

function statusList(load: LoadResult): string {
  const codes = Object.entries(load.statuses)
    .filter(([code]) => code !== '200')
    .map(([code, n]) => `${code}: ${k(n)}`);
  if (load.errors > 0) codes.push(`no response: ${k(load.errors)}`);
  return codes.join(', ');
}

interface MachineNotes {
  readonly loadBefore: number[];
  readonly loadAfter: number[];
  readonly otherBefore: string;
  readonly otherAfter: string;
  readonly logDir: string;
  readonly postgres: boolean;
}

function report(context: ScenarioContext, sizes: Sizes, runs: readonly TickqlRun[], baseline: readonly Window[], machine: MachineNotes): ScenarioReport {
  const windows = [...runs.flatMap((r) => r.windows), ...baseline];
  const floorOf = (w: Window) => windows.find((x) => x.size === w.size && x.system === w.system && x.shape === FLOOR)?.load?.okPerSecond ?? NaN;
  const postgresOf = (w: Window) => baseline.find((x) => x.size === w.size && x.shape?.name === w.shape?.name)?.load?.okPerSecond ?? NaN;
  const systems = [...new Set(windows.map((w) => w.system))];
  /** Sizes with figures: where at least one tickql run served every market. */
  const measuredSizes = sizes.markets.filter((size) => windows.some((w) => w.size === size));

  const throughput: Table[] = measuredSizes.map((size) => {
    const at = windows.filter((w) => w.size === size);
    const ordered = [...at.filter((w) => w.shape === null), ...shapesFor(size).flatMap((s) => at.filter((w) => w.shape?.name === s.name))];
    return {
      caption: `${size.toLocaleString('en')} markets, ${sizes.updatesPerSecond.toLocaleString('en')} updates/s: throughput (HTTP 200 answers), latency, answers, and ingest lag in the same window`,
      columns: [
        'shape',
        'system',
        '200 answers/s',
        'of the floor',
        'p50 ms',
        'p99 ms',
        'non-200 of responses',
        'tickql ÷ PostgreSQL',
        'answer after the run',
        'ingest lag p50 / p99 ms (sent → Redis)',
        'updates/s sent → published (PostgreSQL: written)',
      ],
      rows: ordered.map((w) => {
        const isTickql = w.lag !== null;
        return [
          w.shape?.name ?? 'idle (no queries)',
          w.system,
          w.load ? k(w.load.okPerSecond) : '–',
          w.load && w.shape !== FLOOR ? (w.load.okPerSecond / floorOf(w)).toFixed(2) : '–',
          w.load ? ms(w.load.latency.p50) : '–',
          w.load ? ms(w.load.latency.p99) : '–',
          w.load ? `${k(refused(w.load))} of ${k(w.load.requests + w.load.errors)}${refused(w.load) > 0 ? ` (${statusList(w.load)})` : ''}` : '–',
          w.load && isTickql && machine.postgres ? ratio(w.load.okPerSecond / postgresOf(w)) : '–',
          w.check ? (w.check.ok ? 'right' : '**wrong** (see Failed)') : '–',
          w.lag ? `${ms(w.lag.sent.p50)} / ${ms(w.lag.sent.p99)}` : '–',
          isTickql ? `${k(w.updatesPerSecond)} → ${k(w.publishedPerSecond ?? NaN)}` : k(w.updatesPerSecond),
        ];
      }),
    };
  });

  const tickqlCpu: Table = {
    caption: `CPU, tickql runs (cores of the machine's ${cpus().length}, over each window; CPU per response = CPU over the load's run / responses of any status)`,
    columns: [
      'markets',
      'system',
      'shape',
      'CPU ms per response: tickql tree',
      'serving',
      'ingest',
      'cores: ingest',
      'serving',
      'supervisor',
      'Redis',
      'exchanges',
      'autocannon',
      'bench (scenario, Redis monitor)',
      'everything else',
      'load avg (1 min)',
    ],
    rows: runs.flatMap((r) =>
      r.windows.map((w) => {
        const u = w.cpu.used;
        const tree = (u.supervisor ?? 0) + (u.ingest ?? 0) + (u.serve ?? 0);
        return [
          w.size.toLocaleString('en'),
          w.system,
          w.shape?.name ?? 'idle (no queries)',
          perRequest(tree, w.load),
          perRequest(u.serve, w.load),
          perRequest(u.ingest, w.load),
          cores(u.ingest, w.cpu.seconds),
          cores(u.serve, w.cpu.seconds),
          cores(u.supervisor, w.cpu.seconds),
          cores(u.redis, w.cpu.seconds),
          cores(u.exchanges, w.cpu.seconds),
          cores(u.autocannon, w.cpu.seconds),
          cores(u.bench, w.cpu.seconds),
          cores(w.cpu.other, w.cpu.seconds),
          w.loadAverage.toFixed(1),
        ];
      }),
    ),
  };

  const postgresCpu: Table = {
    caption: 'CPU, PostgreSQL baseline (cores, over each load; PostgreSQL backends found by `application_name` in pg_stat_activity)',
    columns: [
      'markets',
      'shape',
      'CPU ms per response: GraphQL server',
      'PostgreSQL query backends',
      'cores: GraphQL server',
      'query backends',
      'writer (process and backend)',
      'autocannon',
      'bench',
      'everything else',
      'load avg (1 min)',
    ],
    rows: baseline.map((w) => {
      const u = w.cpu.used;
      return [
        w.size.toLocaleString('en'),
        w.shape!.name,
        perRequest(u.server, w.load),
        perRequest(u.backends, w.load),
        cores(u.server, w.cpu.seconds),
        cores(u.backends, w.cpu.seconds),
        cores(u.writer, w.cpu.seconds),
        cores(u.autocannon, w.cpu.seconds),
        cores(u.bench, w.cpu.seconds),
        cores(w.cpu.other, w.cpu.seconds),
        w.loadAverage.toFixed(1),
      ];
    }),
  };

  const runTable: Table = {
    caption: "tickql runs: one process tree each, fed by its own local exchanges and Redis; feed leases lost from tickql's log",
    columns: ['markets', 'system', 'listed (whole listings)', 'every market served after s', 'feed leases lost: start-up / while measuring', 'serving processes', 'killed after SIGTERM'],
    rows: runs.map((r) => [
      r.size.toLocaleString('en'),
      r.system,
      r.listed,
      r.servedAfterS === null ? `not within ${sizes.servedTimeoutMs / 1000} s` : r.servedAfterS.toFixed(1),
      `${r.leaseLosses.startUp} / ${r.error ? '–' : r.leaseLosses.measuring}`,
      r.error ? '–' : r.servingProcesses,
      r.killed.length === 0 ? 'none' : r.killed.join(', '),
    ]),
  };

  const charts: BarChart[] = measuredSizes.map((size) => ({
    file: `markets-query-${size}.svg`,
    title: `markets query at ${size.toLocaleString('en')} markets, ingesting ${sizes.updatesPerSecond.toLocaleString('en')} updates/s`,
    unit: `HTTP 200 answers per second, ${CONNECTIONS} connections (log scale; longer is better)`,
    log: true,
    groups: shapesFor(size).map((shape) => ({
      label: shape.name,
      bars: systems.flatMap((system) => {
        const w = windows.find((x) => x.size === size && x.system === system && x.shape?.name === shape.name);
        return w?.load ? [{ label: system, value: w.load.okPerSecond }] : [];
      }),
    })),
  }));

  const failures: string[] = [];
  for (const r of runs.filter((x) => x.error)) {
    failures.push(`${r.size.toLocaleString('en')} markets, ${r.system}: **tickql did not serve every market in time**, so this run measured nothing: ${r.error}; it lost a feed lease ${r.leaseLosses.startUp} times meanwhile.`);
  }
  for (const group of [...runs.map((r) => r.windows), ...sizes.markets.map((size) => baseline.filter((w) => w.size === size))]) {
    const loaded = group.filter((w) => w.load && refused(w.load) > 0);
    if (loaded.length === 0) continue;
    const first = group[0]!;
    const total = loaded.reduce((n, w) => n + refused(w.load!), 0);
    const responses = group.reduce((n, w) => n + (w.load ? w.load.requests + w.load.errors : 0), 0);
    failures.push(
      `${first.size.toLocaleString('en')} markets, ${first.system}: **${k(total)} of ${k(responses)} requests were not answered 200**, in ${loaded.length} of ${group.filter((w) => w.load).length} shapes (${loaded
        .map((w) => `${w.shape!.name}: ${k(refused(w.load!))} of ${k(w.load!.requests + w.load!.errors)}, ${statusList(w.load!)}`)
        .join('; ')}).`,
    );
  }
  for (const w of windows.filter((x) => x.check && !x.check.ok)) {
    failures.push(`${w.size.toLocaleString('en')} markets, ${w.system}, ${w.shape!.name}: **the answer after the run was wrong**: ${w.check!.detail}.`);
  }

  const findings: string[] = [];
  const refusedRuns = new Set(windows.filter((w) => w.load && refused(w.load) > 0).map((w) => `${w.size}|${w.system}`));
  const measured = runs.filter((r) => !r.error);
  for (const r of measured) {
    const parts = r.windows
      .filter((w) => w.shape?.floorTarget)
      .map((w) => {
        const share = w.load!.okPerSecond / floorOf(w);
        return `${w.shape!.name} ${share.toFixed(2)} (${share >= w.shape!.floorTarget! ? 'met' : 'missed'})`;
      });
    const floor = r.windows.find((w) => w.shape === FLOOR)?.load?.okPerSecond ?? NaN;
    findings.push(
      `Target "top-50 at least ${TOP_TARGET} of the floor, the other shapes at least ${OTHER_TARGET}", ${r.size.toLocaleString('en')} markets, ${r.system} (floor ${k(floor)} answers/s): ${parts.join(', ')}` +
        (refusedRuns.has(`${r.size}|${r.system}`) ? '. **Not a measure of query cost**: requests were refused (see Failed), so these are ratios of what the rate limit let through.' : '.'),
    );
  }
  if (machine.postgres) {
    for (const size of sizes.markets) {
      const target = TARGET_VS_POSTGRES.get(size);
      for (const system of systems.filter((s) => s !== 'PostgreSQL')) {
        const parts = windows
          .filter((w) => w.size === size && w.system === system && w.shape && w.shape !== FLOOR)
          .map((w) => {
            const x = w.load!.okPerSecond / postgresOf(w);
            return `${w.shape!.name} ${ratio(x)}${target ? ` (${x >= target ? 'met' : 'missed'})` : ''}`;
          });
        if (parts.length === 0) continue;
        findings.push(`${target ? `Target "at least ${target}x the PostgreSQL baseline"` : 'tickql over the PostgreSQL baseline'}, ${size.toLocaleString('en')} markets, ${system} (HTTP 200 answers/s): ${parts.join(', ')}.`);
      }
    }
  } else {
    findings.push('PostgreSQL was not reachable, so its baseline was skipped.');
  }
  for (const size of sizes.markets.filter((x) => !measuredSizes.includes(x))) {
    findings.push(
      `**No figures at ${size.toLocaleString('en')} markets**: no tickql run served every market (see Failed), so nothing was measured there${machine.postgres ? ', and the PostgreSQL baseline, which is given the markets tickql served, was skipped at that size' : ''}.`,
    );
  }
  const p99Size = sizes.markets.includes(TARGET_P99_AT) ? TARGET_P99_AT : sizes.markets[0]!;
  for (const system of systems.filter((s) => s !== 'PostgreSQL')) {
    const at = windows.filter((w) => w.size === p99Size && w.system === system && w.shape && w.shape !== FLOOR);
    if (at.length === 0) continue;
    const worst = Math.max(...at.map((w) => w.load!.latency.p99));
    findings.push(
      `Target "p99 at most ${TARGET_P99_MS} ms at ${p99Size.toLocaleString('en')} markets", ${system}: ${worst <= TARGET_P99_MS ? 'met' : 'missed'} (p99 ${at.map((w) => `${w.shape!.name} ${ms(w.load!.latency.p99)}`).join(', ')} ms, of HTTP 200 answers).`,
    );
  }
  const checks = windows.filter((w) => w.check);
  findings.push(`Answers after the runs: ${checks.filter((w) => w.check!.ok).length} of ${checks.length} right (tickql and PostgreSQL, every shape, every run).`);
  for (const r of measured) {
    const idle = r.windows.find((w) => w.shape === null)!;
    const loaded = r.windows.filter((w) => w.shape !== null);
    const worst = loaded.reduce((a, w) => (w.lag!.sent.p99 > a.lag!.sent.p99 ? w : a), loaded[0]!);
    findings.push(
      `Ingest lag (frame sent → visible in Redis), ${r.size.toLocaleString('en')} markets, ${r.system}: p50 / p99 ${ms(idle.lag!.sent.p50)} / ${ms(idle.lag!.sent.p99)} ms idle; under query load p99 from ${ms(Math.min(...loaded.map((w) => w.lag!.sent.p99)))} to ${ms(worst.lag!.sent.p99)} ms (the worst under "${worst.shape!.name}").`,
    );
  }
  const lost = runs.filter((r) => r.leaseLosses.startUp + r.leaseLosses.measuring > 0);
  if (lost.length > 0) {
    findings.push(
      `tickql lost feed leases (its log: \`stopped ingesting feed <id>: no lease renewal succeeded ...\`; the feed stops, is taken again and resubscribes every market): ${lost
        .map((r) => `${r.size.toLocaleString('en')} markets, ${r.system}: ${r.leaseLosses.startUp} times before every market was served${r.error ? '' : `, ${r.leaseLosses.measuring} while measuring`}`)
        .join('; ')}. A likely cause, not measured here: the ingest process renews its leases on the Redis connection its writes use (src/processes/ingest.ts), so a renewal can wait behind a backlog of writes, such as every market's first state after a (re)subscription.`,
    );
  }
  findings.push(
    `The machine: 1-minute load average ${machine.loadBefore[0]!.toFixed(2)} before the scenario and ${machine.loadAfter[0]!.toFixed(2)} after (its own processes included); ${machine.otherBefore} before it, ${machine.otherAfter} after it. ` +
      `"Everything else" in the CPU tables is the machine's busy time minus every process of the bench. Logs of each tickql: ${context.smoke ? 'removed (smoke)' : machine.logDir}.`,
  );

  return {
    title: '1. markets query',
    method: methodText(context, sizes),
    tables: [...throughput, tickqlCpu, ...(machine.postgres ? [postgresCpu] : []), runTable],
    charts: context.smoke ? [] : charts,
    findings,
    failures,
  };
}

function methodText(context: ScenarioContext, sizes: Sizes): string {
  return [
    `**tickql as a user runs it.** Built once with \`npm run build\`, then \`node --enable-source-maps dist/main.js\` (what \`npm start\` runs; bench/lib/service.ts, bench/lib/live-service.ts): the supervisor, one ingest process and \`WORKERS\` serving processes sharing the port. ` +
      `**Default configuration**: its environment has only \`REDIS_URL\` (a private Redis per run), \`PORT\`, \`FEEDS=${EXCHANGES.join(',')}\` and each exchange's \`_WS_URL\` and \`_REST_URL\`; nothing lifts a limit, so per-address rate limits and the page cache (\`QUERY_CACHE_MS=50\`, \`QUERY_CACHE_STALE_MS=1000\`) are on as shipped. ` +
      `Two runs per size: \`WORKERS=1\`, and \`WORKERS\` unset (its default, one per core). ` +
      `**Fed by five local exchanges**, each in a process of its own (bench/servers/local-exchange.ts: \`BinanceSim\` and the Coinbase, Kraken, OKX and Bybit servers of test/support/exchanges/, speaking each exchange's protocol and enforcing its limits), listing ${sizes.markets.map((s) => s.toLocaleString('en')).join(' and then ')} markets between them, an equal share each (built-in pairs, then synthetic markets; at 50,000 each lists ${DEFAULT_MAX_LISTED_SYMBOLS.toLocaleString('en')}, the most one feed takes from a listing by default); no \`<EXCHANGE>_SYMBOLS\`, so tickql reads and subscribes each whole listing. ` +
      `The exchanges send ${sizes.updatesPerSecond.toLocaleString('en')} ticker updates/s in all (random subscribed markets, shared by listing size) from before tickql starts. Measuring starts once every listed market is served through the API (a run that does not get there within ${sizes.servedTimeoutMs / 1000} s measures nothing and fails).`,
    `**Load**: autocannon in a process of its own (bench/clients/query-load.ts), ${CONNECTIONS} connections from 127.0.0.1 with one request in flight each, one shape at a time, ${context.durationS} s of measured window (the load starts ${(sizes.settleMs / 1000).toFixed(1)} s before it and ends as long after; throughput is over the load's whole run). ` +
      `Throughput counts **HTTP 200 answers only**; any other status (a 429 from the rate limit) or a request without answer is counted apart and fails the scenario. Latencies are of 200 answers, from an HDR histogram at microsecond resolution. ` +
      `Shapes: the **floor** \`{ __typename }\` (what the GraphQL stack costs with no data), then ${shapesFor(sizes.markets[0]!)
        .slice(1)
        .map((s) => `**${s.name.replace(/offset [\d,]+/, 'offset markets / 2')}** (\`${s.fields.length > 10 ? s.graphql.replace(/items \{[^}]*\}/, 'items { …every Market field… }') : s.graphql.replace(/offset: \d+/, 'offset: <markets / 2>')}\`)`)
        .join(', ')}. Each shape's throughput is given as a share of the floor's in the same process and run.`,
    `**Answers checked after every measured run**: the exchanges are paused, and once no PUBLISH has arrived for ${QUIET_MS} ms (tickql has written everything it received), the shape is asked once more (from 127.0.0.2, so the load's exhausted per-address budget does not refuse the check) and compared with the page the reference implementation (test/support/reference-query.ts, as fetch-and-sort) computes over every market in Redis at that moment: the total, and every selected field of every item (\`stale\` as tickql's own rule gives it at the request's send or answer time). Then the exchanges resume. A wrong answer fails the scenario.`,
    `**Ingest lag** in each window: frame sent by the local exchange (its event time, which tickql stores as \`updatedAt\`; whole milliseconds, so up to 1 ms high) → the market's PUBLISH reaching a plain Redis subscriber in a process of its own (bench/clients/publish-monitor.ts; tickql writes and publishes in one Lua call), idle (no queries, first window of each run) and under each shape's load. ` +
      `**CPU** from /proc per process over each window: tickql's tree by kind (\`TICKQL_PROCESS\` in each child's environment), Redis, the exchanges, autocannon, the bench itself, and everything else on the machine (/proc/stat busy time minus all of those).`,
    `**Baseline: PostgreSQL**, when it answers at \`POSTGRES_URL\`: the markets tickql served at that size (read from its Redis at the end of its last run) in one table with an index per sort order and filter column and a trigram index for search (bench/sources/postgres.ts), behind the same yoga server and schema in a process of its own (bench/servers/query-server.ts, a pool of 8 connections), answering the same shapes with the same load, while a writer process (bench/servers/market-writer.ts) applies ${sizes.updatesPerSecond.toLocaleString('en')} updates/s to random markets of that universe (an \`UPDATE ... FROM unnest\` per 20 ms batch) during each measurement. ` +
      `After each run the writer stops and the answer is checked the same way against the reference over the whole table. Its \`stale\` comes from the same rule over a Redis side where no feed reports, so it is true for every market.`,
  ].join('\n\n');
}
