/**
 * The frame budget (connection.ts, FLOODS) over a real socket: past `maxFramesPerSecond` the
 * loop stops reading until the second ends, so a window holds no more than the budget (plus
 * the frame the socket was in the middle of), and every frame is still read in the end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FrameEvent } from '../../src/ingest/adapter';
import { FeedConnection } from '../../src/ingest/connection';
import { createBinanceAdapter } from '../../src/ingest/exchanges/binance';
import { silentLogger } from '../../src/logger';
import { IngestHarness } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
let connection: FeedConnection | undefined;
afterEach(async () => {
  await connection?.stop();
  await harness.stopAll();
});

describe('frame budget', () => {
  it('pauses reading for the rest of the second past the budget, and loses no frame', async () => {
    const budget = 10;
    const flood = 3 * budget;
    const sim = await harness.sim();
    const frames: Array<{ event: FrameEvent; at: number }> = [];
    let live = false;
    connection = new FeedConnection({
      adapter: createBinanceAdapter({ exchange: 'sim', wsUrl: sim.wsUrl, restUrl: null }),
      symbols: ['BTCUSDT'],
      logger: silentLogger(),
      maxFramesPerSecond: budget,
      listener: {
        frame: (event, at) => frames.push({ event, at }),
        status: (status) => (live = status === 'live'),
        failure: () => {},
      },
    });
    connection.start();
    await waitFor(() => live, 'LIVE');
    await sleep(1100); // the flood opens a budget window of its own

    // Frames larger than one socket read, so a pause takes effect within a frame.
    const before = frames.length;
    const big = `garbage ${'x'.repeat(200_000)}`;
    for (let i = 0; i < flood; i++) sim.sendRaw(big);
    await waitFor(() => frames.length - before === flood, 'every flood frame', 20_000);

    const read = frames.slice(before).map((f) => f.at);
    const start = read[0]!;
    expect(read.filter((at) => at < start + 1000).length).toBeLessThanOrEqual(budget + 1);
    expect(connection.throttledSeconds).toBeGreaterThanOrEqual(2);
    expect(frames.slice(before).every((f) => f.event.kind === 'invalid')).toBe(true);
  }, 30_000);
});
