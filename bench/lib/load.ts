/**
 * HTTP load with autocannon (a real load generator), latencies into an HDR histogram, every
 * response counted by HTTP status (a refused request is answered fast and must not pass for
 * throughput). The generator runs in the calling process (bench/clients/query-load.ts gives it
 * one of its own) and shares the machine with the server under test.
 */
import autocannon from 'autocannon';
import { LatencyHistogram, type LatencySummary } from './histogram';

export interface LoadOptions {
  readonly url: string;
  /** JSON body of every POST. */
  readonly body: string;
  /** Concurrent connections, each with one request in flight. */
  readonly connections: number;
  readonly durationS: number;
}

export interface LoadResult {
  /** Responses per second, whatever their status. */
  readonly requestsPerSecond: number;
  /** Responses in all (2xx or not). */
  readonly requests: number;
  /** Of 2xx responses only. */
  readonly latency: LatencySummary;
  /** Non-2xx responses, errors and timeouts: any of these makes the run suspect. */
  readonly failures: number;
  /** 2xx responses, and per second of the run: the throughput a client actually got. */
  readonly ok: number;
  readonly okPerSecond: number;
  /** Responses by HTTP status, e.g. `{ "200": 9120, "429": 33 }`. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Connection errors and timeouts: requests that got no response at all. */
  readonly errors: number;
  /** How long the load ran, seconds. */
  readonly seconds: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new LatencyHistogram();
  const statuses: Record<string, number> = {};
  let ok = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: options.body,
        connections: options.connections,
        pipelining: 1,
        duration: options.durationS,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode < 200 || statusCode >= 300) return;
      ok++;
      latencies.record(responseTime);
    });
  });
  return {
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    latency: latencies.summary(),
    failures: result.non2xx + result.errors + result.timeouts,
    ok,
    okPerSecond: ok / result.duration,
    statuses,
    errors: result.errors + result.timeouts,
    seconds: result.duration,
  };
}
