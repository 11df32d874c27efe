/**
 * Bench child (started with `startIpcChild`): a plain Redis subscriber on tickql's market
 * channels (`PublishMonitor`, bench/lib/delivery-rig.ts) in a process of its own, so that
 * nothing else on its event loop (the scenario's /proc readings, a load generator) delays the
 * moment it reads a message: it times the ingest part of the path, frame -> visible in Redis.
 *
 * Requests: `start {redisUrl, prefix}` subscribes; `measure {ms}` records a fresh window and
 * returns `PublishWindow`; `quiet {ms, timeoutMs}` resolves once no message has arrived for
 * `ms` (the exchanges were paused: tickql has written everything it received), with how long
 * that took, or fails after `timeoutMs`; `close` unsubscribes. Exits when the parent disconnects.
 */
import { PublishMonitor, type PublishWindow } from '../lib/delivery-rig';
import { serveRequests } from '../lib/ipc-child';

export type { PublishWindow };

let monitor: PublishMonitor | null = null;

serveRequests({
  start: async ({ redisUrl, prefix }: { readonly redisUrl: string; readonly prefix: string }) => {
    monitor?.close();
    monitor = await PublishMonitor.start(redisUrl, prefix);
  },
  measure: async ({ ms }: { readonly ms: number }): Promise<PublishWindow> => {
    if (!monitor) throw new Error('measure before start');
    return monitor.measure(ms);
  },
  quiet: async ({ ms, timeoutMs }: { readonly ms: number; readonly timeoutMs: number }): Promise<{ readonly waitedMs: number }> => {
    if (!monitor) throw new Error('quiet before start');
    const started = performance.now();
    for (;;) {
      const silentFor = performance.now() - monitor.lastMessageAt;
      if (silentFor >= ms) return { waitedMs: performance.now() - started };
      if (performance.now() - started > timeoutMs) throw new Error(`still publishing ${timeoutMs} ms after the exchanges were paused`);
      await new Promise((r) => setTimeout(r, Math.max(10, ms - silentFor)));
    }
  },
  close: () => {
    monitor?.close();
    monitor = null;
  },
});
