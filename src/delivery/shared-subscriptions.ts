/**
 * graphql-ws delivery that executes a subscription's selection once per event and shares the
 * serialized result among every subscription selecting the same fields, instead of executing
 * and serializing it again for each subscriber.
 *
 * Without it, every update a subscriber receives goes through graphql execution (yoga's
 * executor and its plugins), JSON.stringify of the whole message and graphql-ws's promise
 * chain: with thousands of subscribers of one market, the same result is computed thousands
 * of times. Here a subscriber costs one small copy (its message prefix and the shared payload,
 * already UTF-8 bytes) and one socket write per update.
 *
 * A subscription qualifies when all of these hold, otherwise it takes the ordinary path:
 * - its one root field is in `SHAREABLE_FIELDS`: fields whose arguments only choose which
 *   events arrive (the result is the event itself) and whose result type reads nothing of the
 *   client's own context (Market fields read process-wide services only);
 * - nothing below the root field uses a variable, and the root field carries no directive,
 *   so the result depends on the event and the document text alone.
 * Two subscriptions share results when their documents are equal after dropping the root
 * field's arguments and the variable definitions: `priceUpdated(ids: $ids) { id price }` is
 * shared by every subscriber of that selection, whatever markets each one asked for.
 *
 * Flow control is graphql-ws's: the next update is taken from the subscription's stream
 * (a conflating LatestByKey) only once the previous one was written to the socket; updates
 * that queued meanwhile go out together, one frame each, in one write. Stream
 * errors, client `complete` and socket close go through graphql-ws as before; only `next`
 * messages are written here, in graphql-ws's format, `{"id":..,"type":"next","payload":..}`.
 * A result's errors are masked as yoga masks them (unexpected errors become "Unexpected
 * error." and are logged). A field's value is computed when the first subscriber receives the
 * event (`stale` included: staleness is judged in seconds, subscribers a few ms apart agree).
 */
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
} from 'graphql';
import { maskError } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger';
import type { Payload, SharedPayloads } from './shared-payloads';

/** Root subscription fields whose result is the event itself, read without client context. */
export const SHAREABLE_FIELDS: ReadonlySet<string> = new Set(['priceUpdated']);

const UNEXPECTED_ERROR = 'Unexpected error.';

/**
 * The key under which a subscription's results can be shared, or null when they depend on
 * more than the event and the document (see the header).
 */
export function sharedSelectionKey(document: DocumentNode, operationName?: string | null): string | null {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'subscription') return null;
  const [root, ...others] = operation.selectionSet.selections;
  if (!root || others.length > 0 || root.kind !== Kind.FIELD || !SHAREABLE_FIELDS.has(root.name.value)) return null;
  if ((root.directives?.length ?? 0) > 0) return null;
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  let usesVariables = false;
  const findVariables = { Variable: () => void (usesVariables = true) };
  if (root.selectionSet) visit(root.selectionSet, findVariables);
  for (const fragment of fragments) visit(fragment, findVariables);
  if (usesVariables) return null;
  const field: FieldNode = { ...root, arguments: [] };
  return [print(field), ...fragments.map((f) => print(f))].join('\n');
}

export interface SharedSubscription {
  /** From `sharedSelectionKey`. */
  readonly key: string;
  /** The graphql-ws subscription id, echoed in every `next` message. */
  readonly id: string;
  readonly socket: WebSocket;
  /** The TCP socket under `socket` (the upgrade request's), corked to write several frames at once. */
  readonly transport: Corkable;
}

export interface Corkable {
  cork(): void;
  uncork(): void;
}

export interface SharedDeps {
  /** Payloads as UTF-8 bytes: encoded once, not once per subscriber's socket write. */
  readonly payloads: SharedPayloads<Buffer>;
  readonly logger: Logger;
  /** Counted for every shared subscription. */
  readonly delivery: DeliveryStats;
  readonly writes: WriteScheduler;
  /** Holds a subscription's next update while its connection has too much queued (slow-clients.ts). */
  readonly outbound?: OutboundGate;
}

