/**
 * Child processes that a scenario steers step by step over Node's IPC channel: connect more
 * clients, measure now, report. `startChild`'s READY/DONE lines suit a server that runs until
 * stopped; a load generator that takes several commands needs requests and replies.
 *
 * Parent: `const c = await startIpcChild(script, env); await c.request('measure', { ms });`
 * Child:  `serveRequests({ measure: async ({ ms }) => ... })` (replies with the return value;
 *         a thrown error rejects the parent's request with its message). The child exits when
 *         the parent disconnects, so a crashed scenario leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ROOT } from './processes';

export interface IpcChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Runs the child's handler for `command`; resolves with its return value. */
  request<R>(command: string, args?: unknown): Promise<R>;
  /** Closes the channel (the child exits); SIGKILL after 5 s. */
  stop(): Promise<void>;
}

interface Request {
  readonly id: number;
  readonly command: string;
  readonly args: unknown;
}

type Reply = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: string };

export interface IpcChildOptions {
  /** Node options before the script, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  readonly readyTimeoutMs?: number;
}

/** Runs a TypeScript file under tsx and waits until it called `serveRequests`. */
export async function startIpcChild(script: string, env: Record<string, string>, options: IpcChildOptions = {}): Promise<IpcChild> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let exited = false;
  child.on('message', (message: Reply | { readonly ready: true }) => {
    if ('ready' in message) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if ('error' in message) waiter?.reject(new Error(`${script}: ${message.error}`));
    else waiter?.resolve(message.value);
  });
  child.once('exit', (code, signal) => {
    exited = true;
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${signal ?? code}) during a request`));
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 30_000;
    const timer = setTimeout(() => reject(new Error(`${script} did not get ready within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`${script} exited with code ${code} before it was ready`)));
    child.on('message', (message: { readonly ready?: true }) => {
      if (message.ready !== true) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    process: child,
    pid: child.pid!,
    request: <R>(command: string, args?: unknown) =>
      new Promise<R>((resolve, reject) => {
        if (exited) return reject(new Error(`${script} has exited`));
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, command, args } satisfies Request);
      }),
    stop: async () => {
      if (exited) return;
      const gone = once(child, 'exit');
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** In the child: answers the parent's requests with these handlers, then says it is ready. */
export function serveRequests(handlers: Readonly<Record<string, (args: never) => unknown>>): void {
  if (!process.send) throw new Error('serveRequests needs an IPC channel: start this file with startIpcChild');
  process.on('message', (message: Request) => {
    const handler = handlers[message.command];
    const reply = (r: Reply) => process.send?.(r);
    if (!handler) return reply({ id: message.id, error: `unknown command ${message.command}` });
    Promise.resolve()
      .then(() => handler(message.args as never))
      .then(
        (value) => reply({ id: message.id, value: value ?? null }),
        (err: unknown) => reply({ id: message.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  process.once('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
