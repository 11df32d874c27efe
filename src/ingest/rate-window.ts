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

/**
 * Events we send spaced out can still arrive bunched (a congested network, a busy peer reading
 * several at once), so a per-IP limit is kept at 80 % of its count as well.
 */
export const COUNT_MARGIN = 0.8;

/** A per-IP limit as we keep it: the window lengthened by WINDOW_MARGIN, the count cut to COUNT_MARGIN (at least 1). */
export function withMargin(limit: RateLimit): RateLimit {
  return { limit: Math.max(1, Math.floor(limit.limit * COUNT_MARGIN)), windowMs: Math.ceil(limit.windowMs * WINDOW_MARGIN) };
}

export class RateWindow {
  /** Times of the events inside the current window, oldest first. */
  private readonly at: number[] = [];
  /** With `spaced`: events at least `windowMs / limit` apart, not in bursts that fill the window at once. */
  private readonly gapMs: number;
  private last = -Infinity;

  /**
   * `spaced` for our messages: a burst that fills the window at once can reach a busy
   * exchange late and be counted in one window with the next burst, while spaced events would
   * each have to be delayed by a large part of a window for that.
   */
  constructor(
    readonly limit: RateLimit,
    spaced = false,
  ) {
    this.gapMs = spaced ? limit.windowMs / limit.limit : 0;
  }

  /** Milliseconds until one more event fits, besides `reserved` events not recorded yet; 0 when it fits now. */
  waitMs(now: number, reserved = 0): number {
    const gap = this.last + this.gapMs - now;
    const inWindow = this.windowWaitMs(now, reserved);
    return gap > 0 ? Math.max(Math.ceil(gap), inWindow) : inWindow;
  }

  private windowWaitMs(now: number, reserved: number): number {
    this.forget(now);
    const over = this.at.length + reserved - this.limit.limit;
    if (over < 0) return 0;
    // The oldest events leave first: room comes when `over + 1` of them have left.
    const leaving = this.at[over];
    return leaving === undefined ? Infinity : Math.max(1, leaving + this.limit.windowMs - now);
  }

  record(now: number): void {
    this.at.push(now);
    this.last = Math.max(this.last, now);
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
 *
 * An attempt is counted when it ends (the upgrade answered, refused or failed), not when it
 * starts: the exchange counts it when the request arrives, which is somewhere in between, and
 * a busy network or event loop can bunch up arrivals of attempts started a window apart.
 * Until it ends an attempt holds a place in the window, so at most `limit` are ever under way.
 */
export class ConnectionGate {
  private readonly window: RateWindow;
  private readonly queue: Array<(done: () => void) => void> = [];
  private timer: TimerHandle | null = null;
  private underWay = 0;
  private granted = 0;

  constructor(
    limit: RateLimit,
    private readonly timers: TimerSet,
    private readonly now: () => number,
  ) {
    this.window = new RateWindow(withMargin(limit));
  }

  /**
   * Calls `open` once the window has room (at once when it has); `open` must call `done` when
   * the attempt has ended, whatever its outcome (a second call is ignored). Returns a cancel
   * function for an attempt still waiting.
   */
  request(open: (done: () => void) => void): () => void {
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
      if (this.underWay >= this.window.limit.limit) return; // an ending attempt drains again
      const wait = this.window.waitMs(this.now(), this.underWay);
      if (wait > 0) {
        this.timer = this.timers.timeout(wait, () => {
          this.timer = null;
          this.drain();
        });
        return;
      }
      this.underWay++;
      this.granted++;
      let ended = false;
      this.queue.shift()!(() => {
        if (ended) return;
        ended = true;
        this.underWay--;
        this.window.record(this.now());
        this.drain();
      });
    }
  }
}
