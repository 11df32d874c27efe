import type { ScenarioContext } from '../lib/context';
import type { ScenarioReport } from '../lib/report';
import { ceiling } from './ceiling';
import { failover } from './failover';
import { fanOut } from './fan-out';
import { freshness } from './freshness';
import { ingest } from './ingest';
import { marketsQuery } from './markets-query';
import { queryCosts } from './query-costs';
import { stuckSubscribers } from './stuck';
import { tickToSubscriber } from './tick-to-subscriber';
import { universe } from './universe';

export type Scenario = (context: ScenarioContext) => Promise<ScenarioReport>;

/** In report order. */
export const SCENARIOS = {
  markets: marketsQuery,
  'query-costs': queryCosts,
  ingest,
  tick: tickToSubscriber,
  fanout: fanOut,
  ceiling,
  stuck: stuckSubscribers,
  universe,
  freshness,
  failover,
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;
