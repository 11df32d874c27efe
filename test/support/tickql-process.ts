/**
 * tickql as `npm start` runs it, in a child process: the supervisor, its ingest process and
 * WORKERS serving processes (src/processes/), from src/main.ts under tsx so a test never runs a
 * stale build. For tests that must see what only the real process tree does: several serving
 * processes sharing one port, signals, crashes, a whole instance dying.
 *
 * The child leads its own process group, so `signal` reaches the supervisor and every process
 * under it at once (a SIGKILL then is a machine losing the instance, with no goodbye), and
 * `stop` leaves nothing running whatever the test did.
 *
 * WORKERS is 2 unless the test sets it: the suite's checks of the served API run with more
 * than one serving process, as a default start on a multi-core machine does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { sleep } from './wait-for';

export const TEST_WORKERS = '2';

/** One line of tickql's JSON log. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface TickqlProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The GraphQL URL (http://host:port/graphql). */
  url(): string;
  /** The URL without the /graphql path, for /metrics, /healthz and /readyz. */
  base(): string;
  /** Every JSON log line so far, from every process of the tree. */
  readonly logs: readonly LogLine[];
  /** Standard error so far (not JSON: crashes, warnings). */
  stderr(): string;
  /** Null while running. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Sends `signal` to the supervisor and every process under it. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL to the whole group if it has not exited within `graceMs`; resolves with the exit. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const LISTENING = 'tickql listening';

/**
 * Starts tickql with `env` on top of this process's environment (PORT 0, HOST 127.0.0.1,
 * LOG_LEVEL info and WORKERS `TEST_WORKERS` unless given) and resolves once it listens.
 */
export async function startTickqlProcess(env: Record<string, string>, options: { startTimeoutMs?: number } = {}): Promise<TickqlProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', WORKERS: TEST_WORKERS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const logs: LogLine[] = [];
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = once(child, 'exit').then(([code, signal]) => {
    exit = { code: code as number | null, signal: signal as NodeJS.Signals | null };
    return exit;
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // a line cut by a crash mid-write: not a log line
      }
    }
  });

  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // the group is gone
    }
  };

  let url = '';
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!url) {
    if (exit !== null || Date.now() > deadline) {
      signal('SIGKILL');
      throw new Error(`tickql did not start (exit ${JSON.stringify(exit)}); stderr:\n${stderr}\nlog:\n${logs.map((l) => l.msg).join('\n')}`);
    }
    url = (logs.find((l) => l.msg.startsWith(LISTENING))?.url as string | undefined) ?? '';
    await sleep(20);
  }

  return {
    child,
    pid: child.pid!,
    url: () => url,
    base: () => url.replace(/\/graphql$/, ''),
    logs,
    stderr: () => stderr,
    exit: () => exit,
    signal,
    async stop(graceMs = 10_000) {
      if (exit !== null) return exit;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      signal('SIGKILL'); // anything the supervisor left behind
      return result;
    },
  };
}

/** Resolves once `feeds` on `tickql` reports every one of `exchanges` LIVE; throws with the last answer after `timeoutMs`. */
export async function waitForLiveFeeds(tickql: { url(): string }, exchanges: readonly string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const response = await fetch(tickql.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ feeds { exchange status } }' }) });
      const feeds = ((await response.json()) as { data?: { feeds: { exchange: string; status: string }[] } }).data?.feeds ?? [];
      last = feeds;
      if (exchanges.every((exchange) => feeds.some((f) => f.exchange === exchange && f.status === 'LIVE'))) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`feeds ${exchanges.join(', ')} not LIVE after ${timeoutMs} ms; last answer: ${JSON.stringify(last)}`);
    await sleep(50);
  }
}