export interface OutboundGate {
  /** Calls `then` once `socket` may be written to again. */
  whenWritable(socket: WebSocket, then: () => void): void;
}

/**
 * Defers the writes of subscriptions woken by pub/sub messages to one microtask after the
 * handler that woke them: one Redis read often carries several updates for one subscriber
 * (an upsert publishes a whole batch), and they then share a write.
 */
export class WriteScheduler {
  private ready: Array<() => void> = [];

  schedule(write: () => void): void {
    if (this.ready.push(write) === 1) queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    const ready = this.ready;
    this.ready = [];
    for (const write of ready) write();
  };
}

export interface DeliveryStats {
  /** `next` messages written. */
  messages: number;
  /** Socket writes they took (several queued messages go in one). */
  writes: number;
}

/**
 * Updates already queued for one subscription when it is about to write go out in the same
 * write, up to this many: a busy server then makes one system call for several messages.
 */
export const MAX_MESSAGES_PER_WRITE = 64;

/**
 * Subscribes like graphql's `subscribe`, but returns a stream that writes `next` messages to
 * the socket itself and yields nothing; it ends when the source ends or graphql-ws returns it.
 * Null when the source stream could not be created (bad arguments): the caller then takes the
 * ordinary path, which reports the errors as usual.
 */
export async function subscribeShared(args: ExecutionArgs, subscription: SharedSubscription, deps: SharedDeps): Promise<AsyncIterableIterator<never> | null> {
  const created = await createSourceEventStream({ ...args, rootValue: undefined });
  if (!isAsyncIterable(created)) return null; // an ExecutionResult with the errors
  const source = created[Symbol.asyncIterator]();
  const payloadOf = (event: unknown): Payload<Buffer> =>
    deps.payloads.get(event, subscription.key, (e) => {
      const result = execute({ ...args, rootValue: e });
      return isPromise(result) ? result.then((r) => serialize(r, deps.logger)) : serialize(result, deps.logger);
    });
  const prefix = Buffer.from(`{"id":${JSON.stringify(subscription.id)},"type":"next","payload":`);
  const send = sender(subscription.socket, subscription.transport, deps.outbound);
  return new SharedDelivery(source, (payload) => nextMessage(prefix, payload), payloadOf, deps.writes, (messages, written) => {
    deps.delivery.messages += messages.length;
    deps.delivery.writes++;
    send(messages, written);
  });
}

/** A source that hands over values without a promise each (LatestByKey). */
interface CallbackSource {
  nextCallback(callback: (result: IteratorResult<unknown>) => void): void;
  takePending(): unknown;
}

/**
 * Writes each source event's shared payload to the socket; as an iterator it yields nothing
 * and `next()` settles when delivery ends. Driven by callbacks, not promises, so a message
 * costs no promise: an event arriving while the subscription is idle schedules a write (see
 * WriteScheduler), and each write's completion takes what queued meanwhile.
 */
