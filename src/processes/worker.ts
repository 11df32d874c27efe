/**
 * One process of an instance, started by the supervisor (src/processes/supervisor.ts): the ingest
 * process or a serving process, as `TICKQL_PROCESS` says. It stops when the supervisor asks
 * (SIGTERM), in the order its kind needs, and exits 0.
 */
import { AggregatorRegistry, Registry } from 'prom-client';
import { isTickqlMessage, PROCESS_KIND_ENV, type Question, type SupervisorMessage, type WorkerMessage } from './cluster-messages';
import type { Config } from '../config';
import { buildIngest } from './ingest';
import type { Logger } from '../logger';
import { Metrics } from '../metrics';
import { buildServer } from './serve';

/** How long a question to the supervisor may take. */
const ASK_TIMEOUT_MS = 5_000;

export async function runWorker(config: Config, logger: Logger): Promise<void> {
  const kind = process.env[PROCESS_KIND_ENV];
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined) throw new Error('a worker needs REDIS_URL from its supervisor');
  const target = { url: redisUrl, privateServer: null };
  const log = logger.child({ process: kind });
  // prom-client answers the supervisor's requests for this process's metrics only once an
  // AggregatorRegistry has been made here (its constructor installs the listener).
  new AggregatorRegistry();

  // Stop requests are heard from the start: one that comes while the process is still being
  // built (a quick SIGTERM after start-up) takes effect as soon as there is something to stop,
  // instead of waiting for the supervisor's kill.
  let stopProcess: (() => Promise<void>) | null = null;
  let stopRequested = false;
  let stopping: Promise<void> | null = null;
  const stop = (): void => {
    stopRequested = true;
    if (stopProcess === null) return;
    const stopIt = stopProcess;
    stopping ??= stopIt().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  // The supervisor stops its workers with SIGTERM.
  process.on('SIGTERM', stop);
  // The supervisor forwards SIGINT as a stop; a terminal's Ctrl-C reaches every process of the group.
  process.on('SIGINT', () => {});
  // A supervisor that is gone cannot stop us, nor restart us: stop.
  process.on('disconnect', stop);

  if (kind === 'ingest') {
    const ingest = await buildIngest(config, log, target);
    AggregatorRegistry.setRegistries([new Metrics(ingest.metricSources).registry]);
    await ingest.start();
    stopProcess = () => ingest.stop();
  } else if (kind === 'serve') {
    const server = await buildServer(config, log, target, {
      instanceMetrics: { text: () => ask<string>('metrics'), contentType: Registry.PROMETHEUS_CONTENT_TYPE },
      instanceProblems: () => ask<Record<string, string>>('problems'),
    });
    AggregatorRegistry.setRegistries([server.metrics.registry]);
    await server.start();
    if (!stopRequested) send({ type: 'tickql:listening', url: server.url() });
    stopProcess = () => server.stop();
  } else {
    throw new Error(`unknown ${PROCESS_KIND_ENV}=${String(kind)}: a worker is started by the supervisor`);
  }
  if (stopRequested) stop();
}

const answers = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
let nextQuestion = 1;
process.on('message', (message: unknown) => {
  if (!isTickqlMessage(message)) return;
  const reply = message as SupervisorMessage;
  if (reply.type !== 'tickql:answer') return;
  const waiter = answers.get(reply.id);
  answers.delete(reply.id);
  if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
  else waiter?.resolve(reply.value);
});

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Asks the supervisor; rejects after ASK_TIMEOUT_MS. */
function ask<T>(question: Question): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const id = nextQuestion++;
    const timer = setTimeout(() => {
      answers.delete(id);
      reject(new Error(`the supervisor did not answer "${question}" within ${ASK_TIMEOUT_MS} ms`));
    }, ASK_TIMEOUT_MS);
    answers.set(id, {
      resolve: (value) => {
        clearTimeout(timer);
        resolve(value as T);
      },
      reject: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
    send({ type: 'tickql:ask', id, question });
  });
}
