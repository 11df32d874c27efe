import type { ScenarioContext } from '../lib/context';
import type { ScenarioReport } from '../lib/report';

/** Placeholder until this scenario is written; it reports that it has not run. */
export async function tickToSubscriber(_context: ScenarioContext): Promise<ScenarioReport> {
  throw new Error('scenario tick-to-subscriber is not written yet');
}
