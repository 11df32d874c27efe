/**
 * Bench child: many subscribers in one process, steered over IPC (bench/lib/ipc-child.ts). The
 * process's file limit (20 000 here) caps the sockets one process holds, so scenarios spread
 * large counts over several of these.
 *
 * Two protocols:
 * - `graphql-ws`: one `graphql-transport-ws` protocol client (over `ws`) per subscriber, each
 *   with one `priceUpdated` subscription; the document is the same for everyone and the markets
 *   come in variables, as client libraries send them. The protocol is spoken here rather than
 *   through the `graphql-ws` client library, which parses every message in full: these
 *   processes share the machine's cores with the server they measure (see openGraphqlWs);
 * - `raw`: one plain `ws` socket per subscriber to the raw relay (bench/servers/raw-relay.ts),
 *   `?ids=a,b` or `?exchanges=x` in the URL, each message a market's JSON;
 * - `graphql-ws-stuck`: a graphql-ws subscriber that stops reading its socket once the first
 *   update arrived (`ws.pause()`: the kernel's buffers fill, then the server's), as a frozen
 *   client's does. It records nothing per message; `stuckStatus` reports when they stopped and
 *   their local ports, `resume {ms}` makes them read again and reports how each was closed.
 *
 * Each message's latency is the receive time minus the market's `updatedAt` (the exchange
 * frame's event time, stamped as it left the exchange socket; bench/lib/clock.ts).
 *
 * Commands: `connect {protocol, url, subscribers, concurrency}` opens every socket and
 * subscription (sockets not opened within 90 s count as failed) and resolves once each
 * subscriber has received a first message (or 30 s have passed); `measure {ms}` records a fresh window and returns one encoded histogram and message
 * count per kind; `close` closes everything.
 */
import { WebSocket } from 'ws';
import { wallClockMs } from '../lib/clock';
import { LatencyHistogram } from '../lib/histogram';
import { serveRequests } from '../lib/ipc-child';
import { fastUpdatedAt, updatedAtOf } from '../lib/next-message';
import { PRICE_SUBSCRIPTION, SUBSCRIPTION_ID, type PlannedSubscriber } from '../lib/subscriber-plan';

export type SubscriberProtocol = 'graphql-ws' | 'raw' | 'graphql-ws-stuck';

interface ConnectArgs {
  readonly protocol: SubscriberProtocol;
  readonly url: string;
  readonly subscribers: readonly PlannedSubscriber[];
  /** Sockets being opened at once. */
  readonly concurrency: number;
}

interface KindStats {
  readonly histogram: LatencyHistogram;
  messages: number;
}

export interface MeasureReply {
  readonly seconds: number;
  /** CPU seconds this process used per second of the window. */
  readonly cpu: number;
  readonly kinds: Record<string, { readonly histogram: string; readonly messages: number }>;
  /** Subscribers whose socket or subscription failed or closed. */
  readonly failed: number;
}

/** How long `connect` keeps opening sockets. */
const CONNECT_MS = 90_000;

const kinds = new Map<string, KindStats>();
const closers: Array<() => void> = [];
/** Subscribers failed since the last `close` (each scenario step counts its own). */
let failed = 0;
/** Sockets `close` terminated: their closing is not a failure. */
const closedByUs = new WeakSet<WebSocket>();
let firstErrors: string[] = [];

function statsOf(kind: string): KindStats {
  let stats = kinds.get(kind);
  if (!stats) kinds.set(kind, (stats = { histogram: new LatencyHistogram(), messages: 0 }));
  return stats;
}

function fail(reason: unknown): void {
  failed++;
  if (firstErrors.length < 3) firstErrors.push(reason instanceof Error ? reason.message : String(reason));
}

interface Opening {
  /** The socket is open (graphql-ws: the server acknowledged the connection). */
  readonly connected: Promise<void>;
  /** The first message arrived, or the subscriber failed. */
  readonly firstMessage: Promise<void>;
}

interface ProtocolMessage {
  readonly type?: string;
  readonly id?: string;
  readonly payload?: { readonly data?: { readonly priceUpdated?: { readonly updatedAt?: number } | null }; readonly errors?: unknown } | unknown;
}

/**
 * A graphql-transport-ws socket that the bench terminates itself when it is done (so its close
 * is never counted as a failure), with its opening's promises and the functions settling them.
 */
function graphqlWsSocket(url: string): { ws: WebSocket; opening: Opening; connected: () => void; received: () => void } {
  let connected!: () => void;
  let received!: () => void;
  const opening: Opening = {
    connected: new Promise<void>((resolve) => (connected = resolve)),
    firstMessage: new Promise<void>((resolve) => (received = resolve)),
  };
  const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false, skipUTF8Validation: true });
  closers.push(() => {
    closedByUs.add(ws);
    ws.terminate();
  });
  return { ws, opening, connected, received };
}

