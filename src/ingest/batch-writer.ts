/**
 * Coalesces market updates and writes them to Redis in batches: several updates of one
 * market inside a batch window become one write, and at most one write is in flight, so a
 * burst turns into bigger batches rather than more round trips.
 *
 * Memory is bounded by the number of distinct markets: pending holds one state per market.
 * When a write fails (Redis away), its markets go back into pending unless a newer state
 * arrived meanwhile, and the write is retried; nothing is lost, and what is finally written
 * is the latest state of each market.
 */
import type { Logger } from '../logger';
import type { Market } from './market';

export interface BatchWriterStats {
  /** Updates pushed. */
  received: number;
  /** Updates replaced by a newer one of the same market before being written. */
  coalesced: number;
  /** Markets written. */
  written: number;
  /** Markets Redis already held a newer state for. */
  skipped: number;
  /** Batches that failed and were retried. */
  failedBatches: number;
  /** Batches written. */
  batches: number;
}

export interface BatchWriterOptions {
  /** Longest time an update waits for others to join its batch. */
  readonly batchMs: number;
  /** Write immediately when this many markets are pending. */
  readonly maxBatch?: number;
  /** Wait before retrying a failed write. */
  readonly retryMs?: number;
  readonly logger: Logger;
}

export type WriteMarkets = (markets: Market[]) => Promise<{ applied: number; skipped: number }>;

export class BatchWriter {
  private pending = new Map<string, Market>();
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** The delay `timer` was armed with. */
  private timerDelayMs = 0;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  readonly stats: BatchWriterStats = { received: 0, coalesced: 0, written: 0, skipped: 0, failedBatches: 0, batches: 0 };

  constructor(
    private readonly write: WriteMarkets,
    private readonly options: BatchWriterOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  push(market: Market): void {
    this.stats.received++;
    if (this.pending.has(market.id)) this.stats.coalesced++;
    this.pending.set(market.id, market);
    if (this.pending.size >= (this.options.maxBatch ?? 2000)) this.schedule(0);
    else this.schedule(this.options.batchMs);
  }

  /** Writes everything pending now; resolves when Redis has it (or the write failed). */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.inFlight) await this.inFlight;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.inFlight = this.writeBatch(batch);
    await this.inFlight;
  }

  /** Stops scheduling and makes one last attempt to write what is pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.inFlight) return; // the in-flight write reschedules when done
    // A write already due no later stays as it is: with a 0 window every push of a burst lands
    // here, and re-arming a timer per update would cost more than the update's own handling.
    if (this.timer && this.timerDelayMs <= delayMs) return;
    this.cancelTimer();
    this.timerDelayMs = delayMs;
    // 0: once the frames already read in this turn of the event loop are handled (setImmediate
    // runs after I/O callbacks), not a timer's 1 ms later.
    this.timer = delayMs === 0 ? setImmediate(this.flushNow) : setTimeout(this.flushNow, delayMs);
  }

  private readonly flushNow = (): void => void this.flush();

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    if (this.timerDelayMs === 0) clearImmediate(this.timer as NodeJS.Immediate);
    else clearTimeout(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }

  private async writeBatch(batch: Market[]): Promise<void> {
    let retryMs = 0;
    try {
      const { applied, skipped } = await this.write(batch);
      this.stats.batches++;
      this.stats.written += applied;
      this.stats.skipped += skipped;
    } catch (err) {
      this.stats.failedBatches++;
      this.options.logger.warn({ err, markets: batch.length }, 'market write failed; keeping the latest state to retry');
      for (const market of batch) {
        if (!this.pending.has(market.id)) this.pending.set(market.id, market);
      }
      retryMs = this.options.retryMs ?? 1000;
    } finally {
      this.inFlight = null;
    }
    if (this.pending.size > 0) this.schedule(retryMs || this.options.batchMs);
  }
}
