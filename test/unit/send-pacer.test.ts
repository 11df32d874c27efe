import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SendPacer } from '../../src/ingest/send-pacer';
import { TimerSet } from '../../src/ingest/timer-set';

describe('send pacer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function pacer(limit = 4, windowMs = 1000) {
    const sent: Array<{ text: string; at: number }> = [];
    const timers = new TimerSet();
    const p = new SendPacer({ limit, windowMs, timers, now: Date.now, send: (text) => sent.push({ text, at: Date.now() }) });
    return { p, sent, timers };
  }

  it('sends frames evenly spaced, never more than the limit in any window', () => {
    const { p, sent } = pacer(4, 1000);
    for (let i = 0; i < 10; i++) p.enqueue(`m${i}`);
    expect(sent.map((s) => s.text)).toEqual(['m0']);
    vi.advanceTimersByTime(10_000);
    expect(sent.map((s) => s.text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(250);
    for (let i = 4; i < sent.length; i++) expect(sent[i]!.at - sent[i - 4]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('counts frames sent outside the queue, such as automatic pongs', () => {
    const { p, sent } = pacer(2, 1000);
    p.recordExternal();
    p.enqueue('a');
    p.enqueue('b');
    expect(sent.map((s) => s.text)).toEqual([]); // spaced after the pong
    vi.advanceTimersByTime(500);
    expect(sent.map((s) => s.text)).toEqual(['a']);
    vi.advanceTimersByTime(499); // the pong and 'a' fill the window until the pong leaves it
    expect(sent.map((s) => s.text)).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(sent.map((s) => s.text)).toEqual(['a', 'b']);
  });

  it('runs the callback right after its frame is sent', () => {
    const { p, sent } = pacer(1, 1000);
    const seen: number[] = [];
    p.enqueue('a', () => seen.push(sent.length));
    p.enqueue('b', () => seen.push(sent.length));
    expect(seen).toEqual([1]);
    vi.advanceTimersByTime(1000);
    expect(seen).toEqual([1, 2]);
  });

  it('drops its queue and its timer when stopped', () => {
    const { p, sent, timers } = pacer(1, 1000);
    p.enqueue('a');
    p.enqueue('b');
    expect(timers.size).toBe(1);
    p.stop();
    expect(timers.size).toBe(0);
    expect(p.queued).toBe(0);
    vi.advanceTimersByTime(5000);
    p.enqueue('c');
    expect(sent.map((s) => s.text)).toEqual(['a']);
  });

  it('never sends more than the limit within any window, however frames arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(700), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (gaps, limit) => {
        const { p, sent } = pacer(limit, 1000);
        for (const gap of gaps) {
          vi.advanceTimersByTime(gap);
          p.enqueue('x');
        }
        vi.advanceTimersByTime(60_000);
        expect(sent).toHaveLength(gaps.length);
        for (let i = limit; i < sent.length; i++) expect(sent[i]!.at - sent[i - limit]!.at).toBeGreaterThanOrEqual(1000);
        p.stop();
      }),
    );
  });
});
