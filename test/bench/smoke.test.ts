/**
 * The benchmark at tiny scale, so it cannot rot: every scenario runs end to end (children,
 * load generator, baselines) and reports numbers. Figures here mean nothing; `npm run bench`
 * measures. A scenario's failures (requests tickql's defaults refused, answers that were wrong:
 * `ScenarioReport.failures`) are findings about the service, not about the bench: they are
 * printed here, and `npm run bench` exits non-zero on them, but they do not fail this test.
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../../bench/run';
import { SCENARIOS } from '../../bench/scenarios';

describe('npm run bench, smoke scale', () => {
  it.each(Object.keys(SCENARIOS))('scenario %s runs and reports measured rows', async (name) => {
    const [report] = await runBench({ ...process.env, BENCH_SMOKE: '1', BENCH_SCENARIOS: name });
    for (const failure of report!.failures ?? []) process.stderr.write(`[bench smoke] ${name} failed: ${failure}\n`);
    expect(report!.tables.length).toBeGreaterThan(0);
    for (const table of report!.tables) {
      expect(table.rows.length).toBeGreaterThan(0);
      for (const row of table.rows) expect(row).toHaveLength(table.columns.length);
    }
  }, 180_000);
});
