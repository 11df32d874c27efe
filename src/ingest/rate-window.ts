/**
 * A sliding-window rate limit kept on our side of an exchange's limit: at most `limit` events
 * in any `windowMs`. Exchanges count our connections and messages in such windows and close,
 * refuse or ban past them; `SendPacer` (messages) and `ConnectionGate` (new connections) hold
 * work back until a window has room.
 */
import type { RateLimit } from './adapter';
import type { TimerHandle, TimerSet } from './timer-set';

/**
 * Exchanges measure their windows on their side, where arrival times jitter: a window 10 %
 * longer than theirs keeps two events sent exactly one window apart from landing in one of
 * their windows.
 */
export const WINDOW_MARGIN = 1.1;

/** The exchange's documented limit as we keep it: the window lengthened by WINDOW_MARGIN. */
export function withMargin(limit: RateLimit): RateLimit {
  return { limit: Math.max(1, Math.floor(limit.limit)), windowMs: Math.ceil(limit.windowMs * WINDOW_MARGIN) };
}

export class RateWindow {
  /** Times of the events inside the current window, oldest first. */
  private readonly at: number[] = [];

  constructor(readonly limit: RateLimit) {}

  /** Milliseconds until one more event fits; 0 when it fits now. */
  waitMs(now: number): number {
    this.forget(now);
    if (this.at.length < this.limit.limit) return 0;
    return Math.max(1, this.at[0]! + this.limit.windowMs - now);
  }

  record(now: number): void {
    this.at.push(now);
  }

  private forget(now: number): void {
    let drop = 0;
    while (drop < this.at.length && this.at[drop]! <= now - this.limit.windowMs) drop++;
    if (drop > 0) this.at.splice(0, drop);
  }
}

/**
 * New connections of one feed, in order of asking, no faster than the exchange accepts from
 * one IP address (`ExchangeAdapter.connectionRate`). Every connect waits here: the first ones
 * at start-up, reconnects and rotations alike, so a feed of many connections, or all of them
 * reconnecting at once after a network failure, never trips the exchange's limit.
 */
export class ConnectionGate {
  private readonly window: RateWindow;
  private readonly queue: Array<() => void> = [];
  private timer: TimerHandle | null = null;
  private granted = 0;

  constructor(
    limit: RateLimit,
    private readonly timers: TimerSet,
    private readonly now: () => number,
  ) {
    this.window = new RateWindow(withMargin(limit));
  }

  /** Calls `open` once the window has room (at once when it has). Returns a cancel function. */
  request(open: () => void): () => void {
    this.queue.push(open);
    this.drain();
    return () => {
      const index = this.queue.indexOf(open);
      if (index >= 0) this.queue.splice(index, 1);
    };
  }

  /** Connects let through so far. */
  get opened(): number {
    return this.granted;
  }

  /** Connects waiting for room. */
  get waiting(): number {
    return this.queue.length;
  }

  private drain(): void {
    if (this.timer !== null) return;
    while (this.queue.length > 0) {
      const at = this.now();
      const wait = this.window.waitMs(at);
      if (wait > 0) {
        this.timer = this.timers.timeout(wait, () => {
          this.timer = null;
          this.drain();
        });
        return;
      }
      this.window.record(at);
      this.granted++;
      this.queue.shift()!();
    }
  }
}
