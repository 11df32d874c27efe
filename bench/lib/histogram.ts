/**
 * Latency recording with HDR histograms at microsecond resolution (autocannon's own histogram
 * keeps whole milliseconds, too coarse for sub-millisecond queries).
 */
import hdr from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export class LatencyHistogram {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

  /** Records one latency given in milliseconds. */
  record(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** Forgets every value recorded so far (a new measuring window). */
  reset(): void {
    this.histogram.reset();
  }

  /** The recorded values as compressed base64, to send from a child process. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  /** Adds the values of an `encode()`d histogram, e.g. one per load-generating child. */
  addEncoded(encoded: string): void {
    this.histogram.add(hdr.decodeFromCompressedBase64(encoded));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => us / 1000;
    return {
      count: h.totalCount,
      p50: ms(h.getValueAtPercentile(50)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
    };
  }
}
