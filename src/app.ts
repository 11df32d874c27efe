/**
 * Ingest and serving in ONE process: the ingest process (src/processes/ingest.ts) and a
 * serving process (src/processes/serve.ts) built side by side. `npm start` does not run
 * this: its supervisor (src/processes/supervisor.ts) runs them as separate processes, so no query ever
 * shares a thread with exchange frames. This composition is for tests and benchmark children
 * that want the whole service in the process they control.
 */
import type { Redis } from 'ioredis';
import type { Config } from './config';
import type { Services } from './context';
import type { BatchWriter } from './ingest/batch-writer';
import type { ConnectionTiming } from './ingest/connection';
import type { Feed } from './ingest/feed';
import { buildIngest } from './processes/ingest';
import type { Logger } from './logger';
import type { RedisTarget } from './redis/connect';
import { createKeys } from './redis/keys';
import type { GraphqlWsServer } from './delivery/graphql-ws';
import { buildServer } from './processes/serve';

export interface App {
  readonly services: Services;
  /** The ingest side's own Redis connections (writes, leases), apart from the serving side's in `services`. */
  readonly ingestConnections: readonly Redis[];
  readonly feeds: readonly Feed[];
  readonly writer: BatchWriter;
  /** The GraphQL URL, known once started. */
  url(): string;
  /** graphql-ws's shared-subscription counters (delivery/shared-subscriptions.ts); null before start. */
  subscriptionStats(): Pick<GraphqlWsServer, 'sharedPayloads' | 'sharedDelivery'> | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AppOptions {
  /** See `GraphqlWsOptions.sharePayloads`; default true. The bench turns it off to compare. */
  readonly sharePayloads?: boolean;
  /** Overrides the feeds' connection timing (tests use a short silence limit). */
  readonly feedTiming?: ConnectionTiming;
  /** How long the feeds may take before "no exchange is reachable" is said. Default 15 000 ms. */
  readonly unreachableNoticeMs?: number;
}

export async function buildApp(config: Config, logger: Logger, target: RedisTarget, options: AppOptions = {}): Promise<App> {
  // One set of key names, so the process has one instance id (the lease holder's, in `feeds`).
  const keys = createKeys(config.redisPrefix);
  let server: Awaited<ReturnType<typeof buildServer>> | null = null;
  const ingest = await buildIngest(config, logger, target, {
    keys,
    feedTiming: options.feedTiming,
    unreachableNoticeMs: options.unreachableNoticeMs,
    // In one process the server learns a feed's new status at once, not at its next refresh.
    onFeedStatus: () => void server?.services.staleness.refresh().catch(() => {}),
  });
  server = await buildServer(config, logger, target, {
    keys,
    sharePayloads: options.sharePayloads,
    metricSources: ingest.metricSources,
  });
  const serving = server;
  return {
    services: serving.services,
    ingestConnections: [ingest.redis, ingest.leaseRedis],
    feeds: ingest.feeds,
    writer: ingest.writer,
    url: () => serving.url(),
    subscriptionStats: () => serving.subscriptionStats(),
    async start() {
      await serving.start();
      await ingest.start();
      logger.info(
        { url: serving.url(), feeds: config.feeds, redisPrefix: config.redisPrefix },
        `tickql listening: GraphiQL and GraphQL at ${serving.url()} (WebSocket and SSE subscriptions on the same path); feeds: ${config.feeds.join(', ') || 'none (serve only)'}`,
      );
    },
    /** Subscriptions closed and HTTP drained first, then the feeds stopped and their writes flushed. */
    async stop() {
      await serving.stop();
      await ingest.stop();
      await target.privateServer?.stop();
    },
  };
}
