import { describe, expect, it } from 'vitest';
import { LatestByKey } from '../../src/subscriptions/latest-by-key';

type Tick = { id: string; price: number };

async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('LatestByKey', () => {
  it('hands a value straight to a waiting reader', async () => {
    const q = new LatestByKey<Tick>((t) => t.id);
    const next = q.next();
    q.push({ id: 'a', price: 1 });
    expect(await next).toEqual({ done: false, value: { id: 'a', price: 1 } });
  });

  it('keeps only the latest value of each key while the reader is behind', async () => {
    const q = new LatestByKey<Tick>((t) => t.id);
    for (let i = 1; i <= 100; i++) {
      q.push({ id: 'a', price: i });
      q.push({ id: 'b', price: -i });
    }
    expect(q.size).toBe(2);
    expect(q.conflated).toBe(198);
    expect(await take(q, 2)).toEqual([
      { id: 'a', price: 100 },
      { id: 'b', price: -100 },
    ]);
  });

  it('delivers keys in the order they first became pending', async () => {
    const q = new LatestByKey<Tick>((t) => t.id);
    q.push({ id: 'b', price: 1 });
    q.push({ id: 'a', price: 1 });
    q.push({ id: 'b', price: 2 });
    expect((await take(q, 2)).map((t) => `${t.id}${t.price}`)).toEqual(['b2', 'a1']);
  });

  it('ends a waiting reader, drops pending values and calls onClose once on return()', async () => {
    let closes = 0;
    const q = new LatestByKey<Tick>((t) => t.id, () => closes++);
    const waiting = q.next();
    await q.return();
    expect(await waiting).toEqual({ done: true, value: undefined });
    q.push({ id: 'a', price: 1 });
    expect(await q.next()).toEqual({ done: true, value: undefined });
    await q.return();
    expect(closes).toBe(1);
  });

  it('hands over what is already pending, oldest first, without waiting', async () => {
    const q = new LatestByKey<Tick>((t) => t.id);
    expect(q.takePending()).toBeUndefined();
    q.push({ id: 'a', price: 1 });
    q.push({ id: 'b', price: 2 });
    q.push({ id: 'a', price: 3 });
    expect(q.takePending()).toEqual({ id: 'a', price: 3 });
    expect(q.takePending()).toEqual({ id: 'b', price: 2 });
    expect(q.takePending()).toBeUndefined();
    const next = q.next();
    q.push({ id: 'c', price: 4 }); // a waiting reader still gets it directly
    expect(await next).toEqual({ done: false, value: { id: 'c', price: 4 } });
  });

  it('hands values to a callback reader: at once when pending, from push when waiting, done when closed', async () => {
    const q = new LatestByKey<Tick>((t) => t.id);
    const got: Array<IteratorResult<Tick>> = [];
    q.push({ id: 'a', price: 1 });
    q.nextCallback((r) => got.push(r));
    expect(got).toEqual([{ done: false, value: { id: 'a', price: 1 } }]);
    q.nextCallback((r) => got.push(r));
    expect(got).toHaveLength(1);
    q.push({ id: 'b', price: 2 }); // delivered inside push
    expect(got[1]).toEqual({ done: false, value: { id: 'b', price: 2 } });
    q.nextCallback((r) => got.push(r));
    await q.return();
    expect(got[2]).toEqual({ done: true, value: undefined });
    q.nextCallback((r) => got.push(r));
    expect(got[3]).toEqual({ done: true, value: undefined });
  });
});
