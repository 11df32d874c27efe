/**
 * HTTP load with autocannon (a real load generator), latencies into an HDR histogram. The
 * generator runs in the bench process and shares the machine with the server under test.
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
  readonly requestsPerSecond: number;
  /** Responses in all (2xx or not). */
  readonly requests: number;
  readonly latency: LatencySummary;
  /** Non-2xx responses, errors and timeouts: any of these makes the run suspect. */
  readonly failures: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new LatencyHistogram();
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
      if (statusCode >= 200 && statusCode < 300) latencies.record(responseTime);
    });
  });
  return {
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    latency: latencies.summary(),
    failures: result.non2xx + result.errors + result.timeouts,
  };
}
