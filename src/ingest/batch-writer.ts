/**
 * Coalesces market updates and writes them to Redis in batches: several updates of one
 * market inside a batch window become one write, and at most one write is in flight, so a
 * burst turns into bigger batches rather than more round trips.
 *
 * Memory is bounded by the number of distinct markets: pending holds one state per market.
 * When a write fails (Redis away), its markets go back into pending unless a newer state
 * arrived meanwhile, and the write is retried every `retryMs` (updates arriving meanwhile do
 * not hasten it); nothing is lost, and what is finally written is the latest state of each
 * market. The first failure of an outage is logged, the others counted (`failedBatches`), and
 * the first write that succeeds again says how many failed.
 *
 * Fencing (src/feed-leases.ts): only markets of feeds this process holds the lease of may be
 * written. `keep` says which; a market it refuses is dropped, pending or back from a write. A
 * market the write reports `fenced` (Redis holds another lease for its feed) waits like a
 * failed one, in case the lease is renewed under a new token (Redis lost it); once the feed
 * is lost, `keep` drops it.
 */
import { FailureStreak } from '../failure-streak';
import type { Logger } from '../logger';
import type { Market } from '../market';

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
  /** Market states queued again by `restore` because Redis had lost them. */
  restored: number;
  /** Markets a write reported fenced: their feed's lease in Redis was not this process's. */
  fenced: number;
  /** Markets dropped unwritten because `keep` refused them or `discard` took them. */
  dropped: number;
}

export interface BatchWriterOptions {
  /** Longest time an update waits for others to join its batch. */
  readonly batchMs: number;
  /** Write immediately when this many markets are pending. */
  readonly maxBatch?: number;
  /**
   * Most markets in one write; more pending are written by the next one, at once. Keeps one
   * write's pipeline well inside the command time-out when everything is pending at once
   * (Redis came back after a long outage, or lost the state: 50,000 new markets took Redis
   * 2 to 4 s on a busy 2-core machine), so a big backlog cannot time out and retry forever.
   * Default 8192.
   */
  readonly maxWrite?: number;
  /** Wait before retrying a failed write. */
  readonly retryMs?: number;
  /** Whether a market may still be written (its feed's lease is held); refused ones are dropped. Default: all. */
  readonly keep?: (market: Market) => boolean;
  readonly logger: Logger;
}

export type WriteMarkets = (markets: Market[]) => Promise<{ applied: number; skipped: number; fenced?: readonly Market[] }>;

export class BatchWriter {
  private pending = new Map<string, Market>();
  /** Ids dropped by `forget`, until pushed again. */
  private readonly forgotten = new Set<string>();
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** The delay `timer` was armed with. */
  private timerDelayMs = 0;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  readonly stats: BatchWriterStats = { received: 0, coalesced: 0, written: 0, skipped: 0, failedBatches: 0, batches: 0, restored: 0, fenced: 0, dropped: 0 };
  private readonly failures: FailureStreak;

