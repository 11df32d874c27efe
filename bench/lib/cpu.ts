/**
 * CPU time of other processes, for the "who used the cores" split in a scenario: read before
 * and after a measured window, the difference divided by the window is the share of one core
 * that process used. Linux only (/proc); elsewhere it answers null and the split is left out.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux platform Node runs on. */
const CLOCK_TICKS = 100;

/** User + system CPU seconds a process has used so far, or null when /proc cannot tell. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** Share of one core used between two readings taken `seconds` apart ("0.85" = 85 % of a core). */
export function coreShare(before: number | null, after: number | null, seconds: number): number | null {
  return before === null || after === null || seconds <= 0 ? null : (after - before) / seconds;
}

/**
 * CPU seconds all cores together have spent busy (anything but idle and I/O wait) since boot,
 * from /proc/stat, or null when /proc cannot tell. Over a window, minus the processes a
 * scenario knows, it is what everything else on the machine took.
 */
export async function machineBusySeconds(): Promise<number | null> {
  try {
    const stat = await readFile('/proc/stat', 'utf8');
    const fields = /^cpu\s+(.*)$/m.exec(stat)?.[1]?.trim().split(/\s+/).map(Number);
    if (!fields || fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return null;
    // user nice system idle iowait irq softirq steal ...; guest time is already inside user.
    const [user, nice, system, , , irq = 0, softirq = 0, steal = 0] = fields as [number, number, number, number, number, number?, number?, number?];
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * Seconds a process's main thread has spent runnable but waiting for a core so far (the
 * scheduler's run-queue delay, /proc/<pid>/schedstat), or null when /proc cannot tell. Over a
 * window, divided by it: the share of the window the thread was ready to run and did not.
 */
export async function runDelaySeconds(pid: number): Promise<number | null> {
  try {
    const waitedNs = Number((await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ')[1]);
    return Number.isFinite(waitedNs) ? waitedNs / 1e9 : null;
  } catch {
    return null;
  }
}
