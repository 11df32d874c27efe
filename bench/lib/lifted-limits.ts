/**
 * The service's protections against abusive clients, lifted for the processes under test (they
 * inherit this process's environment): all the load comes from one address on loopback. The
 * per-address budgets and caps are off by default (README, Access control) and set to 0 here
 * all the same; the total cap, MAX_CONNECTIONS, is on by default and a scenario may hold more
 * subscribers; and the ingest scenario offers one feed more frames per second than
 * FEED_MAX_FRAMES_PER_S lets a flooding exchange send. A value set by the caller wins.
 */
export const LIFTED_LIMITS: Readonly<Record<string, string>> = {
  RATE_LIMIT_QUERIES: '0',
  RATE_LIMIT_SUBSCRIPTIONS: '0',
  MAX_CONNECTIONS_PER_ADDRESS: '0',
  MAX_CONNECTIONS: '0',
  FEED_MAX_FRAMES_PER_S: '0',
};

/**
 * The lifted limits as a process tree started with `serviceEnv` gets them (which drops the
 * inherited tickql variables): the caller's value where it set one, else the lifted one.
 */
export function liftedLimitsEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(LIFTED_LIMITS).map(([name, value]) => [name, process.env[name] ?? value]));
}
