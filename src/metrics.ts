/**
 * Prometheus metrics, served at GET /metrics. Most values are read from the components when
 * Prometheus scrapes (feed health, writer stats, subscription counters), so nothing on the
 * hot paths does metric work except the query timer and the Redis round-trip probe.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import type { BatchWriterStats } from './ingest/batch-writer';
import type { FeedHealth } from './ingest/feed';

/**
 * What one process reports. An ingesting process has feeds and a writer; a serving process has
 * WebSocket clients and subscriptions; a process without one of them reports nothing for it
 * (a cluster's metrics are the sum over its processes: src/processes/supervisor.ts).
 */
export interface MetricSources {
  feeds?(): readonly FeedHealth[];
  readonly writer?: { readonly stats: BatchWriterStats; readonly pendingCount: number };
  /** Open graphql-ws connections. */
  webSocketClients?(): number;
  /** Subscription streams open, their messages replaced or dropped before delivery, and subscriptions Redis could not make. */
  subscriptions?(): { active: number; conflated: number; dropped: number; failed: number };
  /** Times Redis lost this process's markets and they were queued again (ingest/state-guard.ts). */
  restores?(): number;
  /** graphql-ws per-connection limits at work (delivery/ws-transport.ts, delivery/slow-clients.ts). */
  webSocketLimits?(): { slowClientsClosed: number; sseStreamsCut: number; outboundWaits: number; rateLimited: number; subscriptionsRefused: number };
}

/**
 * A counter that follows a cumulative number kept elsewhere (feed health, writer stats): at
 * each scrape it adds what the source counted since the last one.
 */
