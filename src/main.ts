/**
 * Entry point: reads the configuration, starts the app, stops it on SIGINT/SIGTERM. A problem
 * the user must fix (bad configuration, no Redis) is one line on stderr and exit code 1.
 */
import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { NoRedisError, resolveRedis } from './redis/connect';

/** Longest graceful shutdown before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const redis = await resolveRedis(config, logger);
  const app = await buildApp(config, logger, redis);
  await app.start();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // A shutdown that hangs (a peer that never closes) must not keep the process alive.
    setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof NoRedisError) {
    process.stderr.write(`tickql: ${err.message}\n`);
  } else {
    process.stderr.write(`tickql: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
