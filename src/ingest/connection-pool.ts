/**
 * One feed's connections. An exchange caps what one connection may carry (streams, topics,
 * characters of arguments: `adapter.capacity`), so a feed's symbols are spread over as many
 * `FeedConnection`s as that requires, each with its own socket loop (pacing, watchdog,
 * backoff, rotation): a failing connection costs only its own symbols their updates.
 *
 * Placement: symbols fill the connections in order, first fit by cost; a symbol that fits
 * nowhere opens a new connection. Symbols added while running (a new listing) go to a
 * connection with room, subscribed on its open socket, so no other connection is touched.
 * Removed symbols leave their connection's list, so they are not subscribed again on a new
 * socket; nothing is unsubscribed on the open one, so the room they held counts as used until
 * that connection's next socket (a reconnect or rotation) and is reused only then: the
 * exchange's count of what the socket carries never exceeds the capacity.
 *
 * What the exchange counts per IP address (new connections, messages, and our own frame
 * budget) is shared by every connection here (`SharedLimits`, connection.ts).
 *
 * Status of the whole feed, from its connections':
 *   DOWN          every connection failed for good, or there is nothing to subscribe;
 *   CONNECTING    no connection has been live yet;
 *   RECONNECTING  some connection that was live is not (lost, or failed for good) — its
 *                 markets are not updating, so the feed does not claim to be live;
 *   LIVE          every connection that has been live is live. A connection opened later for
 *                 new symbols does not make a live feed CONNECTING: its markets have no state
 *                 yet to go stale.
 */
import type { Logger } from '../logger';
import type { ExchangeAdapter, FrameEvent } from './adapter';
import { FeedConnection, sharedLimits, type ConnectionStatus, type FeedConnectionOptions, type SharedLimits } from './connection';
import { TimerSet } from './timer-set';

export interface PoolListener {
  frame(event: FrameEvent, receivedAt: number): void;
  /** The feed's status (see the top of this file), on every change. */
  status(status: ConnectionStatus, reason: string | null): void;
  /** A connection failed or was lost. */
  failure(message: string): void;
}

/** What a `FeedConnection` takes, less what the pool decides per connection (symbols, number, shared limits). */
export type ConnectionPoolOptions = Pick<FeedConnectionOptions, 'adapter' | 'logger' | 'backoff' | 'timing' | 'now' | 'random' | 'maxFramesPerSecond'> & {
  readonly listener: PoolListener;
};

interface Member {
  readonly number: number;
  readonly connection: FeedConnection;
  /** Capacity used by its symbols. */
  used: number;
  status: ConnectionStatus;
  wasLive: boolean;
}

export class ConnectionPool {
  private readonly adapter: ExchangeAdapter;
  private readonly listener: PoolListener;
  private readonly log: Logger;
  private readonly options: ConnectionPoolOptions;
  private readonly timers = new TimerSet();
  private readonly shared: SharedLimits;
  private readonly members: Member[] = [];
  private state: 'new' | 'running' | 'stopped' = 'new';
  private status: ConnectionStatus | null = null;

  constructor(options: ConnectionPoolOptions) {
    this.options = options;
    this.adapter = options.adapter;
    this.listener = options.listener;
    this.log = options.logger;
    this.shared = sharedLimits(options.adapter, options.maxFramesPerSecond, this.timers, options.now ?? Date.now, options.logger);
  }

  /** Starts every connection made so far; connections made later start at once. */
  start(): void {
    if (this.state !== 'new') throw new Error('ConnectionPool.start() may be called once');
    this.state = 'running';
    for (const member of this.members) member.connection.start();
    this.updateStatus(this.members.length === 0 ? 'nothing to subscribe' : null);
  }

  /**
   * Places `symbols` on connections with room, opening new ones as needed. Returns the symbols
   * that cannot go on any connection (one alone costs more than a whole connection carries).
   */
  add(symbols: readonly string[]): string[] {
    const { perConnection, cost } = this.adapter.capacity;
    const placed = new Map<Member, string[]>();
    const created = new Set<Member>();
    const oversized: string[] = [];
    for (const symbol of symbols) {
      const size = cost(symbol);
      if (size > perConnection) {
        oversized.push(symbol);
        continue;
      }
      let member = this.members.find((m) => m.used + size <= perConnection);
      if (member === undefined) {
        member = this.newMember();
        created.add(member);
      }
      member.used += size;
      let list = placed.get(member);
      if (list === undefined) placed.set(member, (list = []));
      list.push(symbol);
    }
    for (const [member, list] of placed) {
      // On an open socket this subscribes them now; a connection not open yet subscribes its
      // whole list when its socket opens.
      member.connection.addSymbols(list);
      if (created.has(member) && this.state === 'running') member.connection.start();
    }
    if (placed.size > 0 && this.state === 'running') this.updateStatus(null);
    return oversized;
  }

