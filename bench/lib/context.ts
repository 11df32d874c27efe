/** What every scenario receives from bench/run.ts. */
export interface ScenarioContext {
  /** A private redis-server for the whole run. Scenarios may FLUSHALL it. */
  readonly redisUrl: string;
  /** PostgreSQL for baselines, or null when none answers (the baseline is then skipped). */
  readonly postgresUrl: string | null;
  /** Tiny sizes and durations: the smoke run in `npm test`, which checks only that it runs. */
  readonly smoke: boolean;
  /** Seconds per measured run. */
  readonly durationS: number;
  /** Progress lines on stderr. */
  log(message: string): void;
}
