/**
 * An exchange misbehaves in each way the issue lists (drops the connection, stalls silently,
 * sends garbage, sends error frames, floods) while the service runs it beside a healthy feed.
 * For each: the bad feed's counter moves, in `feeds` and in /metrics; the healthy feed keeps
 * receiving and writing; and the bad feed recovers once its exchange behaves again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { waitFor } from '../support/wait-for';
import { queryData } from '../support/post-query';

/** Low enough for a test to exceed, far above the healthy feeds' rates here (about 100/s each). */
const BUDGET = 1000;

describe('feed misbehaviour', () => {
  let t: TestRedis;
  let bad: BinanceSim;
  let app: App;
  let sequence = 0;

  beforeAll(async () => {
    t = await openTestRedis();
    // Quiet: the test sends every ticker; pings every 300 ms are the feed's sign of life.
    bad = await BinanceSim.start({ markets: 5, tickMs: 0, pingIntervalMs: 300 });
    app = await buildApp(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: t.url,
        REDIS_PREFIX: t.prefix,
        LOG_LEVEL: 'silent',
        FEEDS: 'binance,sim',
        BINANCE_WS_URL: bad.wsUrl,
        BINANCE_REST_URL: bad.restUrl,
        BINANCE_SYMBOLS: bad.symbols.map((s) => s.symbol).join(','),
        SIM_MARKETS: '10',
        SIM_TICK_MS: '100',
        QUERY_CACHE_MS: '0',
        FEED_MAX_FRAMES_PER_S: String(BUDGET),
      }),
      silentLogger(),
      { url: t.url, privateServer: null },
      { feedTiming: { silenceTimeoutMs: 1000 } },
    );
    await app.start();
    await waitFor(() => app.feeds.every((f) => f.health().status === 'LIVE'), 'both feeds LIVE', 10_000);
  });

  afterAll(async () => {
    await app?.stop();
    await bad?.close();
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  /** A feed's health; each feed joins `app.feeds` when its lease is taken, in either order. */
  const feed = (exchange: string) => {
    const found = app.feeds.find((f) => f.health().exchange === exchange);
    if (!found) throw new Error(`no ${exchange} feed yet`);
    return found.health();
  };
  const binance = () => feed('binance');
  const sim = () => feed('sim');
  const first = () => bad.symbols[0]!;

  /** Sends a new state of the bad exchange's first market; returns its (unique) price. */
  function pushBad(): number {
    sequence++;
    const price = 500 + sequence / 4;
    bad.push(first().symbol, { c: String(price), E: Date.now() + sequence });
    return price;
  }

  async function storedPrice(id: string): Promise<number | undefined> {
    return (await queryData(app, `{ market(id: ${JSON.stringify(id)}) { price } }`)).market?.price;
  }

  /** The newest `updatedAt` among the healthy feed's markets in Redis. */
  async function simNewest(): Promise<number> {
    const page = await queryData(app, '{ markets(filter: { exchanges: ["sim"] }, sort: { field: UPDATED_AT }, page: { limit: 1 }) { items { updatedAt } } }');
    return page.markets.items[0]?.updatedAt ?? 0; // 0 until its first write
  }

  async function feedsField(field: string): Promise<Record<string, unknown>> {
    const data = await queryData(app, `{ feeds { exchange ${field} } }`);
    return Object.fromEntries((data.feeds as Array<Record<string, unknown>>).map((f) => [f.exchange, f[field]]));
  }

  async function metric(name: string, exchange: string): Promise<number> {
    const text = await (await fetch(app.url().replace('/graphql', '/metrics'))).text();
    const match = new RegExp(`^${name}\\{exchange="${exchange}"\\} (\\d+)`, 'm').exec(text);
    return match ? Number(match[1]) : NaN;
  }

  /**
   * Runs `misbehave`, then checks that the healthy feed kept receiving and writing meanwhile,
   * and that the bad feed is LIVE again with a fresh state reaching Redis.
   */
  async function whileHealthyFeedRuns(misbehave: () => Promise<void>): Promise<void> {
    const messagesBefore = sim().messages;
    const newestBefore = await simNewest();
    await misbehave();
    await expect.poll(() => sim().messages, { timeout: 5000 }).toBeGreaterThan(messagesBefore);
    await expect.poll(simNewest, { timeout: 5000 }).toBeGreaterThan(newestBefore);
    await expect.poll(() => binance().status, { timeout: 10_000 }).toBe('LIVE');
    const price = pushBad();
    const id = `binance:${first().base}/${first().quote}`;
    await expect.poll(() => (pushBad(), storedPrice(id)), { timeout: 10_000, interval: 200 }).toBeGreaterThanOrEqual(price);
  }

  it('counts a dropped connection as a reconnect', async () => {
    await whileHealthyFeedRuns(async () => {
      bad.dropConnections();
      await expect.poll(() => binance().reconnects, { timeout: 10_000 }).toBe(1);
    });
    await expect.poll(() => feedsField('reconnects'), { timeout: 5000 }).toMatchObject({ binance: 1, sim: 0 });
    expect(await metric('tickql_feed_reconnects_total', 'binance')).toBe(1);
  });

  it('replaces a connection that stays open but goes silent, and counts it as a stall', async () => {
    const reconnects = binance().reconnects;
    await whileHealthyFeedRuns(async () => {
      bad.stall();
      await expect.poll(() => binance().stalls, { timeout: 10_000 }).toBe(1);
    });
    expect(binance().reconnects).toBe(reconnects + 1);
    expect(binance().lastError).toMatch(/no frame for/);
    await expect.poll(() => feedsField('stalls'), { timeout: 5000 }).toMatchObject({ binance: 1, sim: 0 });
    expect(await metric('tickql_feed_stalls_total', 'binance')).toBe(1);
  });

  it('drops garbage frames and counts them as invalid', async () => {
    const before = binance().invalidFrames;
    await whileHealthyFeedRuns(async () => {
      bad.sendRaw('garbage \u0000');
      bad.sendRaw(Buffer.from([1, 2, 3]));
      bad.sendRaw(JSON.stringify({ stream: `${first().symbol.toLowerCase()}@ticker`, data: { e: '24hrTicker', s: first().symbol, E: 1, c: 'NaN' } }));
      await expect.poll(() => binance().invalidFrames, { timeout: 5000 }).toBe(before + 3);
    });
    await expect.poll(() => feedsField('invalidFrames'), { timeout: 5000 }).toMatchObject({ binance: before + 3, sim: 0 });
    expect(await metric('tickql_feed_invalid_frames_total', 'binance')).toBe(before + 3);
  });

  it('counts error frames and shows the latest in lastError, keeping the connection', async () => {
    const reconnects = binance().reconnects;
    await whileHealthyFeedRuns(async () => {
      bad.sendRaw('{"code":2,"msg":"Invalid request: too many streams; at most 1024 per connection","id":7}');
      bad.sendRaw('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1","id":8}');
      await expect.poll(() => binance().errorFrames, { timeout: 5000 }).toBe(2);
    });
    expect(binance().reconnects).toBe(reconnects);
    await expect.poll(() => feedsField('errorFrames'), { timeout: 5000 }).toMatchObject({ binance: 2, sim: 0 });
    expect((await feedsField('lastError')).binance).toMatch(/Binance error 3: Invalid JSON/);
    expect(await metric('tickql_feed_error_frames_total', 'binance')).toBe(2);
  });

  it('reads a flood at the frame budget, pausing the socket, and still arrives at the latest state', async () => {
    const messagesBefore = binance().messages;
    const flood = 5 * BUDGET;
    let last = 0;
    await whileHealthyFeedRuns(async () => {
      for (let i = 0; i < flood; i++) last = pushBad();
      await expect.poll(() => binance().throttledSeconds, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      // Nothing dropped: every frame is read in the end, and the last one is what Redis holds.
      await expect.poll(() => binance().messages - messagesBefore, { timeout: 20_000 }).toBeGreaterThanOrEqual(flood);
      await expect.poll(() => storedPrice(`binance:${first().base}/${first().quote}`), { timeout: 10_000 }).toBe(last);
    });
    const throttled = binance().throttledSeconds;
    await expect.poll(() => feedsField('throttledSeconds'), { timeout: 5000 }).toMatchObject({ binance: throttled, sim: 0 });
    expect(await metric('tickql_feed_throttled_seconds_total', 'binance')).toBe(throttled);
  }, 60_000);

  it('left the healthy feed untouched throughout', () => {
    expect(sim()).toMatchObject({ status: 'LIVE', reconnects: 0, stalls: 0, invalidFrames: 0, errorFrames: 0, throttledSeconds: 0, errors: 0 });
  });
});
