/**
 * The real tickql process tree as a test's child: the supervisor, its ingest process and the
 * serving workers it forks (src/processes/), started the way a user or a container starts
 * them: by default `node --import tsx src/main.ts`, so a test never runs a stale build; any
 * command (an image's `node dist/main.js`) with `command` and `cwd`.
 *
 * Why one helper: every test that runs the whole tree needs the same things done right:
 * - an environment free of the caller's own tickql variables and of vitest's NODE_ENV=test
 *   (which changes yoga's behaviour), as a deployment would have it;
 * - WORKERS=2 unless the test sets it, so the suite checks the served API with more than one
 *   serving process, as a default start on a multi-core machine does;
 * - the log kept, as text for failure messages and as parsed JSON lines for assertions;
 * - the child leads its own process group, so `signal` reaches the supervisor and every
 *   process under it at once (a SIGKILL then is a machine losing the instance);
 * - a stop that leaves nothing running: SIGTERM to the supervisor (its graceful shutdown stops
 *   its workers), then SIGKILL to anything of the tree still alive after the grace period,
 *   reported so a test can require that nothing had to be killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { descendants, serviceEnv } from '../../bench/lib/service';
import { ROOT } from '../../bench/lib/processes';
import { sleep } from './wait-for';

export const TEST_WORKERS = '2';

/** Longer than the supervisor's own shutdown bound (SHUTDOWN_TIMEOUT_MS, 10 s). */
const DEFAULT_GRACE_MS = 12_000;
const LISTENING = 'tickql listening';

export interface TickqlProcessOptions {
  /** tickql's variables, over the defaults PORT=0, HOST=127.0.0.1, LOG_LEVEL=info, WORKERS=TEST_WORKERS. */
  readonly env: Readonly<Record<string, string>>;
  /** argv; default `node --import tsx src/main.ts`. */
  readonly command?: readonly string[];
  /** Working directory; default the repository root. */
  readonly cwd?: string;
}

/** One line of tickql's JSON log. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface TickqlExit {
  /** Exit code, or null when a signal ended the supervisor. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Milliseconds from SIGTERM to the supervisor's exit. */
  readonly ms: number;
  /** Pids of the tree that were still alive after the grace period and had to be killed. */
  readonly killed: readonly number[];
}

export interface TickqlProcess {
  /** The supervisor's pid. */
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout (pino's JSON lines) and stderr so far, as text. */
  log(): string;
  /** Every JSON log line so far, from every process of the tree. */
  readonly logs: readonly LogLine[];
  /** Standard error so far (not JSON: crashes, warnings). */
  stderr(): string;
  /** How the supervisor ended; null while it runs. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Resolves with the GraphQL URL once a serving process listens; throws if the tree ends or `timeoutMs` passes first. */
  listening(timeoutMs?: number): Promise<string>;
  /** The GraphQL URL (http://host:port/graphql); throws before `listening` resolved. */
  url(): string;
  /** The URL without the /graphql path, for /metrics, /healthz and /readyz. */
  base(): string;
  /** Pids of the supervisor and every process under it now (Linux, /proc). */
  tree(): Promise<number[]>;
  /** Sends `signal` to the supervisor and every process under it. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM to the supervisor; after `graceMs` SIGKILL to what is left of the tree. The same promise on every call. */
  stop(graceMs?: number): Promise<TickqlExit>;
}

export function startTickql(options: TickqlProcessOptions): TickqlProcess {
  const [file, ...args] = options.command ?? [process.execPath, '--import', 'tsx', 'src/main.ts'];
  const env = serviceEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', WORKERS: TEST_WORKERS, ...options.env });
  delete env.NODE_ENV;
  // `node` is the Node.js running the tests, whatever PATH holds.
  const child = spawn(file === 'node' ? process.execPath : file!, args, { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid!;

  let log = '';
  let stderr = '';
  const logs: LogLine[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    log += text;
    const lines = (partial + text).split('\n');
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
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    stderr += chunk.toString();
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  child.once('exit', (code, signal) => (exit = { code, signal }));

  /** Every pid seen in the tree, so that a worker whose supervisor died first is still found. */
  const seen = new Set<number>([pid]);
  const tree = async (): Promise<number[]> => {
    const now = await descendants(pid);
    for (const p of now) seen.add(p);
    return now;
  };
  // Learn the workers' pids while they run, not only at the end.
  const watcher = setInterval(() => void tree().catch(() => {}), 250);
  watcher.unref();

  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      // the group is gone
    }
  };

  let url: string | null = null;
  const listening = async (timeoutMs = 60_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (url === null) {
      url = (logs.find((l) => l.msg.startsWith(LISTENING))?.url as string | undefined) ?? null;
      if (url !== null) break;
      if (exit !== null || Date.now() > deadline) {
        throw new Error(`tickql did not start (exit ${JSON.stringify(exit)}); log:\n${log.slice(-4000)}`);
      }
      await sleep(20);
    }
    return url;
  };
  const currentUrl = () => {
    if (url === null) throw new Error('tickql is not listening yet: await listening() first');
    return url;
  };

  let stopping: Promise<TickqlExit> | null = null;
  const stop = async (graceMs: number): Promise<TickqlExit> => {
    await tree().catch(() => []);
    clearInterval(watcher);
    const startedAt = Date.now();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(graceMs)]);
    }
    const ms = Date.now() - startedAt;
    const killed = [...seen].filter(alive);
    signal('SIGKILL');
    for (const p of killed) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    return { code: child.exitCode, signal: child.signalCode, ms, killed };
  };

  return {
    pid,
    child,
    log: () => log,
    logs,
    stderr: () => stderr,
    exit: () => exit,
    listening,
    url: currentUrl,
    base: () => currentUrl().replace(/\/graphql$/, ''),
    tree,
    signal,
    stop: (graceMs = DEFAULT_GRACE_MS) => (stopping ??= stop(graceMs)),
  };
}

/** Starts tickql with `env` and resolves once it listens; a failed start leaves nothing running. */
export async function startListeningTickql(env: Readonly<Record<string, string>>, timeoutMs?: number): Promise<TickqlProcess> {
  const tickql = startTickql({ env });
  try {
    await tickql.listening(timeoutMs);
  } catch (error) {
    await tickql.stop(0);
    throw error;
  }
  return tickql;
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

/** Running (a zombie, exited and not yet reaped, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
