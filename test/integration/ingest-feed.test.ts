/**
 * The real Binance adapter and Feed against the local simulator over real sockets (no Redis,
 * no network). Timeouts are shortened through options; nothing asserts how fast things are.
 */
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestHarness } from '../support/ingest-harness';
import { sleep, waitFor } from '../support/wait-for';

const harness = new IngestHarness();
afterEach(() => harness.stopAll());

const BTC_TICK = {
  E: 1785300000123,
  c: '101.50000000',
  o: '100.00000000',
  h: '102.00000000',
  l: '99.00000000',
  b: '101.40000000',
  a: '101.60000000',
  v: '1234.50000000',
  q: '125000.25000000',
  p: '1.50000000',
  P: '1.500',
};

describe('Feed against the simulated Binance exchange', () => {
  it('goes LIVE and emits a pushed ticker with every field mapped', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);

    expect(sim.push('BTCUSDT', BTC_TICK).delivered).toBe(1);
    await waitFor(() => t.markets.length === 1, 'one market');
    expect(t.markets[0]).toMatchObject({
      id: 'sim:BTC/USDT',
      exchange: 'sim',
      symbol: 'BTC/USDT',
      nativeSymbol: 'BTCUSDT',
      base: 'BTC',
      quote: 'USDT',
      price: 101.5,
      bid: 101.4,
      ask: 101.6,
      open24h: 100,
      high24h: 102,
      low24h: 99,
      volume24h: 1234.5,
      quoteVolume24h: 125000.25,
      change24h: 1.5,
      changePercent24h: 1.5,
      updatedAt: 1785300000123,
    });
    expect(t.markets[0]!.spreadPercent).toBeCloseTo((0.2 / 101.5) * 100, 10);

    sim.push('ETHBTC', { E: 1785300000200 });
    await waitFor(() => t.markets.length === 2, 'a second market');
    expect(t.markets[1]).toMatchObject({ id: 'sim:ETH/BTC', base: 'ETH', quote: 'BTC' });
    expect(t.health()).toMatchObject({ exchange: 'sim', status: 'LIVE', markets: 2, reconnects: 0, invalidFrames: 0, errors: 0 });
    expect(t.health().lastMessageAt).not.toBeNull();
  });

  it('emits the simulator’s own random walk for subscribed markets only', async () => {
    const sim = await harness.sim({ tickMs: 20, markets: 10 });
    const t = harness.feed(sim, { symbols: ['BTCUSDT', 'ETHUSDT'] });
    await waitFor(() => new Set(t.markets.map((m) => m.id)).size === 2, 'both markets moving');
    expect(new Set(t.markets.map((m) => m.id))).toEqual(new Set(['sim:BTC/USDT', 'sim:ETH/USDT']));
    expect(t.health().messagesPerSecond).toBeGreaterThan(0);
  });

  it('counts malformed frames, keeps the last good state, and carries on', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    sim.push('BTCUSDT', BTC_TICK);
    await waitFor(() => t.markets.length === 1, 'the good ticker');

    sim.sendRaw('not json');
    sim.sendRaw(JSON.stringify({ stream: 'btcusdt@ticker', data: { ...sim.push('BTCUSDT', { E: 1 }).event, E: BTC_TICK.E + 1, c: 'abc' } }));
    sim.sendRaw(Buffer.from([1, 2, 3]));
    sim.sendRaw('[1,2]');
    sim.sendRaw('{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":1785300000999,"s":"BTCUSDT"}}');
    await waitFor(() => t.health().invalidFrames === 5, 'five invalid frames');

    // The push with E: 1 above was older than the state, so nothing was emitted for it either.
    expect(t.markets).toHaveLength(1);
    expect(t.health()).toMatchObject({ status: 'LIVE', errors: 0, markets: 1 });
    expect(t.warnings.filter((w) => w.msg === 'invalid frame ignored').map((w) => w.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/"c" \(last price\) is not a decimal number: string "abc"/),
      expect.stringMatching(/binary frame of 3 bytes/),
      expect.stringMatching(/array item 0/),
      expect.stringMatching(/required field "c" \(last price\) is missing/),
    ]);

    sim.push('BTCUSDT', { ...BTC_TICK, E: BTC_TICK.E + 10, c: '105.00000000' });
    await waitFor(() => t.markets.length === 2, 'the next good ticker');
    expect(t.markets[1]).toMatchObject({ price: 105, bid: 101.4, open24h: 100, changePercent24h: 5 });
  });

  it('counts an exchange error frame and remembers it, without dropping the connection', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    sim.sendRaw('{"code":2,"msg":"Invalid request: too many parameters","id":9}');
    await waitFor(() => t.health().errors === 1, 'an error');
    expect(t.health()).toMatchObject({ status: 'LIVE', lastError: 'Binance error 2: Invalid request: too many parameters (request id 9)', reconnects: 0 });
    expect(sim.stats.upgrades).toBe(1);
  });

  it('reconnects after the server drops every connection, and counts one reconnect', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    sim.dropConnections();
    await waitFor(() => t.statuses.includes('RECONNECTING'), 'RECONNECTING');
    await waitFor(() => t.health().status === 'LIVE', 'LIVE again');
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE', 'RECONNECTING', 'LIVE']);
    expect(t.health()).toMatchObject({ reconnects: 1, errors: 1 });
    expect(t.health().lastError).toMatch(/1006/);

    expect(sim.push('BTCUSDT', BTC_TICK).delivered).toBe(1);
    await waitFor(() => t.markets.length === 1, 'data on the new connection');
  });

  it('replaces a socket that goes silent, while pings keep a quiet healthy one open', async () => {
    const sim = await harness.sim({ pingIntervalMs: 250 });
    const t = harness.feed(sim, { timing: { silenceTimeoutMs: 600 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');

    // No data at all, only pings: the watchdog must leave this socket alone, and ws pongs.
    await sleep(1300);
    expect(sim.stats.upgrades).toBe(1);
    expect(sim.stats.pongs).toBeGreaterThanOrEqual(4);
    expect(sim.stats.rateLimitCloses).toBe(0);
    expect(t.health().reconnects).toBe(0);

    sim.stall();
    await waitFor(() => sim.stats.upgrades === 2, 'a replacement socket');
    await waitFor(() => t.health().status === 'LIVE' && t.health().reconnects === 1, 'LIVE again');
    expect(t.health().lastError).toMatch(/no frame for \d+ ms \(silence limit 600 ms\)/);
    await waitFor(() => sim.connections === 1, 'the stalled socket closed');
  });

  it('rotates on serverShutdown with no gap in data and no reconnect counted', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');

    // Push a new price every few ms through the whole rotation; every one must arrive.
    const pushed: number[] = [];
    let undelivered = 0;
    let stopPushing = false;
    const pusher = (async () => {
      for (let i = 1; !stopPushing; i++) {
        const { delivered } = sim.push('BTCUSDT', { E: BTC_TICK.E + i, c: `${1000 + i}.00000000` });
        if (delivered === 0) undelivered++;
        pushed.push(1000 + i);
        await sleep(3);
      }
    })();
    await sleep(30);
    // The server never closes: the client must close the old socket itself.
    sim.shutdownNotice({ closeAfterMs: null });
    await waitFor(() => sim.stats.upgrades === 2 && sim.connections === 1, 'the replacement to take over');
    await sleep(30);
    stopPushing = true;
    await pusher;

    const last = pushed[pushed.length - 1]!;
    await waitFor(() => t.markets.some((m) => m.price === last), 'the last pushed price');
    const seen = new Set(t.markets.map((m) => m.price));
    expect(pushed.filter((price) => !seen.has(price))).toEqual([]);
    expect(undelivered).toBe(0);
    expect(t.health()).toMatchObject({ status: 'LIVE', reconnects: 0, errors: 0 });
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
  });

  it('rotates when a connection reaches its maximum age, without a reconnect', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim, { timing: { maxConnectionAgeMs: 250 } });
    await waitFor(() => sim.stats.upgrades >= 3, 'two planned rotations');
    await waitFor(() => sim.connections === 1 && t.health().status === 'LIVE', 'one live socket');
    expect(t.health().reconnects).toBe(0);
    expect(t.statuses).toEqual(['CONNECTING', 'LIVE']);
    expect(sim.push('BTCUSDT', BTC_TICK).delivered).toBe(1);
  });

  it('paces subscribe requests under Binance’s 5 messages per second', async () => {
    const sim = await harness.sim({ markets: 300 });
    const symbols = sim.symbols.slice(0, 40).map((s) => s.symbol);
    const t = harness.feed(sim, { symbols, tuning: { streamsPerMessage: 4 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE after ten SUBSCRIBE requests');
    expect(sim.stats).toMatchObject({ requests: 10, rateLimitCloses: 0, upgrades: 1 });
    expect(sim.stats.peakInboundPerSecond).toBeLessThanOrEqual(5);
    for (const symbol of symbols) expect(sim.subscribers(symbol)).toBe(1);
  });

  it('stop() closes every socket and clears every timer', async () => {
    const sim = await harness.sim({ pingIntervalMs: 250 });
    const t = harness.feed(sim, { timing: { maxConnectionAgeMs: 60_000 } });
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    expect(t.feed.openResources().timers).toBeGreaterThan(0);

    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.health().status).toBe('DOWN');
    expect(t.statuses.at(-1)).toBe('DOWN');
    await waitFor(() => sim.connections === 0, 'the server to see the close');
    await sleep(200);
    expect(sim.stats.upgrades).toBe(1);
  });

  it('stop() during start-up leaves nothing behind', async () => {
    const sim = await harness.sim();
    const t = harness.feed(sim);
    await t.feed.stop();
    expect(t.feed.openResources()).toEqual({ sockets: 0, timers: 0 });
    expect(t.health().status).toBe('DOWN');
    await sleep(100);
    expect(sim.connections).toBe(0);
  });
});

describe('Feed start-up without symbol metadata', () => {
  it('derives base and quote when exchangeInfo fails, and says so', async () => {
    const sim = await harness.sim();
    sim.setRestAvailable(false);
    const t = harness.feed(sim);
    await waitFor(() => t.health().status === 'LIVE', 'LIVE');
    sim.push('ETHBTC', { E: 1785300000123 });
    await waitFor(() => t.markets.length === 1, 'a market');
    expect(t.markets[0]).toMatchObject({ id: 'sim:ETH/BTC', base: 'ETH', quote: 'BTC' });
    expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/the listing could not be read \(GET .*exchangeInfo.*: HTTP 503\)/);
  });

  it('connects anyway when exchangeInfo hangs longer than the start-up limit', async () => {
    const sim = await harness.sim();
    const hanging = createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const address = hanging.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const t = harness.feed(sim, { restUrl: `http://127.0.0.1:${port}`, symbolsTimeoutMs: 200 });
      await waitFor(() => t.health().status === 'LIVE', 'LIVE');
      expect(t.warnings.find((w) => w.msg === 'symbols: check the configuration')?.warning).toMatch(/the listing could not be read \(no answer within 200 ms\)/);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });
});