  /** Stops subscribing `symbols` (they stay subscribed on open sockets until those close). */
  remove(symbols: ReadonlySet<string>): void {
    if (symbols.size === 0) return;
    for (const member of this.members) member.connection.removeSymbols(symbols);
  }

  /** Every symbol subscribed, in placement order. */
  get symbols(): string[] {
    return this.members.flatMap((m) => m.connection.symbols);
  }

  /** Connections of this feed, open or not. */
  get size(): number {
    return this.members.length;
  }

  /** Exchange sockets open right now. */
  get openSockets(): number {
    return this.sum((c) => c.openSockets);
  }

  get reconnects(): number {
    return this.sum((c) => c.reconnects);
  }

  get stalls(): number {
    return this.sum((c) => c.stalls);
  }

  get throttledSeconds(): number {
    return this.shared.budget.throttledSeconds;
  }

  /** Connects let through the connection gate so far, and those waiting for room. */
  get connects(): { readonly opened: number; readonly waiting: number } {
    return { opened: this.shared.gate.opened, waiting: this.shared.gate.waiting };
  }

  /** Sockets and timers held right now; all zero once `stop()` has resolved. */
  get openResources(): { readonly sockets: number; readonly timers: number } {
    let sockets = 0;
    let timers = this.timers.size;
    for (const { connection } of this.members) {
      sockets += connection.openResources.sockets;
      timers += connection.openResources.timers;
    }
    return { sockets, timers };
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.timers.clearAll();
    await Promise.all(this.members.map((m) => m.connection.stop()));
    this.timers.clearAll();
    this.setStatus('down', 'stopped');
  }

  private newMember(): Member {
    const number = this.members.length + 1;
    const member: Member = {
      number,
      used: 0,
      status: 'connecting',
      wasLive: false,
      connection: new FeedConnection({
        adapter: this.adapter,
        symbols: [],
        number,
        shared: this.shared,
        logger: this.log,
        backoff: this.options.backoff,
        timing: this.options.timing,
        now: this.options.now,
        random: this.options.random,
        listener: {
          frame: (event, receivedAt) => this.listener.frame(event, receivedAt),
          status: (status, reason) => this.onConnectionStatus(member, status, reason),
          failure: (message) => this.listener.failure(this.members.length > 1 ? `connection ${number}: ${message}` : message),
          // A new socket carries exactly the connection's symbols now: what removals freed is free again.
          opened: () => {
            const { cost } = this.adapter.capacity;
            member.used = member.connection.symbols.reduce((sum, symbol) => sum + cost(symbol), 0);
          },
        },
      }),
    };
    this.members.push(member);
    return member;
  }

  private onConnectionStatus(member: Member, status: ConnectionStatus, reason: string | null): void {
    if (this.state === 'stopped') return;
    const from = member.status;
    member.status = status;
    if (status === 'live') member.wasLive = true;
    if (from !== status) {
      const line = { connection: member.number, connections: this.members.length, from, to: status, reason, symbols: member.connection.symbols.length };
      if (status === 'down') this.log.error(line, 'connection status');
      else this.log.info(line, 'connection status');
    }
    this.updateStatus(reason);
  }

  private updateStatus(reason: string | null): void {
    if (this.state !== 'running') return;
    const members = this.members;
    if (members.length === 0 || members.every((m) => m.status === 'down')) {
      this.setStatus('down', reason ?? 'nothing to subscribe');
    } else if (members.some((m) => m.wasLive && m.status !== 'live')) {
      this.setStatus('reconnecting', reason);
    } else if (!members.some((m) => m.wasLive)) {
      this.setStatus('connecting', reason);
    } else {
      this.setStatus('live', null);
    }
  }

  private setStatus(status: ConnectionStatus, reason: string | null): void {
    if (this.status === status) return;
    this.status = status;
    try {
      this.listener.status(status, reason);
    } catch (err) {
      this.log.error({ err }, 'status listener threw');
    }
  }

  private sum(read: (connection: FeedConnection) => number): number {
    let total = 0;
    for (const { connection } of this.members) total += read(connection);
    return total;
  }
}