class SharedDelivery implements AsyncIterableIterator<never> {
  private readonly finished: Promise<IteratorResult<never>>;
  private settle!: (error?: unknown) => void;
  private readonly callbacks: CallbackSource | null;
  /** The event that woke this subscription, until its scheduled write. */
  private woken: unknown = undefined;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly message: (payload: Buffer) => Buffer,
    private readonly payloadOf: (event: unknown) => Payload<Buffer>,
    private readonly scheduler: WriteScheduler,
    private readonly send: (messages: readonly Buffer[], written: (error?: Error) => void) => void,
  ) {
    const candidate = source as Partial<CallbackSource>;
    this.callbacks = typeof candidate.nextCallback === 'function' && typeof candidate.takePending === 'function' ? (candidate as CallbackSource) : null;
    this.finished = new Promise((resolve, reject) => {
      this.settle = (error) => (error === undefined ? resolve({ done: true, value: undefined }) : reject(error));
    });
    this.await();
  }

  /** Waits for the next event. */
  private await(): void {
    if (this.callbacks) this.callbacks.nextCallback(this.onResult);
    else this.source.next().then(this.onResult, (err: unknown) => this.settle(err));
  }

  private readonly onResult = (result: IteratorResult<unknown>): void => {
    if (result.done) return this.settle();
    this.woken = result.value;
    this.scheduler.schedule(this.writeWoken);
  };

  private readonly writeWoken = (): void => {
    const event = this.woken;
    this.woken = undefined;
    this.deliver(event);
  };

  /** Writes `first` and whatever else is already queued, then waits for the write. */
  private deliver(first: unknown): void {
    let payloads: Array<Payload<Buffer>>;
    try {
      payloads = [this.payloadOf(first)];
      while (this.callbacks && payloads.length < MAX_MESSAGES_PER_WRITE) {
        const queued = this.callbacks.takePending();
        if (queued === undefined) break;
        payloads.push(this.payloadOf(queued));
      }
    } catch (err) {
      return this.settle(err);
    }
    if (payloads.every((p) => !isPromise(p))) return this.write(payloads as Buffer[]);
    Promise.all(payloads).then(
      (texts) => this.write(texts),
      (err: unknown) => this.settle(err),
    );
  }

  private write(payloads: readonly Buffer[]): void {
    // This may run inside the pub/sub handler of every subscriber: nothing may throw out of it.
    try {
      this.send(payloads.map(this.message), (error) => (error ? this.settle(error) : this.await()));
    } catch (err) {
      this.settle(err);
    }
  }

  next(): Promise<IteratorResult<never>> {
    return this.finished;
  }

  async return(): Promise<IteratorResult<never>> {
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<never>> {
    await this.source.return?.();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * What graphql-ws's `ws` adapter does (`written` once the data is written, at once when the
 * socket is closing), for several messages: one frame each, corked into one write. With an
 * `outbound` gate, `written` also waits while the connection has too much queued.
 */
function sender(socket: WebSocket, transport: Corkable, outbound?: OutboundGate): (messages: readonly Buffer[], written: (error?: Error) => void) => void {
  return (messages, done) => {
    const written = outbound ? (error?: Error) => (error ? done(error) : outbound.whenWritable(socket, done)) : done;
    if (socket.readyState !== socket.OPEN) return written();
    if (messages.length === 1) return socket.send(messages[0]!, TEXT_FRAME, written);
    transport.cork();
    for (let i = 0; i < messages.length - 1; i++) socket.send(messages[i]!, TEXT_FRAME);
    socket.send(messages[messages.length - 1]!, TEXT_FRAME, written);
    transport.uncork();
  };
}

/** Bytes are sent as text frames, as graphql-ws sends its strings (`ws` would send binary). */
const TEXT_FRAME = { binary: false } as const;
const CLOSE_BRACE = 0x7d;

/** `prefix` + `payload` + `}`: one small copy, where a string would be encoded again per socket. */
function nextMessage(prefix: Buffer, payload: Buffer): Buffer {
  const message = Buffer.allocUnsafe(prefix.length + payload.length + 1);
  prefix.copy(message, 0);
  payload.copy(message, prefix.length);
  message[message.length - 1] = CLOSE_BRACE;
  return message;
}

function serialize(result: ExecutionResult, logger: Logger): Buffer {
  return Buffer.from(serializeText(result, logger));
}

function serializeText(result: ExecutionResult, logger: Logger): string {
  if (!result.errors || result.errors.length === 0) return JSON.stringify({ data: result.data });
  const errors = result.errors.map((error) => {
    const masked = maskError(error, UNEXPECTED_ERROR);
    if (masked !== error) logger.error({ err: error.originalError ?? error }, 'subscription event failed');
    return masked;
  });
  return JSON.stringify({ data: result.data, errors });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T>)?.then === 'function';
}
