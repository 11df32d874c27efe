/**
 * Messages per second over a sliding window, in fixed memory: counts land in small time
 * buckets that are reused as time moves on. Cheap enough to mark on every frame.
 */

export class RateMeter {
  private readonly counts: Float64Array;
  private readonly stamps: Float64Array;
  private firstMarkAt: number | null = null;

  constructor(
    private readonly windowMs = 10_000,
    private readonly bucketMs = 100,
  ) {
    const buckets = Math.max(1, Math.ceil(windowMs / bucketMs));
    this.counts = new Float64Array(buckets);
    this.stamps = new Float64Array(buckets).fill(-1);
  }

  mark(now: number, count = 1): void {
    this.firstMarkAt ??= now;
    const index = Math.floor(now / this.bucketMs);
    const slot = index % this.counts.length;
    if (this.stamps[slot] !== index) {
      this.stamps[slot] = index;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += count;
  }

  /**
   * Average rate over the window. Until a full window has passed since the first mark, the
   * average is over the time elapsed (at least one second), so a young feed is not under-reported.
   */
  rate(now: number): number {
    if (this.firstMarkAt === null) return 0;
    const index = Math.floor(now / this.bucketMs);
    const oldest = index - this.counts.length + 1;
    let total = 0;
    for (let slot = 0; slot < this.counts.length; slot++) {
      const stamp = this.stamps[slot]!;
      if (stamp >= oldest && stamp <= index) total += this.counts[slot]!;
    }
    const spanMs = Math.max(1000, Math.min(this.windowMs, now - this.firstMarkAt));
    return total / (spanMs / 1000);
  }
}
