/**
 * The supervisor: what `npm start` runs. It resolves Redis once (starting a private one if
 * needed), then runs the instance's processes as cluster workers (src/processes/worker.ts):
 * - one ingest process (roles `all` and `ingest`, when FEEDS names any feed): it alone reads
 *   exchange frames;
 * - `WORKERS` serving processes (roles `all` and `serve`) sharing `PORT`: they alone run
 *   queries and subscriptions.
 * A worker that dies is replaced (counted and logged; a worker that keeps dying at once is
 * replaced with a growing delay). SIGTERM or SIGINT stops every worker in order (serving ones
 * close their clients with 1001, the ingest process flushes its writes) within the shutdown
 * bound, then exits 0. `/metrics` and `/readyz` answer for the whole instance: a serving
 * worker asks here (src/processes/cluster-messages.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { isTickqlMessage, PROCESS_KIND_ENV, type ProcessKind, type SupervisorMessage, type WorkerMessage } from './cluster-messages';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { resolveRedis } from '../redis/connect';

/** Longest graceful shutdown before the workers left are killed. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;
/** A worker that dies sooner than this after starting is restarted only after a delay. */
const EARLY_DEATH_MS = 5_000;
/** Restart delays for workers that keep dying at once: doubling up to this. */
const MAX_RESTART_DELAY_MS = 30_000;

interface Slot {
  readonly kind: ProcessKind;
  worker: Worker;
  startedAt: number;
  /** Consecutive early deaths, for the restart delay. */
  earlyDeaths: number;
  listening: boolean;
}

export async function runSupervisor(config: Config, logger: Logger): Promise<void> {
  const target = await resolveRedis(config, logger);
  const aggregator = new AggregatorRegistry();
  const kinds: ProcessKind[] = [];
  if (config.role !== 'serve' && config.feeds.length > 0) kinds.push('ingest');
  if (config.role !== 'ingest') for (let i = 0; i < config.workers; i++) kinds.push('serve');
  if (kinds.length === 0) logger.warn({ role: config.role, feeds: config.feeds }, 'nothing to run: ROLE=ingest with FEEDS empty');

  const slots = new Set<Slot>();
  let stopping = false;
  let restarts = 0;
  let announced = false;

  // NODE_ENV production unless the user chose otherwise: graphql-js checks every `instanceof`
  // twice outside production, a development aid that showed in every serving profile.
  const fork = (kind: ProcessKind): Worker =>
    cluster.fork({ [PROCESS_KIND_ENV]: kind, REDIS_URL: target.url, NODE_ENV: process.env.NODE_ENV ?? 'production' });

  const start = (slot: Slot): void => {
    slot.worker = fork(slot.kind);
    slot.startedAt = Date.now();
    slot.listening = false;
    watch(slot);
  };

  const watch = (slot: Slot): void => {
    const { worker } = slot;
    worker.on('message', (message: unknown) => {
      if (!isTickqlMessage(message)) return;
      void answer(slot, message as WorkerMessage);
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker !== worker) return;
      if (stopping) return;
      restarts++;
      const early = Date.now() - slot.startedAt < EARLY_DEATH_MS;
      slot.earlyDeaths = early ? slot.earlyDeaths + 1 : 0;
      const delayMs = slot.earlyDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (slot.earlyDeaths - 1));
      logger.error({ kind: slot.kind, pid: worker.process.pid, code, signal, restarts, restartInMs: delayMs }, `${slot.kind} process died; starting another`);
      setTimeout(() => {
        if (!stopping) start(slot);
      }, delayMs).unref();
    });
  };

  const answer = async (slot: Slot, message: WorkerMessage): Promise<void> => {
    if (message.type === 'tickql:listening') {
      slot.listening = true;
      const serving = [...slots].filter((s) => s.kind === 'serve');
      if (!announced && serving.every((s) => s.listening)) {
        announced = true;
        logger.info(
          { url: message.url, role: config.role, workers: serving.length, ingest: kinds.includes('ingest'), feeds: config.feeds, redisPrefix: config.redisPrefix },
          `tickql listening: GraphiQL and GraphQL at ${message.url} (WebSocket and SSE subscriptions on the same path); ${serving.length} serving processes; feeds: ${config.feeds.join(', ') || 'none (serve only)'}${kinds.includes('ingest') ? ' in their own process' : ' (ingested elsewhere)'}`,
        );
      }
      return;
    }
    const reply = (body: Omit<Extract<SupervisorMessage, { type: 'tickql:answer' }>, 'type' | 'id'>) => {
      if (slot.worker.isConnected()) slot.worker.send({ type: 'tickql:answer', id: message.id, ...body } satisfies SupervisorMessage);
    };
    try {
      if (message.question === 'metrics') reply({ value: await aggregator.clusterMetrics() });
      else reply({ value: problems() });
    } catch (err) {
      reply({ error: err instanceof Error ? err.message : String(err) });
    }
  };

  /** Workers of the instance that are not up, by name. */
  const problems = (): Record<string, string> => {
    const found: Record<string, string> = {};
    for (const slot of slots) {
      if (slot.worker.isDead() || !slot.worker.isConnected()) found[`${slot.kind}:${slot.worker.id}`] = 'restarting';
    }
    return found;
  };

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: slots.size }, 'stopping');
    const exited = [...slots].map(
      (slot) =>
        new Promise<void>((resolve) => {
          const { worker } = slot;
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          // A signal, not a message: a worker still loading its code has no listener yet, and
          // would lose a message and be killed later; a SIGTERM ends it at once instead (it
          // holds nothing yet), and once it listens, it stops as it would for the message.
          worker.process.kill('SIGTERM');
        }),
    );
    const timeout = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'workers did not stop in time; killing them');
      for (const slot of slots) if (!slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
    }, SHUTDOWN_TIMEOUT_MS);
    timeout.unref();
    void Promise.all(exited)
      .then(() => target.privateServer?.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // Only once a stop is heard: a SIGTERM right after the first fork must stop the workers, not
  // end the supervisor and leave them behind.
  for (const kind of kinds) {
    const slot: Slot = { kind, worker: fork(kind), startedAt: Date.now(), earlyDeaths: 0, listening: false };
    slots.add(slot);
    watch(slot);
  }
}
