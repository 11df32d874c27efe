import type { ScenarioContext } from '../lib/context';
import type { ScenarioReport } from '../lib/report';

/** Placeholder until this scenario is written; it reports that it has not run. */
export async function fanOut(_context: ScenarioContext): Promise<ScenarioReport> {
  throw new Error('scenario fan-out is not written yet');
}
