/**
 * A bare `ws` client for testing the local exchange servers themselves: it keeps every frame,
 * sends what it is told, and can leave from another loopback address (127.0.0.2, ...) so one
 * test can be several IPs. No code of the product's own clients is involved.
 */
import { WebSocket } from 'ws';
import { waitFor } from '../wait-for';

export interface RawClient {
  readonly ws: WebSocket;
  /** Every text frame received, in order. */
  readonly frames: string[];
  /** The close code and reason, once closed. */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  /** Sends a value as JSON, or a string as it is. */
  send(value: unknown): void;
  /** Every frame received so far parsed as JSON (a frame that is not JSON as its text); a live array. */
  json(): unknown[];
  /** Waits until `done(json())` holds. */
  until(done: (frames: unknown[]) => boolean, what: string, timeoutMs?: number): Promise<unknown[]>;
  close(): void;
}

const open: WebSocket[] = [];

/** Connects; rejects when the upgrade is refused. `from` is the local address to leave from. */
export async function connectRaw(url: string, options: { readonly from?: string } = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { localAddress: options.from ?? '127.0.0.1' });
  open.push(ws);
  const frames: string[] = [];
  const parsed: unknown[] = [];
  ws.on('message', (data) => {
    const text = String(data);
    frames.push(text);
    parsed.push(parseOrText(text));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const json = (): unknown[] => parsed;
  return {
    ws,
    frames,
    closed,
    send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
    json,
    until: async (done, what, timeoutMs = 5000) => {
      await waitFor(() => done(json()), what, timeoutMs);
      return json();
    },
    close: () => ws.close(),
  };
}

/** The HTTP status an upgrade gets (101 when accepted, then closed at once) and the response headers. */
export function upgradeStatus(url: string, options: { readonly from?: string } = {}): Promise<{ readonly status: number; readonly headers: Readonly<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress: options.from ?? '127.0.0.1' });
    open.push(ws);
    ws.once('open', () => {
      ws.terminate();
      resolve({ status: 101, headers: {} });
    });
    ws.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
      response.resume();
      ws.terminate();
    });
    ws.on('error', reject); // after a refusal was reported, terminate() errors too: ignored, settled already
  });
}

/** Cuts every socket these helpers opened; for `afterEach`. */
export function closeRawClients(): void {
  for (const ws of open.splice(0)) ws.terminate();
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
