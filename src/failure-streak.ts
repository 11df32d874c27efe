/**
 * A failure that repeats for as long as what it needs is away (Redis, mostly). Retried every
 * second, or with every batch, it would log the same warning, stack trace and all, hundreds of
 * times an outage. Instead the first failure of a streak is logged, one line with the error's
 * message; the next ones are only counted; and the first success after them logs one line
 * saying how many there were. Totals over every streak are the owner's to keep, in its stats.
 */
import type { Logger } from './logger';

export class FailureStreak {
  /** Failures since the last success. */
  private current = 0;

  /**
   * `what` names the work and `meanwhile` says what happens while it fails: ('market writes',
   * 'keeping the latest state of each market to retry') logs "market writes failing (<error>):
   * keeping the latest state of each market to retry" at the first failure, and "market writes
   * resumed after 12 failures" at the first success after it. `fields` go in both lines.
   */
  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly meanwhile: string,
    private readonly fields: Readonly<Record<string, unknown>> = {},
  ) {}

  /** True between a failure and the next success. */
  get failing(): boolean {
    return this.current > 0;
  }

  /** Counts a failure; logs it when it starts a streak. */
  failed(err: unknown): void {
    if (this.current++ > 0) return;
    const error = errorMessage(err);
    this.logger.warn({ ...this.fields, error }, `${this.what} failing (${error}): ${this.meanwhile}; further failures are counted, not logged`);
  }

  /** Ends a streak, if one is under way, with a line saying how long it was. */
  succeeded(): void {
    if (this.current === 0) return;
    const failures = this.current;
    this.current = 0;
    this.logger.info({ ...this.fields, failures }, `${this.what} resumed after ${failures} failure${failures === 1 ? '' : 's'}`);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
