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

  it('keeps a margin on the exchange’s window and count', () => {
    expect(withMargin({ limit: 8, windowMs: 1000 })).toEqual({ limit: 6, windowMs: 1100 });
    expect(withMargin({ limit: 3, windowMs: 1000 })).toEqual({ limit: 2, windowMs: 1100 });
    expect(withMargin({ limit: 300, windowMs: 300_000 })).toEqual({ limit: 240, windowMs: 330_000 });
    expect(withMargin({ limit: 1, windowMs: 1000 })).toEqual({ limit: 1, windowMs: 1100 });
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
    // Kept as 4 per 1.1 s (withMargin).
    const gate = new ConnectionGate({ limit: 5, windowMs: 1000 }, timers, Date.now);
    const opened: Array<{ n: number; at: number }> = [];
    const start = Date.now();
    for (let n = 0; n < 8; n++) {
      gate.request((done) => {
        opened.push({ n, at: Date.now() - start });
        done();
      });
    }
    expect(opened.map((o) => o.n)).toEqual([0, 1, 2, 3]);
    expect(gate.waiting).toBe(4);
    vi.advanceTimersByTime(10_000);
    expect(opened.map((o) => o.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Any five in a row span more than the exchange's window, with the margin.
    for (let i = 4; i < opened.length; i++) expect(opened[i]!.at - opened[i - 4]!.at).toBeGreaterThanOrEqual(1100);
    expect(gate.opened).toBe(8);
    timers.clearAll();
  });

  it('counts an attempt when it ends, and lets no more than the limit be under way', () => {
    const timers = new TimerSet();
    // Kept as 2 per 1.1 s.
    const gate = new ConnectionGate({ limit: 3, windowMs: 1000 }, timers, Date.now);
    const ends: Array<() => void> = [];
    const opened: number[] = [];
    for (let n = 0; n < 4; n++) {
      gate.request((done) => {
        opened.push(n);
        ends.push(done);
      });
    }
    expect(opened).toEqual([0, 1]);
    vi.advanceTimersByTime(5000); // both still under way: nothing more may start
    expect(opened).toEqual([0, 1]);
    ends[0]!(); // ended at 5 s: counted from then
    ends[0]!(); // a second call changes nothing
    vi.advanceTimersByTime(1099);
    expect(opened).toEqual([0, 1]);
    ends[1]!();
    vi.advanceTimersByTime(1);
    expect(opened).toEqual([0, 1, 2]);
    timers.clearAll();
  });

  it('forgets a cancelled request', () => {
    const timers = new TimerSet();
    const gate = new ConnectionGate({ limit: 1, windowMs: 1000 }, timers, Date.now);
    const opened: string[] = [];
    const open = (name: string) => (done: () => void) => {
      opened.push(name);
      done();
    };
    gate.request(open('a'));
    const cancel = gate.request(open('b'));
    gate.request(open('c'));
    cancel();
    vi.advanceTimersByTime(5000);
    expect(opened).toEqual(['a', 'c']);
    timers.clearAll();
  });
});
