/**
 * Bench child, baseline for the subscription scenarios: the same Redis channels delivered to
 * plain WebSockets with no GraphQL at all. A client connects to `/?ids=a,b` or
 * `/?exchanges=x`; the relay subscribes each market channel (or exchange pattern) once, as
 * tickql does, and writes every published payload (the market's stored JSON) to each socket
 * watching it, converted to bytes once per message for all of them. No parsing, no
 * per-subscriber execution or serialization, no conflation: the floor for Node + ws on this
 * path.
 *
 * Env: REDIS_URL, REDIS_PREFIX. Announces `READY {"url"}` (ws://).
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import { createKeys } from '../../src/redis/keys';
import { announceReady, onStop } from '../lib/processes';

const keys = createKeys(process.env.REDIS_PREFIX ?? 'tickql');
const subscriber = new Redis(process.env.REDIS_URL!);
await once(subscriber, 'ready'); // a SUBSCRIBE queued before the ready check would break it
/** Channel or pattern -> sockets watching it. */
const watchers = new Map<string, Set<WebSocket>>();

function deliver(name: string, payload: Buffer): void {
  const sockets = watchers.get(name);
  if (!sockets) return;
  for (const ws of sockets) ws.send(payload, { binary: false });
}
subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => deliver(channel.toString(), payload));
subscriber.on('pmessageBuffer', (pattern: Buffer, _channel: Buffer, payload: Buffer) => deliver(pattern.toString(), payload));

const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws, request) => {
  const params = new URL(request.url ?? '/', 'http://relay').searchParams;
  const list = (name: string) => (params.get(name) ?? '').split(',').filter((s) => s !== '');
  const names = [
    ...list('ids').map((id) => ({ name: keys.tickChannel(id), pattern: false })),
    ...list('exchanges').map((e) => ({ name: keys.tickPattern(e.toLowerCase(), null), pattern: true })),
  ];
  for (const { name, pattern } of names) {
    let sockets = watchers.get(name);
    if (!sockets) {
      watchers.set(name, (sockets = new Set()));
      void (pattern ? subscriber.psubscribe(name) : subscriber.subscribe(name));
    }
    sockets.add(ws);
  }
  ws.on('error', () => undefined);
  ws.on('close', () => {
    for (const { name } of names) watchers.get(name)?.delete(ws);
  });
});

server.listen(0, '127.0.0.1');
await once(server, 'listening');
onStop(async () => {
  for (const ws of wss.clients) ws.terminate();
  server.close();
  subscriber.disconnect();
  return null;
});
announceReady({ url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/` });
