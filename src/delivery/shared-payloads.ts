/**
 * One serialized payload per (event, selection), shared by every subscription that selects
 * the same fields of the same event.
 *
 * RedisPubSub parses each published message once and hands the same object to every listener,
 * and LatestByKey keeps that object until it is delivered, so the event object itself is the
 * cache key: the first subscription to deliver it executes its selection and serializes the
 * result, every other subscription with the same selection sends the same text. Entries live
 * in a WeakMap, so they go when the last subscription has delivered (or replaced) the event;
 * nothing is evicted by hand and memory stays bounded by the events still waiting somewhere.
 */
export type Payload<T = string> = T | Promise<T>;

export interface SharedPayloadStats {
  /** Payloads computed: one per event and distinct selection. */
  computed: number;
  /** Payloads served from another subscription's computation. */
  shared: number;
}

/** `T`: what a payload is once computed (delivery keeps the serialized text as bytes). */
export class SharedPayloads<T = string> {
  private readonly byEvent = new WeakMap<object, Map<string, Payload<T>>>();
  readonly stats: SharedPayloadStats = { computed: 0, shared: 0 };

  /**
   * The payload of `event` for the selection named `key`, computed with `compute` only if no
   * subscription has asked for this pair yet. A computation that fails is not kept, so the next
   * subscription tries again (and gets its own error).
   */
  get<E>(event: E, key: string, compute: (event: E) => Payload<T>): Payload<T> {
    if (typeof event !== 'object' || event === null) return compute(event);
    let payloads = this.byEvent.get(event);
    if (!payloads) {
      payloads = new Map();
      this.byEvent.set(event, payloads);
    }
    const known = payloads.get(key);
    if (known !== undefined) {
      this.stats.shared++;
      return known;
    }
    this.stats.computed++;
    let payload: Payload<T>;
    try {
      payload = compute(event);
    } catch (err) {
      return Promise.reject(err);
    }
    payloads.set(key, payload);
    if (payload instanceof Promise) {
      const map = payloads;
      payload.catch(() => map.delete(key));
    }
    return payload;
  }
}
