/**
 * An async iterator that holds at most one pending value per key: a value pushed while an
 * older one with the same key waits replaces it in place. A consumer that reads slower than
 * values arrive therefore receives the latest state of each market, never a growing backlog,
 * and memory is bounded by the number of distinct keys.
 *
 * The consumer (graphql-ws, SSE) asks for the next value only after the previous one was
 * written to its socket, so a slow client is what makes values wait here.
 */
export class LatestByKey<T> implements AsyncIterableIterator<T> {
  private readonly pending = new Map<string, T>();
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;
  /** Values replaced before delivery. */
  conflated = 0;

  constructor(
    private readonly keyOf: (value: T) => string,
    private readonly onClose: () => void = () => {},
  ) {}

  push(value: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve({ value, done: false });
      return;
    }
    const key = this.keyOf(value);
    if (this.pending.has(key)) this.conflated++;
    this.pending.set(key, value);
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * The oldest pending value, removed, or undefined when none waits: lets a consumer that is
   * about to write take everything already queued in the same write, without a promise each.
   */
  takePending(): T | undefined {
    const first = this.pending.entries().next();
    if (first.done) return undefined;
    const [key, value] = first.value;
    this.pending.delete(key);
    return value;
  }

  /**
   * `next()` without a promise: `callback` receives the next value, at once when one is
   * pending, or else later from `push` (synchronously, inside it), or `done` when closed. A
   * consumer that writes to a socket this way costs no promise or microtask per value.
   */
  nextCallback(callback: (result: IteratorResult<T>) => void): void {
    const value = this.takePending();
    if (value !== undefined) return callback({ value, done: false });
    if (this.closed) return callback({ value: undefined, done: true });
    this.waiter = callback;
  }

  next(): Promise<IteratorResult<T>> {
    const first = this.pending.entries().next();
    if (!first.done) {
      const [key, value] = first.value;
      this.pending.delete(key);
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.clear();
    this.waiter?.({ value: undefined, done: true });
    this.waiter = null;
    this.onClose();
  }
}
