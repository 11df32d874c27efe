/**
 * Arrival times inside a sliding window, for the local exchanges' "at most N per second" (or
 * per hour) rules. Exact rather than bucketed like `../rate-meter.ts`, because a limit must
 * trip on precisely the frame that breaks it, as the real exchange's would.
 */
export class ArrivalWindow {
  /** Oldest first. */
  private readonly times: number[] = [];

  constructor(private readonly windowMs: number) {}

  /** Arrivals within the window that ends at `now`. */
  count(now = Date.now()): number {
    while (this.times.length > 0 && this.times[0]! <= now - this.windowMs) this.times.shift();
    return this.times.length;
  }

  /** Milliseconds from `now` until the oldest arrival within the window leaves it; 0 when there is none. */
  expiresIn(now = Date.now()): number {
    this.count(now);
    const oldest = this.times[0];
    return oldest === undefined ? 0 : oldest + this.windowMs - now;
  }

  /** Records an arrival at `now`; returns the arrivals within the window, this one included. */
  record(now = Date.now()): number {
    const earlier = this.count(now);
    this.times.push(now);
    return earlier + 1;
  }
}
