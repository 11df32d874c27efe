/**
 * The machine the figures come from: what it is, and what else was using it while a scenario
 * ran (the cores are shared with other work, so every report says how busy they were).
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { machineBusySeconds } from './cpu';

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

/** How busy the machine was over the next `sampleMs` (in cores) and its five busiest processes other than this one, for a report. */
export async function describeOtherLoad(sampleMs: number): Promise<string> {
  const read = async () => {
    const out = new Map<number, { name: string; cpu: number }>();
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(Number(entry), { name, cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
      } catch {
        // gone
      }
    }
    return out;
  };
  // Reading every process takes a while on a busy machine: divide by the time that really passed.
  const started = performance.now();
  const machine0 = await machineBusySeconds();
  const a = await read();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const b = await read();
  const machine1 = await machineBusySeconds();
  const seconds = (performance.now() - started) / 1000;
  const busy = [...b]
    .filter(([pid]) => pid !== process.pid)
    .map(([pid, p]) => ({ pid, name: p.name, cores: (p.cpu - (a.get(pid)?.cpu ?? p.cpu)) / seconds }))
    .filter((p) => p.cores >= 0.05)
    .sort((x, y) => y.cores - x.cores)
    .slice(0, 5);
  for (const p of busy) p.name = await describeCommand(p.pid, p.name);
  const machine = machine0 === null || machine1 === null ? null : (machine1 - machine0) / seconds;
  return `${machine === null ? '?' : machine.toFixed(2)} cores busy over ${Math.round(seconds * 1000)} ms${busy.length > 0 ? `, chiefly ${busy.map((p) => `${p.name} (pid ${p.pid}) ${p.cores.toFixed(2)}`).join(', ')}` : ''}`;
}

/** `name` and the script it runs (`node dist/main.js`), from /proc/<pid>/cmdline, so other node processes are told apart. */
async function describeCommand(pid: number, name: string): Promise<string> {
  try {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
    const script = args
      .slice(1)
      .reverse()
      .find((a) => !a.startsWith('-') && /[./]/.test(a) && !a.includes('node_modules'));
    return script ? `${name} ${script}` : name;
  } catch {
    return name;
  }
}
