import type { ScenarioContext } from '../lib/context';
import type { ScenarioReport } from '../lib/report';

/** Placeholder until this scenario is written; it reports that it has not run. */
export async function ingest(_context: ScenarioContext): Promise<ScenarioReport> {
  throw new Error('scenario ingest is not written yet');
}
