import { WebSocket } from 'ws';
import { startChild } from '/work/main/bench/lib/processes';
const tickMs = Number(process.argv[2] ?? 10);
const count = Number(process.argv[3] ?? 1);
const sim = await startChild<{ sims: { wsUrl: string; symbols: string[] }[] }>('bench/servers/exchange-sim.ts', { SIM_TICK_MS: String(tickMs), SIM_COUNT: String(count) });
let frames = 0;
for (const s of sim.info.sims) {
  const ws = new WebSocket(s.wsUrl);
  await new Promise((r) => ws.once('open', r));
  for (let i = 0; i < s.symbols.length; i += 200) { if (i === 800) await new Promise((r) => setTimeout(r, 1100)); ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: s.symbols.slice(i, i + 200).map((x) => x.toLowerCase() + '@ticker'), id: i + 1 })); }
  ws.on('message', () => frames++);
}
const stat = async (pid: number) => { const t = (await import('node:fs')).readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(t[11]) + Number(t[12])) / 100; };
await new Promise((r) => setTimeout(r, 2000));
const f0 = frames, c0 = await stat(sim.process.pid!), t0 = Date.now(), u0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, 5000));
const dt = (Date.now() - t0) / 1000;
const u = process.cpuUsage(u0);
console.log({ offered: count * 1024 * 1000 / tickMs, received: (frames - f0) / dt, simCpu: (await stat(sim.process.pid!) - c0) / dt, clientCpu: (u.user + u.system) / 1e6 / dt });
await sim.stop();
process.exit(0);
