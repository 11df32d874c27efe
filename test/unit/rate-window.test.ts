import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionGate, RateWindow, withMargin } from '../../src/ingest/rate-window';
import { TimerSet } from '../../src/ingest/timer-set';

describe('rate window', () => {
  it('lets `limit` events into any window and says how long the next one waits', () => {
    const window = new RateWindow({ limit: 2, windowMs: 1000 });
    expect(window.waitMs(0)).toBe(0);
    window.record(0);
    window.record(400);
    expect(window.waitMs(500)).toBe(500);
    expect(window.waitMs(1000)).toBe(0); // the event at 0 has left the window
    window.record(1000);
    expect(window.waitMs(1000)).toBe(400);
  });

  it('keeps a margin on the exchange’s window', () => {
    expect(withMargin({ limit: 3, windowMs: 1000 })).toEqual({ limit: 3, windowMs: 1100 });
    expect(withMargin({ limit: 300, windowMs: 300_000 })).toEqual({ limit: 300, windowMs: 330_000 });
  });
});

describe('connection gate', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens connections in order, never more than the limit in any window', () => {
    const timers = new TimerSet();
    const gate = new ConnectionGate({ limit: 3, windowMs: 1000 }, timers, Date.now);
    const opened: Array<{ n: number; at: number }> = [];
    const start = Date.now();
    for (let n = 0; n < 8; n++) gate.request(() => opened.push({ n, at: Date.now() - start }));
    expect(opened.map((o) => o.n)).toEqual([0, 1, 2]);
    expect(gate.waiting).toBe(5);
    vi.advanceTimersByTime(10_000);
    expect(opened.map((o) => o.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Any four in a row span more than the exchange's window, with the margin.
    for (let i = 3; i < opened.length; i++) expect(opened[i]!.at - opened[i - 3]!.at).toBeGreaterThanOrEqual(1100);
    expect(gate.opened).toBe(8);
    timers.clearAll();
  });

  it('forgets a cancelled request', () => {
    const timers = new TimerSet();
    const gate = new ConnectionGate({ limit: 1, windowMs: 1000 }, timers, Date.now);
    const opened: string[] = [];
    gate.request(() => opened.push('a'));
    const cancel = gate.request(() => opened.push('b'));
    gate.request(() => opened.push('c'));
    cancel();
    vi.advanceTimersByTime(5000);
    expect(opened).toEqual(['a', 'c']);
    timers.clearAll();
  });
});
