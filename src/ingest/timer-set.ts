/**
 * Timers owned by one object, so its `stop()` can clear every one of them and tests can check
 * that nothing is left running. A timeout leaves the set when it fires.
 */

export type TimerHandle = ReturnType<typeof setTimeout>;

export class TimerSet {
  private readonly live = new Set<TimerHandle>();

  timeout(ms: number, fn: () => void): TimerHandle {
    const handle = setTimeout(() => {
      this.live.delete(handle);
      fn();
    }, Math.max(0, ms));
    this.live.add(handle);
    return handle;
  }

  interval(ms: number, fn: () => void): TimerHandle {
    const handle = setInterval(fn, Math.max(1, ms));
    this.live.add(handle);
    return handle;
  }

  clear(handle: TimerHandle | null | undefined): void {
    if (!handle) return;
    clearTimeout(handle);
    this.live.delete(handle);
  }

  clearAll(): void {
    for (const handle of this.live) clearTimeout(handle);
    this.live.clear();
  }

  get size(): number {
    return this.live.size;
  }
}