  constructor(
    private readonly write: WriteMarkets,
    private readonly options: BatchWriterOptions,
  ) {
    this.failures = new FailureStreak(options.logger, 'market writes', 'keeping the latest state of each market to retry');
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  push(market: Market): void {
    this.stats.received++;
    if (this.forgotten.size > 0) this.forgotten.delete(market.id); // listed again
    if (this.pending.has(market.id)) this.stats.coalesced++;
    this.pending.set(market.id, market);
    // While writes fail, updates wait for the retry instead of bringing it forward.
    if (this.failures.failing) this.schedule(this.retryMs);
    else if (this.pending.size >= (this.options.maxBatch ?? 2000)) this.schedule(0);
    else this.schedule(this.options.batchMs);
  }

  private get retryMs(): number {
    return this.options.retryMs ?? 1000;
  }

  /**
   * Queues these states to be written again (Redis lost them: see ingest/state-guard.ts).
   * A market already pending keeps its pending state, which is never older. Not counted as
   * updates received.
   */
  restore(markets: Iterable<Market>): number {
    let queued = 0;
    for (const market of markets) {
      if (this.pending.has(market.id)) continue;
      this.pending.set(market.id, market);
      queued++;
    }
    this.stats.restored += queued;
    if (queued > 0) this.schedule(0);
    return queued;
  }

  /**
   * Drops these markets (delisted): their pending states are not written, and a write of them
   * already under way that fails is not retried. A later `push` of one takes it back. The
   * caller removes them from Redis after `flush()`, which waits for that write to end.
   */
  forget(ids: Iterable<string>): void {
    for (const id of ids) {
      this.pending.delete(id);
      this.forgotten.add(id);
    }
  }

  /**
   * Drops the pending markets `which` selects (a feed this process no longer ingests); a
   * write of them under way is not retried if `keep` refuses them by then. Returns how many.
   */
  discard(which: (market: Market) => boolean): number {
    let dropped = 0;
    for (const [id, market] of this.pending) {
      if (!which(market)) continue;
      this.pending.delete(id);
      dropped++;
    }
    this.stats.dropped += dropped;
    return dropped;
  }

  /** Writes everything pending now; resolves when Redis has it (or the write failed). */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.inFlight) await this.inFlight;
    if (this.pending.size === 0) return;
    // writePending may finish without awaiting anything (every market dropped), so the write
    // is marked in flight here, around it, rather than inside it.
    const write = this.writePending();
    this.inFlight = write.then(() => undefined);
    let ok = true;
    try {
      ok = await write;
    } finally {
      this.inFlight = null;
    }
    if (this.pending.size > 0) this.schedule(ok ? this.options.batchMs : this.retryMs);
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

  /**
   * The one write in flight: everything pending, in writes of at most `maxWrite` markets one
   * after another (stopping at a failure, whose markets are pending again). Resolves to
   * whether the last write succeeded (`flush` then reschedules).
   */
  private async writePending(): Promise<boolean> {
    const maxWrite = this.options.maxWrite ?? 8192;
    let ok = true;
    while (ok && this.pending.size > 0) {
      let batch: Market[];
      if (this.pending.size <= maxWrite) {
        batch = [...this.pending.values()];
        this.pending = new Map();
      } else {
        batch = [];
        for (const [id, market] of this.pending) {
          if (batch.length === maxWrite) break;
          batch.push(market);
          this.pending.delete(id);
        }
      }
      const keep = this.options.keep;
      if (keep !== undefined) {
        const kept = batch.filter(keep);
        this.stats.dropped += batch.length - kept.length;
        batch = kept;
        if (batch.length === 0) continue;
      }
      ok = await this.writeBatch(batch);
      if (batch.length < maxWrite) break; // not a backlog: newer updates wait for their window
    }
    return ok;
  }

  /**
   * Writes one batch; on failure its markets go back to pending unless newer ones arrived, and
   * so do fenced ones. Resolves to whether it succeeded without fenced markets.
   */
  private async writeBatch(batch: Market[]): Promise<boolean> {
    try {
      const { applied, skipped, fenced = [] } = await this.write(batch);
      this.stats.batches++;
      this.stats.written += applied;
      this.stats.skipped += skipped;
      this.stats.fenced += fenced.length;
      this.failures.succeeded();
      this.putBack(fenced);
      return fenced.length === 0;
    } catch (err) {
      this.stats.failedBatches++;
      this.failures.failed(err);
      this.putBack(batch);
      return false;
    }
  }

  /** Markets of a write that did not land go back to pending, unless newer, forgotten or no longer kept. */
  private putBack(markets: readonly Market[]): void {
    const keep = this.options.keep;
    for (const market of markets) {
      if (this.pending.has(market.id) || this.forgotten.has(market.id)) continue;
      if (keep !== undefined && !keep(market)) {
        this.stats.dropped++;
        continue;
      }
      this.pending.set(market.id, market);
    }
  }
}
