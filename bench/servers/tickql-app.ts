/**
 * Bench child: the whole service in one process (`buildApp` from src/app.ts: feeds, batch
 * writer, Lua upsert and publish, yoga, graphql-ws), the shape `npm start` ran before the
 * process split; only the stuck-subscribers scenario still uses it (`startAppRig` in
 * bench/lib/delivery-rig.ts; tick and fan-out run the real tree). Configured by the same environment
 * variables (src/config.ts): FEEDS, BINANCE_WS_URL, BINANCE_REST_URL, BINANCE_SYMBOLS,
 * INGEST_BATCH_MS, REDIS_URL, REDIS_PREFIX, PORT (0 = a free one), LOG_LEVEL (default warn).
 *
 *   WAIT_MARKETS  announce READY only once every feed is LIVE and has emitted this many
 *                 distinct markets between them (default 0)
 *
 *   SHARE_PAYLOADS  0: every subscriber's events executed and serialized for it alone (the
 *                 plain graphql-ws path, for comparison); default 1 (AppOptions.sharePayloads)
 *
 * (Profiles of tickql's processes come from bench/lib/cpu-profile-preload.cjs.)
 *
 * Announces `READY {"url","wsUrl","statsUrl"}`: `GET statsUrl` answers the app's counters
 * (`AppStats`) while it runs, from a separate HTTP port; `GET statsUrl?gc` collects garbage
 * first when the child runs with `NODE_OPTIONS=--expose-gc`. On SIGTERM it stops the app and reports
 * `DONE {"writer": BatchWriter stats, "feeds": [FeedHealth]}`.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { announceReady, onStop } from '../lib/processes';

const env: NodeJS.ProcessEnv = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...process.env };
const config = loadConfig(env);
const logger = createLogger(config.logLevel);
if (config.redisUrl === null) throw new Error('REDIS_URL is required: the bench runs its own redis-server');
const app = await buildApp(config, logger, { url: config.redisUrl, privateServer: null }, { sharePayloads: env.SHARE_PAYLOADS !== '0' });
await app.start();

const waitMarkets = Number(env.WAIT_MARKETS ?? 0);
const deadline = Date.now() + 30_000;
const markets = () => app.feeds.reduce((sum, f) => sum + f.health().markets, 0);
while (app.feeds.some((f) => f.health().status !== 'LIVE') || markets() < waitMarkets) {
  if (Date.now() > deadline) throw new Error(`feeds not LIVE with ${waitMarkets} markets within 30 s: ${JSON.stringify(app.feeds.map((f) => f.health()))}`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** What `GET statsUrl` answers. */
export interface AppStats {
  readonly writer: typeof app.writer.stats;
  readonly subscriptions: ReturnType<typeof app.subscriptionStats>;
  readonly memory: NodeJS.MemoryUsage;
}

const statsServer = createServer((request, response) => {
  // `?gc`: collect garbage first (the child runs with --expose-gc), so heap figures compare.
  const collect = (globalThis as { gc?: () => void }).gc;
  if (request.url?.includes('gc') && collect) collect();
  const stats: AppStats = { writer: { ...app.writer.stats }, subscriptions: app.subscriptionStats(), memory: process.memoryUsage() };
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
});
statsServer.listen(0, '127.0.0.1');
await once(statsServer, 'listening');

onStop(async () => {
  const report = { writer: { ...app.writer.stats }, feeds: app.feeds.map((f) => f.health()) };
  statsServer.close();
  await app.stop();
  return report;
});
announceReady({ url: app.url(), wsUrl: app.url().replace(/^http/, 'ws'), statsUrl: `http://127.0.0.1:${(statsServer.address() as AddressInfo).port}/` });
