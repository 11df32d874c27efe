/**
 * Slow and stuck graphql-ws clients, watched with one timer for all sockets (no timer or
 * promise per message).
 *
 * Stuck: every socket is pinged (this is also the keep-alive, in place of graphql-ws's own);
 * a WebSocket peer answers a ping only once it has read everything sent before it, so a ping
 * unanswered for `stuckClientMs` means the client has not read what was sent to it that long
 * ago: it is stopped, frozen or hopelessly behind. It is closed with 4008 and a reason; if the
 * close does not complete within `closeGraceMs` (the close frame waits behind data the client
 * does not read), the socket is terminated. Measuring what the client read, not what this
 * process handed to the kernel, matters: the kernel buffers megabytes per connection (about
 * 4 MB on Linux loopback) before a write even waits in this process.
 *
 * Slow: delivery waits for each write to reach the kernel before taking the next update
 * (graphql-ws, and shared-subscriptions.ts), so what a connection has queued in this process
 * is at most one write per subscription. `whenWritable` also holds a subscription's next
 * write while its connection has more than `maxBufferedBytes` queued (several subscriptions on
 * one connection), until the queue drains. Meanwhile updates wait in the subscription's
 * LatestByKey, one state per market, where newer states replace older ones.
 *
 * SSE streams (yoga writes the next update only after `drain`) have no ping to answer; one
 * whose writes make no progress (bytes still queued in this process and none handed to the
 * kernel) for `stuckClientMs` is cut: the kernel's buffers are full and the client reads
 * nothing.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger';
import { WsCloseCode } from './ws-transport';

/** graphql-ws's default keep-alive: ping an idle socket this often. */
const KEEPALIVE_MS = 12_000;
/** How long a stuck client's close may take before its socket is terminated, at most. */
const MAX_CLOSE_GRACE_MS = 5000;
/** Checks per `stuckClientMs`, so a stuck client is found within about a quarter more. */
const CHECKS_PER_LIMIT = 4;

export interface SlowClientOptions {
  readonly stuckClientMs: number;
  readonly maxBufferedBytes: number;
  readonly logger: Logger;
}

/** Counted since start, for /metrics. */
export interface SlowClientStats {
  /** Clients closed with 4008 for not reading. */
  closed: number;
  /** Of those, sockets terminated because the close did not complete. */
  terminated: number;
  /** Writes held until the connection's queue drained below `maxBufferedBytes`. */
  outboundWaits: number;
  /** SSE streams cut because their writes made no progress. */
  streamsCut: number;
}

interface WatchedStream {
  /** Bytes handed to the kernel when last seen to move. */
  dispatched: number;
  since: number;
}

interface Watched {
  readonly transport: Socket;
  /** When the unanswered ping was sent; 0 when none is outstanding. */
  pingSentAt: number;
  lastPongAt: number;
  /** When it was closed as stuck; 0 while it is not. */
  closingAt: number;
  /** Writes held until the queue drains (see whenWritable). */
  held: Array<() => void> | null;
  /** Whether a 'drain' listener is waiting. */
  armed: boolean;
}

export class SlowClients {
  readonly stats: SlowClientStats = { closed: 0, terminated: 0, outboundWaits: 0, streamsCut: 0 };
  private readonly sockets = new Map<WebSocket, Watched>();
  private readonly streams = new Map<Socket, WatchedStream>();
  private readonly timer: NodeJS.Timeout;
  private readonly pingEveryMs: number;
  private readonly closeGraceMs: number;

  constructor(private readonly options: SlowClientOptions) {
    this.pingEveryMs = Math.min(KEEPALIVE_MS, options.stuckClientMs / 2);
    this.closeGraceMs = Math.min(MAX_CLOSE_GRACE_MS, options.stuckClientMs);
    this.timer = setInterval(this.check, Math.max(10, Math.min(1000, options.stuckClientMs / CHECKS_PER_LIMIT)));
    this.timer.unref();
  }