/**
 * A graphql-ws subscriber: the `graphql-transport-ws` protocol over one `ws` socket, written
 * out here rather than with the `graphql-ws` client so that the load generator, which shares
 * the machine's cores with the server, spends little per message: a `next` message of the
 * expected shape is read with `fastUpdatedAt`, everything else is parsed in full and handled as
 * the protocol says (`connection_ack`, `ping` -> `pong`, `error`, `complete`).
 */
function openGraphqlWs(url: string, s: PlannedSubscriber): Opening {
  const stats = statsOf(s.kind);
  const { ws, opening, connected, received } = graphqlWsSocket(url);
  const record = (updatedAt: number) => {
    stats.histogram.record(wallClockMs() - updatedAt);
    stats.messages++;
    received();
  };
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
  ws.on('message', (data: Buffer) => {
    const updatedAt = fastUpdatedAt(data);
    if (updatedAt !== null) return record(updatedAt);
    let message: ProtocolMessage;
    try {
      message = JSON.parse(data.toString()) as ProtocolMessage;
    } catch {
      return fail(`not JSON: ${data.toString().slice(0, 200)}`);
    }
    switch (message.type) {
      case 'connection_ack':
        ws.send(JSON.stringify({ id: SUBSCRIPTION_ID, type: 'subscribe', payload: { query: PRICE_SUBSCRIPTION, variables: { ids: s.ids ?? null, exchanges: s.exchanges ?? null } } }));
        return connected();
      case 'ping':
        return ws.send(JSON.stringify({ type: 'pong' }));
      case 'pong':
        return;
      case 'next': {
        const payload = message.payload as { data?: { priceUpdated?: { updatedAt?: number } | null }; errors?: unknown };
        const value = payload.data?.priceUpdated?.updatedAt;
        if (typeof value !== 'number' || payload.errors !== undefined) return fail(JSON.stringify(payload).slice(0, 200));
        return record(value);
      }
      case 'complete':
        return received();
      default:
        if (!closedByUs.has(ws)) fail(JSON.stringify(message).slice(0, 200));
        return received();
    }
  });
  ws.on('error', (err) => {
    if (!closedByUs.has(ws)) fail(err);
  });
  ws.on('close', (code, reason) => {
    if (!closedByUs.has(ws)) fail(`socket closed: ${code} ${String(reason)}`);
    connected();
    received();
  });
  return opening;
}

/** A stuck subscriber's socket, when it stopped reading, and how it was closed once it read again. */
interface Stuck {
  readonly ws: WebSocket;
  readonly localPort: number;
  /** Size of the update it stopped at, as the server framed it (payload bytes). */
  readonly messageBytes: number;
  pausedAt: number;
  closed: { readonly code: number; readonly reason: string } | null;
}

const stuck: Stuck[] = [];

/**
 * graphql-ws subscriber that stops reading at its first update (see the header). The server's
 * close frame, if it sent one, waits behind everything it wrote before: it is seen only after
 * `resume`.
 */
function openStuck(url: string, s: PlannedSubscriber): Opening {
  const { ws, opening, connected, received } = graphqlWsSocket(url);
  let entry: Stuck | null = null;
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
  ws.on('message', (data: Buffer) => {
    if (entry) return; // what ws had already read when the socket paused, or the backlog after `resume`
    let message: ProtocolMessage;
    try {
      message = JSON.parse(data.toString()) as ProtocolMessage;
    } catch {
      return fail(`not JSON: ${data.toString().slice(0, 200)}`);
    }
    if (message.type === 'connection_ack') {
      ws.send(JSON.stringify({ id: SUBSCRIPTION_ID, type: 'subscribe', payload: { query: PRICE_SUBSCRIPTION, variables: { ids: s.ids ?? null, exchanges: s.exchanges ?? null } } }));
      return connected();
    }
    if (message.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
    if (message.type !== 'next') return fail(JSON.stringify(message).slice(0, 200));
    ws.pause();
    stuck.push((entry = { ws, localPort: (ws as unknown as { _socket: { localPort: number } })._socket.localPort, messageBytes: data.length, pausedAt: Date.now(), closed: null }));
    received();
  });
  ws.on('error', (err) => {
    if (!closedByUs.has(ws) && !entry) fail(err);
  });
  ws.on('close', (code, reason) => {
    if (entry) entry.closed = { code, reason: String(reason) };
    else if (!closedByUs.has(ws)) fail(`socket closed: ${code} ${String(reason)}`);
    connected();
    received();
  });
  return opening;
}

function openRaw(url: string, s: PlannedSubscriber): Opening {
  const stats = statsOf(s.kind);
  const query = s.ids ? `ids=${encodeURIComponent(s.ids.join(','))}` : `exchanges=${encodeURIComponent((s.exchanges ?? []).join(','))}`;
  const ws = new WebSocket(`${url}?${query}`, { perMessageDeflate: false, skipUTF8Validation: true });
  closers.push(() => {
    closedByUs.add(ws);
    ws.terminate();
  });
  let received!: () => void;
  const firstMessage = new Promise<void>((resolve) => (received = resolve));
  const connected = new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
  });
  ws.on('message', (data) => {
    const updatedAt = updatedAtOf(data as Buffer);
    if (updatedAt === null) return fail(`no updatedAt: ${String(data).slice(0, 200)}`);
    stats.histogram.record(wallClockMs() - updatedAt);
    stats.messages++;
    received();
  });
  ws.on('error', (err) => {
    if (!closedByUs.has(ws)) fail(err);
  });
  ws.on('close', (code) => {
    if (!closedByUs.has(ws)) fail(`socket closed: ${code}`);
    received();
  });
  return { connected, firstMessage };
}

