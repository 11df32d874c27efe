/**
 * What the supervisor and its worker processes say to each other over Node's cluster IPC
 * channel (src/processes/supervisor.ts, src/processes/worker.ts): one definition of every message.
 *
 * A serving worker answers `/metrics` and `/readyz` for the whole instance by asking the
 * supervisor, which sums every worker's metrics (prom-client's AggregatorRegistry) and knows
 * which workers are up.
 */

/** The process kinds an instance runs. */
export type ProcessKind = 'ingest' | 'serve';

/** The environment variable that tells a worker which kind it is. */
export const PROCESS_KIND_ENV = 'TICKQL_PROCESS';

/** From a worker. */
export type WorkerMessage =
  | { readonly type: 'tickql:listening'; readonly url: string }
  | { readonly type: 'tickql:ask'; readonly id: number; readonly question: Question };

/** From the supervisor. */
export type SupervisorMessage =
  { readonly type: 'tickql:answer'; readonly id: number; readonly value?: unknown; readonly error?: string };

/** `metrics`: the instance's metrics text; `problems`: what is not ready in the instance. */
export type Question = 'metrics' | 'problems';

/** Whether `message` is one of ours (prom-client and Node send their own on the same channel). */
export function isTickqlMessage(message: unknown): message is WorkerMessage | SupervisorMessage {
  if (typeof message !== 'object' || message === null) return false;
  const { type } = message as { type?: unknown };
  return typeof type === 'string' && type.startsWith('tickql:');
}
