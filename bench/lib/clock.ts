/**
 * Wall-clock time with sub-millisecond resolution, for latencies measured across processes:
 * one process stamps an event, another subtracts the stamp from its own reading.
 *
 * `Date.now()` has whole milliseconds, too coarse for a p50 of a few. `performance.timeOrigin`
 * is the wall-clock time at which the process started, to a few microseconds, and
 * `performance.now()` counts from it on the monotonic clock, so their sum is the same clock in
 * every process on one machine (at the moment `Date.now()` ticks, the sum's fraction read
 * between 0.003 and 0.007 ms in processes started separately on the bench machine).
 */
import { performance } from 'node:perf_hooks';

/** Epoch milliseconds with a fraction (microsecond resolution). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
