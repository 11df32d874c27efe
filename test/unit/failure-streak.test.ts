import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FailureStreak } from '../../src/failure-streak';

function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

describe('FailureStreak', () => {
  it('logs the first failure of a streak with its message, counts the rest, and logs the first success after it', () => {
    const { lines, logger } = recordingLogger();
    const streak = new FailureStreak(logger, 'market writes', 'keeping the latest state to retry', { connection: 'commands' });
    streak.succeeded(); // nothing to end
    for (let i = 0; i < 100; i++) streak.failed(new Error('connect ECONNREFUSED'));
    expect(streak.failing).toBe(true);
    streak.succeeded();
    streak.succeeded();
    expect(streak.failing).toBe(false);
    streak.failed('timeout');
    expect(lines.map(({ level, msg, error, failures, connection, err }) => ({ level, msg, error, failures, connection, err }))).toEqual([
      {
        level: 40,
        msg: 'market writes failing (connect ECONNREFUSED): keeping the latest state to retry; further failures are counted, not logged',
        error: 'connect ECONNREFUSED',
        failures: undefined,
        connection: 'commands',
        err: undefined, // no stack trace
      },
      { level: 30, msg: 'market writes resumed after 100 failures', error: undefined, failures: 100, connection: 'commands', err: undefined },
      {
        level: 40,
        msg: 'market writes failing (timeout): keeping the latest state to retry; further failures are counted, not logged',
        error: 'timeout',
        failures: undefined,
        connection: 'commands',
        err: undefined,
      },
    ]);
  });
});
