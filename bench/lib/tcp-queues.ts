/**
 * What the kernel holds for loopback connections, from /proc (Linux): a client that stops
 * reading leaves bytes in its own receive queue and in the server's send queue before the
 * server's process queues anything, so a scenario about stuck clients must say how much that
 * was to show whether it got past the kernel's buffers. Elsewhere these answer null.
 */
import { readFile } from 'node:fs/promises';

/** Bytes one connection has in the kernel: the server's send queue plus the client's receive queue. */
export interface ConnectionQueue {
  readonly clientPort: number;
  readonly bytes: number;
}

interface Row {
  readonly localPort: number;
  readonly remotePort: number;
  readonly txQueue: number;
  readonly rxQueue: number;
}

const ESTABLISHED = '01';

/** IPv4 TCP sockets of this network namespace (the bench serves on 127.0.0.1). */
async function rows(): Promise<Row[] | null> {
  let text: string;
  try {
    text = await readFile('/proc/net/tcp', 'utf8');
  } catch {
    return null;
  }
  const out: Row[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] !== ESTABLISHED) continue;
    const [tx, rx] = fields[4]!.split(':');
    out.push({
      localPort: parseInt(fields[1]!.split(':')[1]!, 16),
      remotePort: parseInt(fields[2]!.split(':')[1]!, 16),
      txQueue: parseInt(tx!, 16),
      rxQueue: parseInt(rx!, 16),
    });
  }
  return out;
}

/**
 * Kernel bytes of each connection between `serverPort` and one of `clientPorts` (both ends on
 * this machine): what the server wrote that the client has not read, except what is in flight
 * between the two queues (nothing on loopback).
 */
export async function connectionQueues(serverPort: number, clientPorts: readonly number[]): Promise<ConnectionQueue[] | null> {
  const all = await rows();
  if (all === null) return null;
  const wanted = new Set(clientPorts);
  const bytes = new Map<number, number>();
  for (const r of all) {
    if (r.localPort === serverPort && wanted.has(r.remotePort)) bytes.set(r.remotePort, (bytes.get(r.remotePort) ?? 0) + r.txQueue);
    else if (r.remotePort === serverPort && wanted.has(r.localPort)) bytes.set(r.localPort, (bytes.get(r.localPort) ?? 0) + r.rxQueue);
  }
  return [...bytes].map(([clientPort, b]) => ({ clientPort, bytes: b }));
}

/** Memory all TCP sockets of the machine hold in the kernel (/proc/net/sockstat `TCP: ... mem`, pages), in bytes. */
export async function tcpMemoryBytes(): Promise<number | null> {
  try {
    const pages = /^TCP:.*\bmem (\d+)/m.exec(await readFile('/proc/net/sockstat', 'utf8'))?.[1];
    return pages === undefined ? null : Number(pages) * 4096;
  } catch {
    return null;
  }
}

/** The kernel's TCP memory limits (/proc/sys/net/ipv4/tcp_mem: low, pressure, high), in bytes. */
export async function tcpMemoryLimits(): Promise<readonly [number, number, number] | null> {
  try {
    const [low, pressure, high] = (await readFile('/proc/sys/net/ipv4/tcp_mem', 'utf8')).trim().split(/\s+/).map((p) => Number(p) * 4096);
    return low !== undefined && pressure !== undefined && high !== undefined ? [low, pressure, high] : null;
  } catch {
    return null;
  }
}
