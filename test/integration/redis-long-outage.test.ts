/**
 * Redis killed for longer than every retry budget (ioredis fails the commands waiting for a
 * connection at every third reconnection attempt, a few seconds apart; commands time out
 * after 5 s; coverage updates retry every 5 s) while clients do what clients do: graphql-ws
 * clients subscribe, unsubscribe and vanish without a close frame, SSE clients connect and
 * drop, queries arrive, and the exchange keeps sending. The real process (src/main.ts, run as
 * a child so that a crash shows as its exit) must stay up throughout, answer every query
 * promptly, log each repeated failure once rather than per retry, and recover everything once
 * Redis is back on the same port: queries, subscriptions made before the outage and after it,
 * ingest, and no Redis subscription left behind by the clients that left meanwhile.
 */
import { once } from 'node:events';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import { startListeningTickql, type LogLine, type TickqlProcess } from '../support/tickql-process';
import { sleep } from '../support/wait-for';

const MARKETS = 20;
/** Longer than every retry budget and retry interval of the process (see the header). */
const OUTAGE_MS = 12_000;
/** A query that takes longer than this during the outage is hanging. */
const QUERY_DEADLINE_MS = 6_000;


const WARN = 40;

interface GraphqlBody {
  data?: any;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

describe('Redis down longer than every retry budget', () => {
  let redis: LocalRedis;
  let sim: BinanceSim;
  let tickql: TickqlProcess;
  let url = '';
  let logs: readonly LogLine[] = [];
  const exit = () => tickql.exit();
  const stderr = () => tickql.stderr();
  const clients: Client[] = [];

  const wsUrl = () => url.replace('http', 'ws');

  async function graphql(query: string): Promise<GraphqlBody> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(QUERY_DEADLINE_MS),
    });
    return (await response.json()) as GraphqlBody;
  }

  function client(): Client {
    const c = createClient({ url: wsUrl(), webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.push(c);
    return c;
  }

  /** A graphql-ws subscription by hand, so that the client can vanish without a close frame. */
  async function rawSubscription(query: string): Promise<WebSocket> {
    const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
    socket.on('error', () => {});
    await once(socket, 'open');
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await once(socket, 'message');
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
    return socket;
  }

  /** An SSE subscription that reads for `ms`, then drops the connection. */
  async function sseVisit(query: string, ms: number): Promise<void> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      const response = await fetch(`${url}?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
      const reader = response.body!.getReader();
      while (!(await reader.read()).done) {
        // read until dropped
      }
    } catch {
      // dropped
    } finally {
      clearTimeout(timer);
    }
  }

  beforeAll(async () => {
    redis = await startLocalRedis(); // this test's own server: it is killed and restarted
    sim = await BinanceSim.start({ markets: MARKETS, tickMs: 200, pingIntervalMs: 0 });
    tickql = await startListeningTickql({
      REDIS_URL: redis.url,
      FEEDS: 'binance',
      WORKERS: '1', // one ingest and one serving process: both kinds, and a light load beside the other tests
      BINANCE_WS_URL: sim.wsUrl,
      BINANCE_REST_URL: sim.restUrl,
      INGEST_BATCH_MS: '20',
    });
    url = tickql.url();
    logs = tickql.logs;
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await tickql?.stop();
    await sim?.close();
    await redis?.stop();
  });

  it('keeps the process up through the outage and recovers everything when Redis returns', async () => {
    await expect.poll(async () => (await graphql('{ markets { total } }')).data?.markets.total, { timeout: 10_000 }).toBe(MARKETS);

    // Subscribed before the outage: it must resume afterwards.
    const before: number[] = [];
    client().subscribe(
      { query: 'subscription { priceUpdated(exchanges: ["binance"]) { id } }' },
      { next: () => before.push(Date.now()), error: () => {}, complete: () => {} },
    );
    await expect.poll(() => before.length, { timeout: 10_000 }).toBeGreaterThan(0);

    // Most subscriptions below are alone on their Redis channel or pattern, so releasing one
    // unsubscribes in Redis, and making one subscribes in Redis.
    const ids = sim.symbols.map((s) => `binance:${s.base}/${s.quote}`);
    let made = 0;
    const nextSubscription = (): string => {
      const n = made++;
      const id = ids[n % ids.length]!;
      const selection = [`ids: ["${id}"]`, `symbols: ["${id.split(':')[1]}"]`, `ids: ["${id}", "${ids[(n + 7) % ids.length]}"]`][n % 3];
      return `subscription { priceUpdated(${selection}) { id price } }`;
    };

    // Subscribed before the outage and released during it: by vanishing, or by unsubscribing.
    const vanishing: WebSocket[] = [];
    const leaving: Array<() => Promise<void>> = [];
    for (let i = 0; i < 6; i++) {
      const socket = await rawSubscription(nextSubscription());
      await once(socket, 'message'); // its first update: the Redis subscription is made
      vanishing.push(socket);
      const c = client();
      let received = 0;
      const unsubscribe = c.subscribe({ query: nextSubscription() }, { next: () => received++, error: () => {}, complete: () => {} });
      await expect.poll(() => received, { timeout: 10_000 }).toBeGreaterThan(0);
      leaving.push(async () => {
        unsubscribe();
        await c.dispose();
      });
    }

    await redis.kill();
    const outageStarted = Date.now();

    // The clients' activity during the outage.
    const queryDurations: number[] = [];
    const answers = { unavailable: 0, withData: 0 };
    let round = 0;
    while (Date.now() - outageStarted < OUTAGE_MS && exit() === null) {
      round++;
      const work: Array<Promise<unknown>> = [];
      vanishing.pop()?.terminate();
      work.push(leaving.pop()?.() ?? Promise.resolve());
      // Vanishes without a close frame, with its subscription still being made or made.
      work.push(
        rawSubscription(nextSubscription()).then(async (socket) => {
          await sleep(round % 2 === 0 ? 0 : 300);
          socket.terminate();
        }),
      );
      // Subscribes and unsubscribes cleanly, then disconnects.
      work.push(
        (async () => {
          const c = client();
          const unsubscribe = c.subscribe({ query: nextSubscription() }, { next: () => {}, error: () => {}, complete: () => {} });
          await sleep(200 + (round % 3) * 400);
          unsubscribe();
          await c.dispose();
        })(),
      );
      work.push(sseVisit(nextSubscription(), 150 + (round % 4) * 300));
      for (const query of ['{ markets { total items { id } } }', '{ market(id: "binance:BTC/USDT") { price } }', '{ feeds { exchange status } }']) {
        work.push(
          (async () => {
            const started = Date.now();
            const body = await graphql(query);
            queryDurations.push(Date.now() - started);
            if (body.data && !body.errors) answers.withData++; // a cached page
            else {
              for (const error of body.errors ?? []) expect(error.extensions?.code).toBe('SERVICE_UNAVAILABLE');
              answers.unavailable++;
            }
          })(),
        );
      }
      await Promise.all(work);
      await sleep(250);
    }

    expect(exit(), `the process exited during the outage; stderr:\n${stderr()}`).toBeNull();
    expect(Math.max(...queryDurations)).toBeLessThan(QUERY_DEADLINE_MS);
    expect(answers.unavailable).toBeGreaterThan(0);
    // The ingest process stayed up too. Its feeds stopped once their leases could no longer be
    // renewed (it cannot know whether another process took them over: src/feed-leases.ts), and
    // are taken up again below, when Redis is back.
    expect(logs.some((l) => /process died/.test(String(l.msg)))).toBe(false);

    // Back, empty, on the same port.
    redis = await startLocalRedis({ port: redis.port });
    const back = Date.now();
    await expect.poll(async () => (await graphql('{ markets { total } }').catch(() => null))?.data?.markets?.total, { timeout: 15_000 }).toBe(MARKETS);
    await expect.poll(async () => (await graphql('{ feeds { exchange status } }')).data?.feeds, { timeout: 10_000 }).toEqual([{ exchange: 'binance', status: 'LIVE' }]);
    expect((await graphql('{ market(id: "binance:BTC/USDT") { id } }')).data).toEqual({ market: { id: 'binance:BTC/USDT' } });
    await expect.poll(() => before.filter((t) => t > back).length, { timeout: 10_000 }).toBeGreaterThan(0);
    const after: unknown[] = [];
    client().subscribe({ query: 'subscription { priceUpdated(ids: ["binance:BTC/USDT"]) { id } }' }, { next: (r) => after.push(r), error: () => {}, complete: () => {} });
    await expect.poll(() => after.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(exit(), `the process exited after the outage; stderr:\n${stderr()}`).toBeNull();

    // What the clients released during the outage is released in Redis too: what is left
    // is the subscription made before the outage (a pattern) and the one made after it, beside
    // the serving process's own feed-status channel.
    const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await direct.connect();
      await expect.poll(() => direct.pubsub('CHANNELS', '*'), { timeout: 10_000 }).toEqual(expect.arrayContaining(['tickql:tick:binance:BTC/USDT', 'tickql:feed-status']));
      expect(await direct.pubsub('CHANNELS', '*')).toHaveLength(2);
      expect(await direct.pubsub('NUMPAT')).toBe(1);
    } finally {
      direct.disconnect();
    }

    // Each failure that repeated was logged once, without a stack trace, and then said when
    // it cleared.
    const since = logs.filter((l) => (l.time as number) >= outageStarted);
    const warnings = since.filter((l) => l.level >= WARN);
    expect(warnings.filter((l) => l.err !== undefined)).toEqual([]);
    const streaks = warnings.map((l) => / failing \(/.exec(l.msg) && l.msg.slice(0, l.msg.indexOf(' failing ('))).filter((what): what is string => typeof what === 'string');
    expect(streaks).toEqual(expect.arrayContaining(['market writes', 'Redis connection (commands)', 'Redis connection (subscriber)', 'feed health writes', 'reading feed statuses', 'Redis pub/sub subscribe/unsubscribe']));
    // Once each in each process (the supervisor runs an ingest and serving processes).
    const perProcess = warnings.filter((l) => / failing \(/.test(l.msg)).map((l) => `${String(l.pid)} ${l.msg.slice(0, l.msg.indexOf(' failing ('))}`);
    expect(new Set(perProcess).size).toBe(perProcess.length);
    for (const what of streaks) {
      await expect.poll(() => logs.some((l) => l.msg.startsWith(`${what} resumed after `)), { timeout: 5000, message: `${what} resumed` }).toBe(true);
    }
  }, 90_000);
});
