/**
 * Bench child (started with `startIpcChild`): autocannon (bench/lib/load.ts) in a process of
 * its own, so that the load generator's event loop and CPU are not the scenario's: a scenario
 * timing messages in its own process (a Redis monitor) while the load runs would otherwise
 * time the load generator's stalls too.
 *
 * Request: `run LoadOptions` -> `LoadResult` once the load is over. Exits when the parent
 * disconnects.
 */
import { serveRequests } from '../lib/ipc-child';
import { runLoad, type LoadOptions } from '../lib/load';

serveRequests({
  run: (options: LoadOptions) => runLoad(options),
});
