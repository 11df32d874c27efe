/**
 * The real tickql process tree as a test's child: the supervisor and the workers it forks,
 * started the way a user or a container starts them (by default `node --import tsx src/main.ts`;
 * any command, such as an image's `node dist/main.js`, with `command` and `cwd`).
 *
 * Why a helper: several tests run the whole tree, and each needs the same four things done
 * right: an environment free of the caller's tickql variables, the log kept for assertions and
 * failure messages, the instance's pids known, and a stop that leaves nothing running. `stop()`
 * sends SIGTERM to the supervisor (its graceful shutdown stops its workers), then SIGKILLs, by
 * pid, any process of the tree still alive after the grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { descendants, serviceEnv } from '../../bench/lib/service';
import { ROOT } from '../../bench/lib/processes';

export interface TickqlProcessOptions {
  /** tickql's variables; everything else is inherited from the test process, minus its own tickql variables. */
  readonly env: Readonly<Record<string, string>>;
  /** argv; default `node --import tsx src/main.ts`. */
  readonly command?: readonly string[];
  /** Working directory; default the repository root. */
  readonly cwd?: string;
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
  /** stdout (pino's JSON lines) and stderr so far. */
  log(): string;
  /** Pids of the supervisor and every process under it now (Linux, /proc). */
  tree(): Promise<number[]>;
  /** SIGTERM to the supervisor; after `graceMs` SIGKILL to what is left of the tree, by pid. The same promise on every call. */
  stop(graceMs?: number): Promise<TickqlExit>;
}

/** Longer than the supervisor's own shutdown bound (SHUTDOWN_TIMEOUT_MS, 10 s). */
const DEFAULT_GRACE_MS = 12_000;

export function startTickql(options: TickqlProcessOptions): TickqlProcess {
  const [file, ...args] = options.command ?? [process.execPath, '--import', 'tsx', 'src/main.ts'];
  // vitest sets NODE_ENV=test, which changes yoga's behaviour (SSE pings every 300 ms): drop
  // it, as a deployment would not have it.
  const env = serviceEnv(options.env);
  delete env.NODE_ENV;
  // `node` is the Node.js running the tests, whatever PATH holds.
  const child = spawn(file === 'node' ? process.execPath : file!, args, { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const pid = child.pid!;
  /** Every pid seen in the tree, so that a worker whose supervisor died first is still found. */
  const seen = new Set<number>([pid]);
  const tree = async (): Promise<number[]> => {
    const now = await descendants(pid);
    for (const p of now) seen.add(p);
    return now;
  };
  // Learn the workers' pids while they run, not only at the end.
  const watcher = setInterval(() => void tree().catch(() => {}), 250);

  let stopping: Promise<TickqlExit> | null = null;
  const stop = async (graceMs: number): Promise<TickqlExit> => {
    await tree().catch(() => []);
    clearInterval(watcher);
    const startedAt = Date.now();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
    }
    const ms = Date.now() - startedAt;
    const killed = [...seen].filter(alive);
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
    tree,
    stop: (graceMs = DEFAULT_GRACE_MS) => (stopping ??= stop(graceMs)),
  };
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