function followingCounter(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: string[],
  read: () => Array<readonly [Record<string, string>, number]>,
): Counter<string> {
  const last = new Map<string, number>();
  return new Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (last.get(key) ?? 0);
        if (delta > 0 || !last.has(key)) this.inc(labels, Math.max(0, delta)); // a zero series is news too
        last.set(key, value);
      }
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  private readonly queryDuration: Histogram<'operation' | 'field'>;
  private readonly redisRoundTrip: Histogram<string>;
  private readonly refusals: Counter<'reason' | 'transport'>;
  private probe: NodeJS.Timeout | undefined;

  constructor(given: MetricSources) {
    const none = { active: 0, conflated: 0, dropped: 0, failed: 0 };
    const sources = {
      ...given,
      feeds: given.feeds ?? (() => []),
      subscriptions: given.subscriptions ?? (() => none),
      webSocketClients: given.webSocketClients ?? (() => 0),
    };
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tickql_' });
    const perFeed = (field: 'messages' | 'reconnects' | 'invalidFrames' | 'errors' | 'errorFrames' | 'stalls' | 'throttledSeconds') => () =>
      sources.feeds().map((h) => [{ exchange: h.exchange }, h[field]] as const);
    followingCounter(registers, 'tickql_feed_messages_total', 'Frames received from the exchange', ['exchange'], perFeed('messages'));
    followingCounter(registers, 'tickql_feed_reconnects_total', 'Connections re-established after a loss', ['exchange'], perFeed('reconnects'));
    followingCounter(registers, 'tickql_feed_invalid_frames_total', 'Frames dropped as malformed or invalid', ['exchange'], perFeed('invalidFrames'));
    followingCounter(registers, 'tickql_feed_errors_total', 'Exchange error frames and lost or failed connections', ['exchange'], perFeed('errors'));
    followingCounter(registers, 'tickql_feed_error_frames_total', 'Error frames the exchange sent (rejected subscriptions, error events)', ['exchange'], perFeed('errorFrames'));
    followingCounter(registers, 'tickql_feed_stalls_total', 'Open connections replaced because they went silent', ['exchange'], perFeed('stalls'));
    followingCounter(registers, 'tickql_feed_throttled_seconds_total', 'Seconds in which the exchange sent more than FEED_MAX_FRAMES_PER_S frames and reading paused', ['exchange'], perFeed('throttledSeconds'));
    new Gauge({
      name: 'tickql_feed_up',
      help: '1 while the feed is LIVE, else 0',
      labelNames: ['exchange'],
      registers,
      collect() {
        for (const h of sources.feeds()) this.set({ exchange: h.exchange }, h.status === 'LIVE' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tickql_feed_connections',
      help: 'Exchange connections the feed holds open',
      labelNames: ['exchange'],
      registers,
      collect() {
        for (const h of sources.feeds()) this.set({ exchange: h.exchange }, h.connections);
      },
    });
    new Gauge({
      name: 'tickql_feed_messages_per_second',
      help: 'Frames per second, averaged over the last 10 s',
      labelNames: ['exchange'],
      registers,
      collect() {
        for (const h of sources.feeds()) this.set({ exchange: h.exchange }, h.messagesPerSecond);
      },
    });
    new Gauge({
      name: 'tickql_feed_lag_seconds',
      help: 'Seconds since the feed last received a frame',
      labelNames: ['exchange'],
      registers,
      collect() {
        const now = Date.now();
        for (const h of sources.feeds()) if (h.lastMessageAt !== null) this.set({ exchange: h.exchange }, (now - h.lastMessageAt) / 1000);
      },
    });

    const writer = (field: 'received' | 'coalesced' | 'written' | 'failedBatches' | 'restored') => () =>
      sources.writer === undefined ? [] : [[{}, sources.writer.stats[field]] as const];
    followingCounter(registers, 'tickql_ingest_updates_total', 'Normalized market updates produced by the feeds', [], writer('received'));
    followingCounter(registers, 'tickql_ingest_coalesced_total', 'Updates replaced by a newer one of the same market before being written', [], writer('coalesced'));
    followingCounter(registers, 'tickql_ingest_written_total', 'Market states written to Redis', [], writer('written'));
    followingCounter(registers, 'tickql_ingest_failed_batches_total', 'Batches that failed (Redis away) and were retried', [], writer('failedBatches'));
    followingCounter(registers, 'tickql_ingest_restored_total', 'Market states queued again because Redis had lost them', [], writer('restored'));
    if (sources.restores) {
      const restores = sources.restores;
      followingCounter(registers, 'tickql_ingest_restores_total', 'Times Redis was found to have lost this process\'s markets (restart, flush, failover)', [], () => [[{}, restores()]]);
    }
    new Gauge({
      name: 'tickql_ingest_pending',
      help: 'Markets waiting to be written (one state each)',
      registers,
      collect() {
        this.set(sources.writer?.pendingCount ?? 0);
      },
    });

    followingCounter(registers, 'tickql_subscription_messages_conflated_total', 'Updates replaced by a newer state of the same market before a slow client took them', [], () => [
      [{}, sources.subscriptions().conflated],
    ]);
    followingCounter(registers, 'tickql_subscription_messages_dropped_total', 'Pub/sub messages dropped because they were not a market', [], () => [
      [{}, sources.subscriptions().dropped],
    ]);
    followingCounter(registers, 'tickql_subscriptions_failed_total', 'Subscriptions ended because Redis could not subscribe to their channels (Redis away)', [], () => [
      [{}, sources.subscriptions().failed],
    ]);
    new Gauge({
      name: 'tickql_subscriptions',
      help: 'Open priceUpdated subscriptions (WebSocket and SSE)',
      registers,
      collect() {
        this.set(sources.subscriptions().active);
      },
    });
    new Gauge({
      name: 'tickql_websocket_clients',
      help: 'Open graphql-ws connections',
      registers,
      collect() {
        this.set(sources.webSocketClients());
      },
    });

    const wsLimit = (field: 'slowClientsClosed' | 'sseStreamsCut' | 'outboundWaits' | 'rateLimited' | 'subscriptionsRefused') => () =>
      sources.webSocketLimits ? [[{}, sources.webSocketLimits()[field]] as const] : [];
    followingCounter(registers, 'tickql_websocket_slow_clients_closed_total', 'graphql-ws clients closed (4008) for not reading what was sent WS_STUCK_CLIENT_MS ago', [], wsLimit('slowClientsClosed'));
    followingCounter(registers, 'tickql_sse_slow_clients_closed_total', 'SSE streams cut because their writes made no progress for WS_STUCK_CLIENT_MS', [], wsLimit('sseStreamsCut'));
    followingCounter(registers, 'tickql_websocket_outbound_waits_total', 'Subscription writes held while their connection had over WS_MAX_BUFFERED_BYTES queued', [], wsLimit('outboundWaits'));
    followingCounter(registers, 'tickql_websocket_rate_limited_total', 'graphql-ws connections closed (4429) for sending over WS_MAX_MESSAGES_PER_SECOND', [], wsLimit('rateLimited'));
    followingCounter(registers, 'tickql_websocket_subscriptions_refused_total', 'Operations refused for exceeding WS_MAX_SUBSCRIPTIONS_PER_CONNECTION', [], wsLimit('subscriptionsRefused'));

    this.queryDuration = new Histogram({
      name: 'tickql_graphql_duration_seconds',
      help: 'GraphQL execution time by operation type and first root field',
      labelNames: ['operation', 'field'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.refusals = new Counter({
      name: 'tickql_requests_refused_total',
      help: 'Requests, WebSocket connections and operations refused by access control (server/access-control.ts)',
      labelNames: ['reason', 'transport'],
      registers,
    });
    // Every series from the start, so a rate() over them needs no first refusal.
    for (const reason of ['unauthenticated', 'rate_limited', 'connection_cap']) for (const transport of ['http', 'websocket']) this.refusals.inc({ reason, transport }, 0);
    this.redisRoundTrip = new Histogram({
      name: 'tickql_redis_roundtrip_seconds',
      help: 'PING round trip to Redis, probed every 5 s',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
      registers,
    });
  }

  /** Times every GraphQL execution (queries, and the setup of subscriptions). */
  plugin(): Plugin {
    const histogram = this.queryDuration;
    return {
      onExecute({ args }) {
        const started = process.hrtime.bigint();
        const operation = (args.document as DocumentNode).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
        const first = operation?.selectionSet.selections[0];
        const labels = {
          operation: operation?.operation ?? 'unknown',
          field: first?.kind === Kind.FIELD ? first.name.value : 'unknown',
        };
        return {
          onExecuteDone() {
            histogram.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
          },
        };
      },
    };
  }

  /** Counts one refusal by access control. */
  refused(reason: 'unauthenticated' | 'rate_limited' | 'connection_cap', transport: 'http' | 'websocket'): void {
    this.refusals.inc({ reason, transport });
  }

  /** Probes Redis every `intervalMs` while running. */
  startRedisProbe(redis: Redis, intervalMs = 5000): void {
    const probe = () => {
      if (redis.status !== 'ready') return;
      const started = process.hrtime.bigint();
      redis.ping().then(
        () => this.redisRoundTrip.observe(Number(process.hrtime.bigint() - started) / 1e9),
        () => {}, // an outage shows in /readyz and the connection logs
      );
    };
    probe();
    this.probe = setInterval(probe, intervalMs);
    this.probe.unref();
  }

  stop(): void {
    clearInterval(this.probe);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
