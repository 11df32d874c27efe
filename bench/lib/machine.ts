import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** One paragraph naming the machine and the versions the figures were measured with. */
export async function describeMachine(): Promise<string> {
  const cpu = cpus();
  const redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?';
  let postgres = 'not reachable';
  try {
    postgres = execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // psql is only used to name the version
  }
  return `Machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory; Node ${process.version}; Redis ${redis}; ${postgres}.`;
}
