/**
 * FLOODS: a feed may receive at most `maxFramesPerSecond` frames, over all its connections,
 * in any one-second window (counted from the window's first frame). Past that, every socket
 * of the feed stops being read (ws `pause()`) until the window ends: nothing is dropped, the
 * frames wait in the kernel's socket buffers and TCP slows the sender down, so the latest
 * state still arrives, late, while the rest of the process (other feeds, queries,
 * subscriptions) keeps its share of the event loop. Each throttled window is counted. An
 * exchange that keeps sending faster than the budget builds a backlog on its side until it
 * ends the connection itself; the loop then reconnects and starts from fresh state. Cost per
 * frame: one subtraction, one increment and two comparisons.
 */
import type { Logger } from '../logger';
import type { TimerSet } from './timer-set';

/** Length of one frame-budget window. */
export const BUDGET_WINDOW_MS = 1000;

/** A socket the budget can stop reading and read again (a ws WebSocket). */
export interface Pausable {
  pause(): void;
  resume(): void;
}

export class FrameBudget {
  private readonly maxFramesPerSecond: number;
  private readonly sockets = new Set<Pausable>();
  private windowStart = -Infinity;
  private frames = 0;
  private paused = false;
  private throttleCount = 0;
  /** Listeners told when reading resumes, with the time (the silence watchdog measures from there). */
  private readonly resumeListeners = new Set<(at: number) => void>();

  constructor(
    maxFramesPerSecond: number | undefined,
    private readonly timers: TimerSet,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    this.maxFramesPerSecond = maxFramesPerSecond || Infinity;
  }

  /** While true, the feed's sockets are not read: silence then is ours, not the exchange's. */
  get throttled(): boolean {
    return this.paused;
  }

  /** One-second windows in which the budget ran out and reading paused. */
  get throttledSeconds(): number {
    return this.throttleCount;
  }

  /** A socket opened: paused at once while the budget is spent. Returns its removal. */
  add(socket: Pausable, onResume: (at: number) => void): () => void {
    this.sockets.add(socket);
    this.resumeListeners.add(onResume);
    if (this.paused) socket.pause();
    return () => {
      this.sockets.delete(socket);
      this.resumeListeners.delete(onResume);
    };
  }

  /** Counts one received frame; past the budget, pauses every socket for the rest of the window. */
  frame(receivedAt: number): void {
    if (receivedAt - this.windowStart >= BUDGET_WINDOW_MS) {
      this.windowStart = receivedAt;
      this.frames = 0;
    }
    if (++this.frames > this.maxFramesPerSecond && !this.paused) this.throttle(receivedAt);
  }

  private throttle(now: number): void {
    this.paused = true;
    this.throttleCount++;
    const resumeInMs = Math.max(0, this.windowStart + BUDGET_WINDOW_MS - now);
    if (this.throttleCount <= 3 || this.throttleCount % 60 === 0) {
      this.log.warn(
        { maxFramesPerSecond: this.maxFramesPerSecond, throttledSeconds: this.throttleCount, resumeInMs },
        'exchange sent more frames than the per-second budget; pausing its sockets for the rest of the second',
      );
    }
    for (const socket of this.sockets) socket.pause();
    this.timers.timeout(resumeInMs, () => {
      this.paused = false;
      const resumedAt = this.now();
      this.windowStart = resumedAt;
      this.frames = 0;
      for (const listener of this.resumeListeners) listener(resumedAt);
      for (const socket of this.sockets) socket.resume();
    });
  }
}
