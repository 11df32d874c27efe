/**
 * Entry point: reads the configuration and runs the supervisor (src/processes/supervisor.ts), or, in a
 * process the supervisor started, that worker (src/processes/worker.ts). A problem the user must fix
 * (bad configuration, no Redis) is one line on stderr and exit code 1.
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { NoRedisError } from './redis/connect';
import { runSupervisor } from './processes/supervisor';
import { runWorker } from './processes/worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (cluster.isPrimary) await runSupervisor(config, logger);
  else await runWorker(config, logger);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof NoRedisError) {
    process.stderr.write(`tickql: ${err.message}\n`);
  } else {
    process.stderr.write(`tickql: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
