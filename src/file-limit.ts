/**
 * How many files this process may hold open (the soft RLIMIT_NOFILE, what `ulimit -n`
 * says). Every socket is one, so it bounds how many clients the process can take before
 * accepting one more fails for everybody, Redis and the exchanges included; config.ts sizes
 * the default socket and connection caps from it.
 *
 * Read from /proc/self/limits on Linux; elsewhere (macOS, the BSDs) from `ulimit -n` in a
 * child shell, which inherits this process's limits; when neither answers (Windows, no
 * shell), FALLBACK_FILE_LIMIT. Node raises its soft limit to the hard one as it starts, so
 * the figure is usually the hard limit.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What the limit is taken to be when it cannot be read: a common hard limit, far above the usual soft default of 1024. */
export const FALLBACK_FILE_LIMIT = 4096;

let cached: number | undefined;

/** The process's open-file limit; Infinity when the system says unlimited. Read once. */
export function openFileLimit(): number {
  cached ??= fromProcLimits() ?? fromUlimit() ?? FALLBACK_FILE_LIMIT;
  return cached;
}

/** The soft limit of the "Max open files" line of /proc/<pid>/limits' text, or null. */
export function parseProcLimits(text: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return null;
  // Columns: name, soft limit, hard limit, units.
  return parseLimit(line.slice('Max open files'.length).trim().split(/\s+/)[0] ?? '');
}

/** A limit as `ulimit -n` or /proc print it: a whole number or "unlimited"; else null. */
export function parseLimit(text: string): number | null {
  const value = text.trim();
  if (value === 'unlimited') return Infinity;
  return /^\d+$/.test(value) && Number(value) > 0 ? Number(value) : null;
}

function fromProcLimits(): number | null {
  try {
    return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

function fromUlimit(): number | null {
  if (process.platform === 'win32') return null;
  const shell = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 });
  return shell.status === 0 ? parseLimit(shell.stdout) : null;
}
