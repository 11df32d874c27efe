/**
 * tickql as a user runs it. By default this spawns `tsx src/main.ts` (the tsx CLI, which runs
 * src/main.ts in a node process of its own and relays signals to it); with `{ bundle: true }`
 * it spawns `node --enable-source-maps dist/main.js`, what `npm start` runs after building
 * (call `buildBundle()` once first). Either way with the environment given and nothing of the
 * bench in between. Its stdout (pino's JSON lines) and
 * stderr go to files, for reading the warnings afterwards.
 *
 * With `{ processGroup: true }` the service leads a process group of its own (spawned detached),
 * so `killGroup` ends the supervisor and every process it started in one signal, as a machine's
 * crash would, without the supervisor seeing one worker die and starting another. The bench's
 * own clean-up then signals the group too, so it need not poll /proc for the tree's pids (a
 * scan of every process five times a second per service, which took a good part of a core
 * with four services on a busy machine).
 *
 * CPU is counted over the whole process tree (the tsx wrapper and the service under it), read
 * from /proc; `stop()` sends SIGTERM to the wrapper (which relays it), waits for the service's
 * own graceful shutdown, then SIGKILLs by pid whatever of the tree is still there. Until then
 * an `exit` hook and SIGINT/SIGTERM/SIGHUP handlers kill the tree too, so a bench that fails or
 * is interrupted leaves nothing running.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { PROCESS_KIND_ENV } from '../../src/processes/cluster-messages';
import { cpuSeconds } from './cpu';
import { ROOT } from './processes';

/** Variables tickql reads (src/config.ts, src/redis/connect.ts); the caller's are dropped so the child runs the defaults. */
const TICKQL_VARIABLE = /^(FEEDS|PORT|HOST|ROLE|WORKERS|REDIS_URL|REDIS_PREFIX|LOG_LEVEL|STALE_AFTER_MS|INGEST_.*|FEED_MAX_FRAMES_PER_S|LISTING_REFRESH_MS|QUERY_CACHE_.*|SIM_.*|GRAPHQL_.*|GRAPHIQL|API_KEYS|TRUST_PROXY|RATE_LIMIT_.*|MAX_CONNECTIONS.*|HTTP_.*|CORS_ORIGINS|WS_.*|(BINANCE|COINBASE|KRAKEN|OKX|BYBIT)_.*)$/;

/** SIGTERM to SIGKILL: main.ts exits by itself within 10 s of SIGTERM. */
const STOP_GRACE_MS = 12_000;
/** Signals that end the bench; tickql's tree is killed first. */
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** How long the rest of the tree may take to follow the wrapper out. */
const LINGER_MS = 2000;

export interface ServiceProcess {
  /** The tsx wrapper's pid (with `bundle`, the supervisor's). */
  readonly pid: number;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Spawned at, `performance.now()` ms. */
  readonly spawnedAt: number;
  /** Exit code or signal once it exited on its own or was stopped; null while running. */
  exited(): string | null;
  /** User + system CPU seconds of the wrapper and every process under it (those alive now). */
  cpuSeconds(): Promise<number | null>;
  /** Pids of the wrapper and every process under it. */
  tree(): Promise<number[]>;
  /** SIGTERM, wait, then SIGKILL what is left, by pid. Resolves with the pids that had to be killed (the same promise on every call). */
  stop(): Promise<number[]>;
  /** With `processGroup`: sends `signal` to the whole process group at once (throws otherwise). */
  killGroup(signal: NodeJS.Signals): void;
}

export interface ServiceOptions {
  /** Run the esbuild bundle `npm start` runs (dist/main.js) instead of `tsx src/main.ts`. */
  readonly bundle?: boolean;
  /** Spawn detached, leading a process group of its own, for `killGroup`. */
  readonly processGroup?: boolean;
}

