/**
 * tickql fed by local exchanges, the way a user runs it: a private Redis, one local exchange
 * server per exchange in a child process of its own (bench/servers/local-exchange.ts, so their
 * CPU is not tickql's), each listing a given number of markets and ticking at its share of a
 * total update rate, and tickql's real process tree (`npm start`'s bundle, bench/lib/service.ts;
 * call `buildBundle()` once first) in its default configuration: its environment has only what
 * points it at Redis and the exchanges (`REDIS_URL`, `PORT`, `FEEDS`, `<EXCHANGE>_WS_URL`,
 * `<EXCHANGE>_REST_URL`; no `<EXCHANGE>_SYMBOLS`, so each feed reads its exchange's whole
 * listing) plus what the caller adds (`WORKERS`). `start` resolves once every listed market is
 * served through the GraphQL API; a failure on the way stops whatever had started.
 *
 * The exchanges can be paused and resumed (their ticking set to 0 and back), so a scenario can
 * freeze the state and compare an answer with the state it was computed from.
 */
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import type { LocalExchangeInfo, LocalExchangeStats } from '../servers/local-exchange';
import type { LocalExchangeId } from './exchange-listing';
import { CHECK_ADDRESS, postGraphql, type GraphqlReply } from './graphql-post';
import { startIpcChild, type IpcChild } from './ipc-child';
import { freePort, serviceEnv, startService, type ServiceProcess } from './service';

export interface LiveServiceOptions {
  /** Markets each local exchange lists (its built-in pairs first, then synthetic ones). */
  readonly listings: Readonly<Partial<Record<LocalExchangeId, number>>>;
  /** Ticker updates per second over all the exchanges, shared in proportion to listing size. */
  readonly updatesPerSecond: number;
  /** tickql variables besides those pointing it at Redis and the exchanges, e.g. `WORKERS`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Where the tree's stdout and stderr go: `<logPrefix>.stdout.log`, `.stderr.log`. */
  readonly logPrefix: string;
  readonly servedTimeoutMs: number;
}

export interface LocalExchange {
  readonly id: LocalExchangeId;
  readonly child: IpcChild;
  readonly info: LocalExchangeInfo;
  readonly updatesPerSecond: number;
}

export class LiveService {
  private constructor(
    readonly redis: LocalRedis,
    /** A connection of the bench's own to that Redis, for reading the state. */
    readonly admin: Redis,
    readonly redisPid: number,
    readonly exchanges: readonly LocalExchange[],
    readonly service: ServiceProcess,
    /** `http://127.0.0.1:<port>/graphql`. */
    readonly graphqlUrl: string,
    /** Markets listed over all the exchanges: what tickql serves once it has everything. */
    readonly markets: number,
    /** Seconds from spawning tickql until every market was served. */
    readonly servedAfterS: number,
  ) {}