  /** Watches `socket` until it closes; `transport` is the TCP socket under it. */
  watch(socket: WebSocket, transport: Socket): void {
    const watched: Watched = { transport, pingSentAt: 0, lastPongAt: Date.now(), closingAt: 0, held: null, armed: false };
    this.sockets.set(socket, watched);
    socket.on('pong', () => {
      watched.pingSentAt = 0;
      watched.lastPongAt = Date.now();
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.release(socket, watched, true);
    });
  }

  /** Watches an SSE response until it closes; `transport` is its TCP socket. */
  watchStream(transport: Socket, response: ServerResponse): void {
    this.streams.set(transport, { dispatched: -1, since: Date.now() });
    response.once('close', () => this.streams.delete(transport));
  }

  /**
   * Calls `then` at once while `socket` has at most `maxBufferedBytes` queued in this process,
   * else once it has drained below that (or closed).
   */
  whenWritable(socket: WebSocket, then: () => void): void {
    const watched = this.sockets.get(socket);
    if (!watched || socket.bufferedAmount <= this.options.maxBufferedBytes) return then();
    this.stats.outboundWaits++;
    if (watched.held) return void watched.held.push(then);
    watched.held = [then];
    this.armDrain(socket, watched);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Runs held writes while the queue is within the limit; all of them when the socket closed. */
  private release(socket: WebSocket, watched: Watched, all: boolean): void {
    const held = watched.held;
    if (!held) return;
    while (held.length > 0 && (all || socket.bufferedAmount <= this.options.maxBufferedBytes)) held.shift()!();
    if (held.length === 0) watched.held = null;
    else this.armDrain(socket, watched);
  }

  private armDrain(socket: WebSocket, watched: Watched): void {
    if (watched.armed) return;
    watched.armed = true;
    watched.transport.once('drain', () => {
      watched.armed = false;
      this.release(socket, watched, false);
    });
  }

  /** A timer callback that throws would take the process down: log instead. */
  private readonly check = (): void => {
    try {
      this.checkAll(Date.now());
    } catch (err) {
      this.options.logger.error({ err }, 'checking slow clients failed');
    }
  };

  private checkAll(now: number): void {
    for (const [socket, watched] of this.sockets) {
      if (watched.closingAt !== 0) {
        if (now - watched.closingAt >= this.closeGraceMs) {
          this.stats.terminated++;
          socket.terminate();
        }
        continue;
      }
      if (socket.readyState !== socket.OPEN) continue;
      if (watched.pingSentAt !== 0) {
        if (now - watched.pingSentAt >= this.options.stuckClientMs) this.closeStuck(socket, watched, now);
      } else if (now - watched.lastPongAt >= this.pingEveryMs) {
        watched.pingSentAt = now;
        socket.ping();
      }
      // A limit under the socket's high-water mark may never see 'drain'.
      if (watched.held) this.release(socket, watched, false);
    }
    for (const [transport, stream] of this.streams) {
      const queued = transport.writableLength;
      const dispatched = transport.bytesWritten - queued;
      if (queued === 0 || dispatched !== stream.dispatched) {
        stream.dispatched = dispatched;
        stream.since = now;
      } else if (now - stream.since >= this.options.stuckClientMs) {
        this.stats.streamsCut++;
        this.streams.delete(transport);
        this.options.logger.info({ address: transport.remoteAddress, queuedBytes: queued }, `cut an SSE stream that did not read for ${this.options.stuckClientMs} ms`);
        transport.destroy();
      }
    }
  }

  private closeStuck(socket: WebSocket, watched: Watched, now: number): void {
    this.stats.closed++;
    watched.closingAt = now;
    this.options.logger.info(
      { address: watched.transport.remoteAddress, queuedBytes: socket.bufferedAmount },
      `closed a WebSocket client that did not read for ${this.options.stuckClientMs} ms`,
    );
    socket.close(WsCloseCode.StuckClient, `Stuck: did not read for ${this.options.stuckClientMs} ms`);
  }
}