async function connect(args: ConnectArgs): Promise<{ readonly receiving: number; readonly failed: number; readonly errors: readonly string[]; readonly seconds: number }> {
  const started = Date.now();
  const open = args.protocol === 'raw' ? openRaw : args.protocol === 'graphql-ws-stuck' ? openStuck : openGraphqlWs;
  const before = failed;
  let next = 0;
  let firstMessages = 0;
  // A server too busy to accept sockets would otherwise hold the whole bench: those not opened
  // in time count as failed subscribers, which ends the scenario's stepping.
  const openUntil = started + CONNECT_MS;
  const worker = async () => {
    while (next < args.subscribers.length && Date.now() < openUntil) {
      const opening = open(args.url, args.subscribers[next++]!);
      void opening.firstMessage.then(() => void firstMessages++);
      await Promise.race([opening.connected, new Promise((r) => setTimeout(r, Math.max(0, openUntil - Date.now())))]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, args.concurrency) }, worker));
  const unopened = args.subscribers.length - next;
  if (unopened > 0) fail(`${unopened} of ${args.subscribers.length} subscribers not opened within ${CONNECT_MS / 1000} s`);
  failed += Math.max(0, unopened - 1);
  const deadline = Date.now() + 30_000;
  while (firstMessages < next && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const errors = firstErrors;
  firstErrors = [];
  return { receiving: Math.max(0, firstMessages - (failed - before - unopened)), failed: failed - before, errors, seconds: (Date.now() - started) / 1000 };
}

async function measure({ ms }: { readonly ms: number }): Promise<MeasureReply> {
  for (const stats of kinds.values()) {
    stats.histogram.reset();
    stats.messages = 0;
  }
  const cpuBefore = process.cpuUsage();
  const started = wallClockMs();
  await new Promise((r) => setTimeout(r, ms));
  const seconds = (wallClockMs() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const out: MeasureReply['kinds'] = {};
  for (const [kind, stats] of kinds) out[kind] = { histogram: stats.histogram.encode(), messages: stats.messages };
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6 / seconds, kinds: out, failed };
}

export interface StuckStatus {
  /** Subscribers that stopped reading, and when the first and the last did (ms since the epoch). */
  readonly paused: number;
  readonly firstPausedAt: number | null;
  readonly lastPausedAt: number | null;
  /** Their sockets' local ports, to find them in /proc/net/tcp. */
  readonly localPorts: readonly number[];
  /** Mean size of the updates they stopped at (WebSocket payload bytes). */
  readonly messageBytes: number;
}

function stuckStatus(): StuckStatus {
  const times = stuck.map((s) => s.pausedAt);
  return {
    paused: stuck.length,
    firstPausedAt: times.length > 0 ? Math.min(...times) : null,
    lastPausedAt: times.length > 0 ? Math.max(...times) : null,
    localPorts: stuck.map((s) => s.localPort),
    messageBytes: stuck.reduce((n, s) => n + s.messageBytes, 0) / Math.max(1, stuck.length),
  };
}

export interface ResumeReply {
  /** Close codes seen (as strings) with their counts; `open` for sockets still open after `ms`. */
  readonly codes: Record<string, number>;
  /** One reason per code. */
  readonly reasons: Record<string, string>;
}

/** Stuck subscribers read again; waits up to `ms` for each to have been closed, and says how. */
async function resume({ ms }: { readonly ms: number }): Promise<ResumeReply> {
  for (const s of stuck) s.ws.resume();
  const deadline = Date.now() + ms;
  while (stuck.some((s) => s.closed === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const codes: Record<string, number> = {};
  const reasons: Record<string, string> = {};
  for (const s of stuck) {
    const code = s.closed === null ? 'open' : String(s.closed.code);
    codes[code] = (codes[code] ?? 0) + 1;
    if (s.closed) reasons[code] ??= s.closed.reason;
  }
  return { codes, reasons };
}

serveRequests({
  connect,
  measure,
  stuckStatus,
  resume,
  close: () => {
    for (const close of closers.splice(0)) close();
    stuck.length = 0;
    failed = 0;
    firstErrors = [];
    kinds.clear();
  },
});