  static async start(options: LiveServiceOptions): Promise<LiveService> {
    const ids = Object.keys(options.listings) as LocalExchangeId[];
    const listed = ids.reduce((sum, id) => sum + options.listings[id]!, 0);
    let redis: LocalRedis | null = null;
    let admin: Redis | null = null;
    let service: ServiceProcess | null = null;
    const children: IpcChild[] = [];
    try {
      const started = await Promise.allSettled([
        startLocalRedis(),
        ...ids.map(async (id) => {
          const child = await startIpcChild('bench/servers/local-exchange.ts', { EXCHANGE: id, LISTING_SIZE: String(options.listings[id]) });
          children.push(child);
          return child;
        }),
      ]);
      if (started[0]!.status === 'fulfilled') redis = started[0]!.value as LocalRedis;
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      admin = new Redis(redis!.url);
      const redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);

      const exchanges: LocalExchange[] = [];
      for (const [i, id] of ids.entries()) {
        const child = (started[i + 1] as PromiseFulfilledResult<IpcChild>).value;
        const info = await child.request<LocalExchangeInfo>('info');
        exchanges.push({ id, child, info, updatesPerSecond: (options.updatesPerSecond * info.listing.length) / listed });
      }
      const markets = exchanges.reduce((sum, e) => sum + e.info.listing.length, 0);

      const port = await freePort();
      const env: Record<string, string> = { REDIS_URL: redis!.url, PORT: String(port), FEEDS: ids.join(','), ...options.env };
      for (const e of exchanges) {
        env[`${e.id.toUpperCase()}_WS_URL`] = e.info.wsUrl;
        env[`${e.id.toUpperCase()}_REST_URL`] = e.info.restUrl;
      }
      for (const e of exchanges) await e.child.request('tick', { updatesPerSecond: e.updatesPerSecond });
      service = startService(serviceEnv(env), options.logPrefix, { bundle: true });
      const graphqlUrl = `http://127.0.0.1:${port}/graphql`;
      await waitServed(graphqlUrl, service, markets, options.servedTimeoutMs);
      return new LiveService(redis!, admin, redisPid, exchanges, service, graphqlUrl, markets, (performance.now() - service.spawnedAt) / 1000);
    } catch (err) {
      await service?.stop();
      await Promise.all(children.map((c) => c.stop()));
      admin?.disconnect();
      await redis?.stop();
      throw err;
    }
  }

  /** Stops every exchange's ticking: no more frames are sent until `resume`. */
  async pause(): Promise<void> {
    await Promise.all(this.exchanges.map((e) => e.child.request('tick', { updatesPerSecond: 0 })));
  }

  async resume(): Promise<void> {
    await Promise.all(this.exchanges.map((e) => e.child.request('tick', { updatesPerSecond: e.updatesPerSecond })));
  }

  /** Ticker updates the exchanges have sent so far, all together. */
  async sent(): Promise<number> {
    const stats = await Promise.all(this.exchanges.map((e) => e.child.request<LocalExchangeStats>('stats')));
    return stats.reduce((sum, s) => sum + s.ticks, 0);
  }

  /** The exchanges' pids, for counting their CPU. */
  get exchangePids(): readonly number[] {
    return this.exchanges.map((e) => e.child.pid);
  }

  /** One GraphQL request from the bench's own address (`CHECK_ADDRESS`), not the load's. */
  query(document: string): Promise<GraphqlReply> {
    return postGraphql(this.graphqlUrl, document, { localAddress: CHECK_ADDRESS });
  }

  private stopping: Promise<number[]> | null = null;

  /** Stops tickql (resolving with the pids that had to be killed), the exchanges and Redis; the same promise on every call. */
  stop(): Promise<number[]> {
    this.stopping ??= (async () => {
      const killed = await this.service.stop();
      await Promise.all(this.exchanges.map((e) => e.child.stop()));
      this.admin.disconnect();
      await this.redis.stop();
      return killed;
    })();
    return this.stopping;
  }
}

/** Waits until tickql answers and `{ markets { total } }` reaches `expected`, asking from `CHECK_ADDRESS` every 200 ms. */
export async function waitServed(graphqlUrl: string, service: ServiceProcess, expected: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let total = 0;
  while (performance.now() < deadline) {
    if (service.exited() !== null) throw new Error(`tickql exited (${service.exited()}) before serving; see ${service.stderrPath}`);
    try {
      const reply = await postGraphql(graphqlUrl, '{ markets(page: { limit: 1 }) { total } }', { localAddress: CHECK_ADDRESS, timeoutMs: 2000 });
      total = (reply.body?.data as { markets?: { total: number } } | undefined)?.markets?.total ?? 0;
      if (total >= expected) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`tickql served ${total} of ${expected} markets after ${timeoutMs} ms; see ${service.stdoutPath}`);
}

/** Lines of a log file (tickql's stdout: pino's JSON lines) containing `fragment`; 0 when the file is missing. */
export async function countLogLines(path: string, fragment: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((line) => line.includes(fragment)).length;
  } catch {
    return 0;
  }
}
