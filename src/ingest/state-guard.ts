/**
 * Puts this process's markets back when Redis has lost them.
 *
 * Redis can come back without the state ingest wrote: a restarted in-memory Redis comes back
 * empty, one with persistence comes back with an older snapshot, FLUSHALL empties it in place,
 * and a failover can land on an empty or lagging replica. Markets that keep moving would be
 * written again by themselves, but a quiet one would stay missing (or rolled back) until its
 * next update, which may be hours away.
 *
 * Detection, every `intervalMs` and whenever the command connection becomes ready, in one
 * round trip of two O(1) commands:
 * - a marker key per process, refreshed with `SET key 1 PX ttl GET`: a null reply means it was
 *   gone. Per process, because processes sharing a Redis each restore only their own feeds:
 *   with one shared marker, the first process to notice would hide the loss from the others.
 * - the server's `run_id` (`INFO server`): another server (a restart, a failover) may hold an
 *   older state and still have the marker.
 *
 * On either, the latest state of every market this process ingests is queued again in the
 * batch writer, which writes it (and retries it) like any other update. Rewriting is safe
 * whoever else writes: the upsert script only moves event time forward, so a market another
 * process has written more recently is left alone. A false alarm (the marker expired while
 * this process could not reach Redis for longer than `ttlMs`) costs one rewrite, and one
 * publication, of unchanged states.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import { TimerSet } from './timer-set';

export interface StateGuardOptions {
  readonly redis: Redis;
  /** This process's marker key (`keys.ingestMarker(instance)`). */
  readonly markerKey: string;
  /** Queues every market this process ingests to be written again; returns how many. */
  readonly restore: () => number;
  /** Called after a restore was queued (the app rewrites feed health at once). */
  readonly onRestore?: () => void;
  readonly logger: Logger;
  /** How often the marker is checked and refreshed. Default 1000 ms. */
  readonly intervalMs?: number;
  /** How long the marker outlives the last refresh. Default 30 000 ms. */
  readonly ttlMs?: number;
}

export interface StateGuardStats {
  /** Times Redis was found to have lost this process's state, the first check excepted. */
  restores: number;
}

export class StateGuard {
  readonly stats: StateGuardStats = { restores: 0 };
  private readonly timers = new TimerSet();
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private runId: string | null = null;
  private checks = 0;
  private running: Promise<void> | null = null;
  private followUp: Promise<void> | null = null;
  private started = false;
  private readonly onReady = (): void => void this.check();

  constructor(private readonly options: StateGuardOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.redis.on('ready', this.onReady);
    this.timers.interval(this.intervalMs, () => void this.check());
    void this.check();
  }

  /** Stops checking and removes the marker (it would expire anyway). */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.options.redis.off('ready', this.onReady);
    this.timers.clearAll();
    if (this.options.redis.status === 'ready') this.options.redis.del(this.options.markerKey).catch(() => {});
  }

  /**
   * Checks once; resolves when a check that started after this call is done. A check already
   * under way may have read Redis before the caller's reason to look, so one more follows it,
   * shared by every caller that arrived meanwhile. Never rejects.
   */
  check(): Promise<void> {
    if (this.running === null) {
      this.running = this.checkOnce().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.followUp ??= this.running.then(() => {
      this.followUp = null;
      return this.started ? this.check() : undefined;
    });
    return this.followUp;
  }

  private async checkOnce(): Promise<void> {
    const { redis, markerKey } = this.options;
    if (redis.status !== 'ready') return; // the 'ready' event brings us back
    let marker: unknown;
    let info: unknown;
    try {
      const replies = (await redis.pipeline().set(markerKey, '1', 'PX', this.ttlMs, 'GET').info('server').exec()) ?? [];
      const [[markerErr, markerReply] = [], [infoErr, infoReply] = []] = replies;
      if (markerErr) throw markerErr;
      marker = markerReply;
      // Without INFO (a renamed or forbidden command) the marker alone still detects a loss.
      info = infoErr ? null : infoReply;
    } catch {
      return; // Redis away: the connection logs it, /readyz reports it, and 'ready' retries
    }
    const runId = typeof info === 'string' ? (/^run_id:(\w+)/m.exec(info)?.[1] ?? null) : null;
    const first = this.checks++ === 0;
    const reasons: string[] = [];
    if (marker === null) reasons.push('its marker key is gone');
    if (runId !== null && this.runId !== null && runId !== this.runId) reasons.push(`the server changed (run_id ${this.runId} -> ${runId})`);
    if (runId !== null) this.runId = runId;
    if (reasons.length === 0) return;
    // The first check finds no marker because this process never set one. Restoring then too
    // costs nothing (usually no market is known yet) and covers a loss before the first check.
    const queued = this.options.restore();
    if (first) {
      if (queued > 0) this.options.logger.info({ markets: queued }, `first check of Redis: writing the latest state of ${queued} markets`);
    } else {
      this.stats.restores++;
      this.options.logger.warn(
        { reasons, markets: queued },
        `Redis lost this process's state (${reasons.join('; ')}): writing the latest state of ${queued} markets again`,
      );
    }
    this.options.onRestore?.();
  }
}
