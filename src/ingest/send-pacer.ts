/**
 * Sends text frames no faster than an exchange allows. Exchanges count our messages in a time
 * window and disconnect (or ban) clients that exceed it, so frames queue here and leave when
 * the window has room. Frames sent outside the queue (ws answers pings with pongs by itself)
 * are recorded with `recordExternal` so they count too.
 */
import type { TimerHandle, TimerSet } from './timer-set';

export interface SendPacerOptions {
  /** Frames allowed in any window. */
  readonly limit: number;
  readonly windowMs: number;
  readonly send: (text: string) => void;
  /** The owner's timers, so stopping the owner also stops the pacer. */
  readonly timers: TimerSet;
  readonly now: () => number;
}

export class SendPacer {
  private readonly queue: Array<{ readonly text: string; readonly onSent: (() => void) | undefined }> = [];
  /** Send times inside the current window, oldest first. */
  private readonly sentAt: number[] = [];
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly options: SendPacerOptions) {}

  /** Queues a frame; `onSent` runs right after it has been handed to the socket. */
  enqueue(text: string, onSent?: () => void): void {
    if (this.stopped) return;
    this.queue.push({ text, onSent });
    this.flush();
  }

  /** Counts a frame that was sent without the queue. */
  recordExternal(): void {
    this.sentAt.push(this.options.now());
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
    const { limit, windowMs, timers, now } = this.options;
    while (this.queue.length > 0 && !this.stopped) {
      const at = now();
      while (this.sentAt.length > 0 && this.sentAt[0]! <= at - windowMs) this.sentAt.shift();
      if (this.sentAt.length >= limit) {
        const wait = this.sentAt[0]! + windowMs - at;
        this.timer = timers.timeout(Math.max(1, wait), () => {
          this.timer = null;
          this.flush();
        });
        return;
      }
      const item = this.queue.shift()!;
      this.sentAt.push(at);
      this.options.send(item.text);
      item.onSent?.();
    }
  }
}
