/**
 * Sends text frames no faster than an exchange allows. Exchanges count our messages in a time
 * window and disconnect (or ban) clients that exceed it, so frames queue here and leave when
 * the window has room: the connection's own window and, where the exchange also counts per IP
 * address (Coinbase), a window shared by every connection of the feed. Both are spaced
 * (`RateWindow`): frames leave evenly, not in bursts. Frames sent
 * outside the queue (ws answers pings with pongs by itself) are recorded with
 * `recordExternal` so they count too.
 */
import { RateWindow } from './rate-window';
import type { TimerHandle, TimerSet } from './timer-set';

export interface SendPacerOptions {
  /** Frames allowed in any window. */
  readonly limit: number;
  readonly windowMs: number;
  /** A window shared with other pacers (per-IP limits); a frame needs room in both. */
  readonly shared?: RateWindow;
  readonly send: (text: string) => void;
  /** The owner's timers, so stopping the owner also stops the pacer. */
  readonly timers: TimerSet;
  readonly now: () => number;
}

export class SendPacer {
  private readonly queue: Array<{ readonly text: string; readonly onSent: (() => void) | undefined }> = [];
  private readonly window: RateWindow;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly options: SendPacerOptions) {
    this.window = new RateWindow({ limit: options.limit, windowMs: options.windowMs }, true);
  }

  /** Queues a frame; `onSent` runs right after it has been handed to the socket. */
  enqueue(text: string, onSent?: () => void): void {
    if (this.stopped) return;
    this.queue.push({ text, onSent });
    this.flush();
  }

  /** Counts a frame that was sent without the queue. */
  recordExternal(): void {
    const at = this.options.now();
    this.window.record(at);
    this.options.shared?.record(at);
  }

  get queued(): number {
    return this.queue.length;
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.options.timers.clear(this.timer);
    this.timer = null;
  }

  private flush(): void {
    if (this.timer !== null || this.stopped) return;
    const { shared, timers, now } = this.options;
    while (this.queue.length > 0 && !this.stopped) {
      const at = now();
      const wait = Math.max(this.window.waitMs(at), shared?.waitMs(at) ?? 0);
      if (wait > 0) {
        this.timer = timers.timeout(wait, () => {
          this.timer = null;
          this.flush();
        });
        return;
      }
      const item = this.queue.shift()!;
      this.window.record(at);
      shared?.record(at);
      this.options.send(item.text);
      item.onSent?.();
    }
  }
}
