/**
 * Child processes for the systems under test, so that the load generator, the server and the
 * background writer each have their own event loop (they still share the machine's cores).
 * A child announces itself with one line `READY <json>` on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child<T> {
  readonly info: T;
  readonly process: ChildProcess;
  /** Stops the child (SIGTERM) and resolves with the `DONE <json>` it printed on the way out, if any. */
  stop(): Promise<unknown>;
}

/** Runs a TypeScript file under tsx and waits for its READY line. */
export async function startChild<T>(script: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Child<T>> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let done: unknown = null;
  lines.on('line', (line) => {
    if (line.startsWith('DONE ')) done = JSON.parse(line.slice(5)) as unknown;
  });
  const info = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not get ready within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`${script} exited with code ${code} before it was ready`)));
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(6)) as T);
    });
  });
  return {
    info,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise((r) => setImmediate(r)); // let the last stdout lines arrive
      return done;
    },
  };
}

/** Called by a child once it is serving. */
export function announceReady(info: unknown): void {
  process.stdout.write(`READY ${JSON.stringify(info)}\n`);
}

/** Called by a child on SIGTERM with what it wants to report; then it exits. */
export function onStop(report: () => Promise<unknown> | unknown): void {
  process.once('SIGTERM', () => {
    void Promise.resolve(report()).then(
      (value) => process.stdout.write(`DONE ${JSON.stringify(value ?? null)}\n`, () => process.exit(0)),
      () => process.exit(1),
    );
  });
}

/** Resident memory of a process in bytes, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}
