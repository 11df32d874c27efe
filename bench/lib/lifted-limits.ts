/**
 * The service's protections against abusive clients, lifted for the processes under test (they
 * inherit this process's environment): all the load comes from one address on loopback, which
 * the per-address budgets and connection caps exist to refuse, and the ingest scenario offers
 * one feed more frames per second than FEED_MAX_FRAMES_PER_S lets a flooding exchange send.
 * The README's access-control section says a load test must lift them. A value set by the
 * caller wins.
 */
export const LIFTED_LIMITS: Readonly<Record<string, string>> = {
  RATE_LIMIT_QUERIES: '0',
  RATE_LIMIT_SUBSCRIPTIONS: '0',
  MAX_CONNECTIONS_PER_ADDRESS: '0',
  MAX_CONNECTIONS: '0',
  FEED_MAX_FRAMES_PER_S: '0',
};