/** The process environment without any tickql variable, plus `env`. */
export function serviceEnv(env: Readonly<Record<string, string>>, inherited: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) if (value !== undefined && !TICKQL_VARIABLE.test(name)) out[name] = value;
  return { ...out, ...env };
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `npm run build`: the bundle `npm start` runs (dist/main.js), for `startService(..., { bundle: true })`. */
export function buildBundle(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Spawns `tsx src/main.ts` (or, with `bundle`, `node dist/main.js`) with exactly `env` (build it with `serviceEnv`). */
export function startService(env: Record<string, string>, logPrefix: string, options: ServiceOptions = {}): ServiceProcess {
  const args = options.bundle ? ['--enable-source-maps', 'dist/main.js'] : [createRequire(import.meta.url).resolve('tsx/cli'), 'src/main.ts'];
  const stdoutPath = `${logPrefix}.stdout.log`;
  const stderrPath = `${logPrefix}.stderr.log`;
  const out = openSync(stdoutPath, 'w');
  const err = openSync(stderrPath, 'w');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', out, err], detached: options.processGroup === true });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const spawnedAt = performance.now();
  const pid = child.pid!;
  let exitedAs: string | null = null;
  child.once('exit', (code, signal) => {
    exitedAs = signal ?? String(code);
  });
  /** Every pid seen in the tree, so a grandchild whose parent died first is still killed. */
  const seen = new Set<number>([pid]);
  const tree = async (): Promise<number[]> => {
    const now = await descendants(pid);
    for (const p of now) seen.add(p);
    return now;
  };
  const group = options.processGroup === true;
  const killSeen = () => {
    for (const p of group ? [-pid, ...seen] : seen) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killSeen);
  // A bench stopped by a signal does not run 'exit' listeners: kill the tree, then let the
  // signal do what it would have done.
  const onSignal = (signal: NodeJS.Signals) => {
    killSeen();
    for (const s of SIGNALS) process.off(s, onSignal);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  for (const signal of SIGNALS) process.once(signal, onSignal);
  // Learn the service's pid as soon as tsx has started it (a process group is killed whole).
  const watcher = group ? undefined : setInterval(() => void tree(), 200);

  let stopping: Promise<number[]> | null = null;
  return {
    pid,
    stdoutPath,
    stderrPath,
    spawnedAt,
    exited: () => exitedAs,
    tree,
    cpuSeconds: async () => {
      const pids = await tree();
      const each = await Promise.all(pids.map((p) => cpuSeconds(p)));
      return each.some((s) => s === null) ? null : each.reduce<number>((a, s) => a + s!, 0);
    },
    stop: () => (stopping ??= stopTree()),
    killGroup: (signal) => {
      if (!group) throw new Error('killGroup needs a service started with { processGroup: true }');
      process.kill(-pid, signal);
    },
  };

  async function stopTree(): Promise<number[]> {
    clearInterval(watcher);
    await tree().catch(() => []);
    if (exitedAs === null) {
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS))]);
    }
    // What the service started (tsx's esbuild service) ends once its parent has: give it a moment.
    const until = performance.now() + LINGER_MS;
    while ([...seen].some(alive) && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    const left = [...seen].filter(alive);
    for (const p of group ? [-pid, ...left] : left) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    process.off('exit', killSeen);
    for (const signal of SIGNALS) process.off(signal, onSignal);
    return left;
  }
}

/** The pids of a service's tree by kind: the supervisor's children carry `TICKQL_PROCESS` (ingest or serve) in their environment. */
export interface ProcessKinds {
  readonly supervisor: readonly number[];
  readonly ingest: readonly number[];
  readonly serve: readonly number[];
}

/** The service's tree by kind, from /proc/<pid>/environ; anything without the variable counts as the supervisor (with `npm start`'s bundle, the supervisor alone). */
export async function processKinds(service: ServiceProcess): Promise<ProcessKinds> {
  const out = { supervisor: [] as number[], ingest: [] as number[], serve: [] as number[] };
  for (const pid of await service.tree()) {
    let kind: string | undefined;
    try {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
      kind = environ
        .split('\0')
        .find((v) => v.startsWith(`${PROCESS_KIND_ENV}=`))
        ?.slice(PROCESS_KIND_ENV.length + 1);
    } catch {
      continue;
    }
    if (kind === 'ingest') out.ingest.push(pid);
    else if (kind === 'serve') out.serve.push(pid);
    else out.supervisor.push(pid);
  }
  return out;
}

/**
 * The tree's processes by kind, checked: one ingest process and `workers` serving processes
 * (any number when `workers` is null); throws naming what it found otherwise.
 */
export async function expectTree(service: ServiceProcess, workers: number | null): Promise<ProcessKinds> {
  const kinds = await processKinds(service);
  if (kinds.ingest.length !== 1 || (workers !== null && kinds.serve.length !== workers)) {
    throw new Error(`expected 1 ingest and ${workers ?? 'some'} serving processes, found ${kinds.ingest.length} and ${kinds.serve.length}`);
  }
  return kinds;
}

/** CPU seconds so far of each kind of process in the service's tree (those alive now), and their pids. */
export interface KindCpu {
  readonly pids: ReadonlySet<number>;
  readonly supervisor: number;
  readonly ingest: number;
  readonly serve: number;
  readonly tree: number;
}

export async function cpuByKind(service: ServiceProcess): Promise<KindCpu> {
  const kinds = await processKinds(service);
  const sum = async (list: readonly number[]) => (await Promise.all(list.map((p) => cpuSeconds(p)))).reduce<number>((a, s) => a + (s ?? 0), 0);
  const [supervisor, ingest, serve] = await Promise.all([sum(kinds.supervisor), sum(kinds.ingest), sum(kinds.serve)]);
  return { pids: new Set([...kinds.supervisor, ...kinds.ingest, ...kinds.serve]), supervisor, ingest, serve, tree: supervisor + ingest + serve };
}

/** `root` and every process under it, from /proc (Linux). */
export async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // exited while listing
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (p !== root || alive(p)) out.push(p);
    queue.push(...(parents.get(p) ?? []));
  }
  return out;
}

/** Running (a zombie, exited and waiting to be reaped, is not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
