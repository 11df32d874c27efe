/**
 * Starts a private, in-memory `redis-server` child on a free loopback port. Used by `npm start`
 * when no Redis answers at the default address, and by the tests, which must never touch a
 * database somebody else runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { once } from 'node:events';

export interface LocalRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL after a second). */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), like a crash; resolves when it has exited. */
  kill(): Promise<void>;
}

export class RedisNotInstalledError extends Error {
  override readonly name = 'RedisNotInstalledError';
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when something accepts TCP connections at host:port within `timeoutMs`. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitForReady(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await isListening('127.0.0.1', port, 200)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('redis-server did not start listening within 5 s');
}

export async function startLocalRedis(options: { binary?: string; port?: number } = {}): Promise<LocalRedis> {
  const binary = options.binary ?? 'redis-server';
  // The port is found free and then handed to redis-server; another process could take it in
  // between, so a failed start is retried on a new port (unless the caller named the port).
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new RedisNotInstalledError(`${binary} is not on PATH`) : err),
      ),
    );
    try {
      await Promise.race([waitForReady(child, port), spawnError]);
    } catch (err) {
      child.kill('SIGKILL');
      if (err instanceof RedisNotInstalledError || options.port !== undefined || attempt >= 3) throw err;
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      stop: () => stopChild(child),
      kill: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      },
    };
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
  await exited;
  clearTimeout(timer);
}
