/**
 * Bench child: one tickql process ingesting from local exchange simulators (bench/servers/
 * exchange-sim.ts), built with the product's own `buildApp` and configured through the
 * product's environment variables: `REDIS_URL`, `FEEDS=binance`, `BINANCE_WS_URL`,
 * `BINANCE_REST_URL`, `BINANCE_SYMBOLS`, `INGEST_BATCH_MS`, `LOG_LEVEL`, `PORT`, `HOST`.
 *
 * One Binance connection carries at most 1024 streams, and `FEEDS` names each exchange once,
 * so for more markets `INGEST_EXTRA_SIMS` (JSON `[{wsUrl, restUrl, symbols}]`) adds one more
 * Binance feed per simulator, with exchange ids `binance2`, `binance3`, ..., wired exactly as
 * `buildApp` wires its own: `Feed` -> the app's `BatchWriter`.
 *
 *   INGEST_WRITER=per-update  the baseline: every normalized update is written at once with
 *                             its own lua/upsertMarkets-n.lua call (same script, same indexes,
 *                             same publish; ioredis pipelines the calls of one tick), instead
 *                             of being coalesced and batched by BatchWriter.
 *                             At most PER_UPDATE_MAX_OUTSTANDING calls wait for Redis; updates
 *                             beyond that are dropped and counted as `shed`, so an overloaded
 *                             run cannot exhaust memory.
 *
 * Started with `startIpcChild`; ready once every feed is LIVE and markets reach Redis. Requests:
 * `stats` -> `IngestStats` (cumulative counters and its own CPU time); `profileStart`, then
 * `profileStop {path}` to sample its CPU over a window and write the profile to `path`.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { Feed } from '../../src/ingest/feed';
import type { Market } from '../../src/market';
import { createLogger } from '../../src/logger';
import { callScript } from '../../src/redis/scripts';
import { upsertArguments } from '../../src/redis/upsert-markets';
import { serveRequests } from '../lib/ipc-child';

/** What a `stats` request answers; every counter is cumulative since start. */
export interface IngestStats {
  /** Wall clock, epoch ms. */
  readonly at: number;
  /** Frames received over every feed's socket (data, acks, errors). */
  readonly frames: number;
  /** Normalized market updates handed to the writer. */
  readonly updates: number;
  /** Markets written to Redis (applied by the script). */
  readonly written: number;
  /** Writes completed: BatchWriter flushes (each one pipeline of 256-market script calls), or script calls of the baseline. */
  readonly batches: number;
  /** Per-update baseline only: updates dropped because too many calls were outstanding. */
  readonly shed: number;
  /** This process's CPU time, microseconds (process.cpuUsage). */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

const PER_UPDATE_MAX_OUTSTANDING = 20_000;

const config = loadConfig();
const logger = createLogger(config.logLevel);
const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
const app = await buildApp(config, logger, { url: redisUrl, privateServer: null });

const extraSims = JSON.parse(process.env.INGEST_EXTRA_SIMS ?? '[]') as Array<{ wsUrl: string; restUrl: string; symbols: string[] }>;
const extraFeeds = extraSims.map(
  (sim, i) =>
    new Feed({
      adapter: createBinanceAdapter({ exchange: `binance${i + 2}`, wsUrl: sim.wsUrl, restUrl: sim.restUrl }),
      symbols: { kind: 'configured', symbols: sim.symbols },
      onMarket: (market) => app.writer.push(market),
      logger,
    }),
);
const feeds = [...app.feeds, ...extraFeeds];

const perUpdate = { updates: 0, written: 0, calls: 0, shed: 0, outstanding: 0 };
if (process.env.INGEST_WRITER === 'per-update') {
  const { redis, keys } = app.services;
  // The feeds call `writer.push` through a closure, so replacing it here reroutes every update.
  app.writer.push = (market: Market) => {
    perUpdate.updates++;
    if (perUpdate.outstanding >= PER_UPDATE_MAX_OUTSTANDING) {
      perUpdate.shed++;
      return;
    }
    perUpdate.outstanding++;
    const call = upsertArguments(keys, [market]);
    (callScript(redis, 'upsertMarkets', call.keys, call.args) as Promise<[number, number]>).then(
      ([applied]) => {
        perUpdate.outstanding--;
        perUpdate.calls++;
        perUpdate.written += applied;
      },
      (err: unknown) => {
        perUpdate.outstanding--;
        logger.warn({ err }, 'per-update write failed');
      },
    );
  };
}

function stats(): IngestStats {
  const cpu = process.cpuUsage();
  const w = app.writer.stats;
  const baseline = process.env.INGEST_WRITER === 'per-update';
  return {
    at: Date.now(),
    frames: feeds.reduce((sum, f) => sum + f.health().messages, 0),
    updates: baseline ? perUpdate.updates : w.received,
    written: baseline ? perUpdate.written : w.written,
    batches: baseline ? perUpdate.calls : w.batches,
    shed: perUpdate.shed,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
  };
}

await app.start();
for (const feed of extraFeeds) feed.start();

const deadline = Date.now() + 20_000;
while (feeds.some((f) => f.health().status !== 'LIVE') || stats().written === 0) {
  if (Date.now() > deadline) throw new Error(`feeds not live with data within 20 s: ${JSON.stringify(feeds.map((f) => f.health().status))}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
}

const session = new Session();
session.connect();
serveRequests({
  stats,
  /** Starts sampling this process's CPU (V8's profiler, as `node --cpu-prof` does). */
  profileStart: async () => {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  },
  /** Stops sampling and writes the profile (`.cpuprofile`, readable by Chrome DevTools) to `path`. */
  profileStop: async ({ path }: { path: string }) => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(path, JSON.stringify(profile));
  },
});
