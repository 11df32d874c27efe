/**
 * The default FEEDS, all five exchanges at once, each against a local server speaking its own
 * protocol, through tickql as `npm start` runs it (its ingest process and several serving
 * processes: test/support/tickql-process.ts) into one normalized market table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { BybitServer } from '../support/exchanges/bybit-server';
import { CoinbaseServer } from '../support/exchanges/coinbase-server';
import { KrakenServer } from '../support/exchanges/kraken-server';
import { OkxServer } from '../support/exchanges/okx-server';
import { deletePrefix, openTestRedis, type TestRedis } from '../support/redis';
import { queryData } from '../support/post-query';
import { startListeningTickql, waitForLiveFeeds, type TickqlProcess } from '../support/tickql-process';

describe('the default feeds, all five exchanges', () => {
  let t: TestRedis;
  let app: TickqlProcess;
  let binance: BinanceSim;
  let coinbase: CoinbaseServer;
  let kraken: KrakenServer;
  let okx: OkxServer;
  let bybit: BybitServer;

  beforeAll(async () => {
    t = await openTestRedis();
    [binance, coinbase, kraken, okx, bybit] = await Promise.all([
      BinanceSim.start({ markets: 20, tickMs: 0, pingIntervalMs: 0 }),
      CoinbaseServer.start(),
      KrakenServer.start(),
      OkxServer.start(),
      BybitServer.start(),
    ]);
    app = await startListeningTickql({
      REDIS_URL: t.url,
      REDIS_PREFIX: t.prefix,
      INGEST_BATCH_MS: '5',
      // FEEDS unset: the default, all five.
      BINANCE_WS_URL: binance.wsUrl,
      BINANCE_REST_URL: binance.restUrl,
      BINANCE_SYMBOLS: 'BTCUSDT',
      COINBASE_WS_URL: coinbase.wsUrl,
      COINBASE_REST_URL: coinbase.restUrl,
      COINBASE_SYMBOLS: 'BTC-USD',
      KRAKEN_WS_URL: kraken.wsUrl,
      KRAKEN_REST_URL: kraken.restUrl,
      KRAKEN_SYMBOLS: 'BTC/USD',
      OKX_WS_URL: okx.wsUrl,
      OKX_REST_URL: okx.restUrl,
      OKX_SYMBOLS: 'BTC-USDT',
      BYBIT_WS_URL: bybit.wsUrl,
      BYBIT_REST_URL: bybit.restUrl,
      BYBIT_SYMBOLS: 'BTCUSDT',
    });
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await Promise.all([binance, coinbase, kraken, okx, bybit].map((s) => s?.close()));
    await deletePrefix(t.redis, t.prefix);
    await t.close();
  });

  it('ingests every exchange into one table that sorts and filters across them', async () => {
    await waitForLiveFeeds(app, ['binance', 'coinbase', 'kraken', 'okx', 'bybit']);

    const push = () => {
      binance.push('BTCUSDT', { c: '100.5', b: '100.4', a: '100.6' });
      coinbase.push('BTC-USD', { price: '101.5', best_bid: '101.4', best_ask: '101.6' });
      kraken.push('BTC/USD', { last: 102.5, bid: 102.4, ask: 102.6, change: 2.5, change_pct: 2.5, high: 103, low: 99 });
      okx.push('BTC-USDT', { last: '103.5', bidPx: '103.4', askPx: '103.6' });
      bybit.push('BTCUSDT', { lastPrice: '104.5' });
      bybit.pushBook('BTCUSDT', { bids: [['104.4', '1']], asks: [['104.6', '2']] });
    };
    const query = '{ markets(filter: { bases: ["btc"] }, sort: { field: PRICE, direction: ASC }) { total items { id exchange symbol base quote price bid ask stale } } }';
    await expect
      .poll(
        async () => {
          push();
          return (await queryData(app, query)).markets.items.map((m: { price: number }) => m.price);
        },
        { timeout: 10_000, interval: 100 },
      )
      .toEqual([100.5, 101.5, 102.5, 103.5, 104.5]);

    const { markets } = await queryData(app, query);
    expect(markets.total).toBe(5);
    expect(markets.items).toEqual([
      { id: 'binance:BTC/USDT', exchange: 'binance', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', price: 100.5, bid: 100.4, ask: 100.6, stale: false },
      { id: 'coinbase:BTC/USD', exchange: 'coinbase', symbol: 'BTC/USD', base: 'BTC', quote: 'USD', price: 101.5, bid: 101.4, ask: 101.6, stale: false },
      { id: 'kraken:BTC/USD', exchange: 'kraken', symbol: 'BTC/USD', base: 'BTC', quote: 'USD', price: 102.5, bid: 102.4, ask: 102.6, stale: false },
      { id: 'okx:BTC/USDT', exchange: 'okx', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', price: 103.5, bid: 103.4, ask: 103.6, stale: false },
      { id: 'bybit:BTC/USDT', exchange: 'bybit', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', price: 104.5, bid: 104.4, ask: 104.6, stale: false },
    ]);

    const usdt = await queryData(app, '{ markets(filter: { quotes: ["USDT"], search: "btc" }) { total } }');
    expect(usdt.markets.total).toBe(3);

    const feeds = await queryData(app, '{ feeds { exchange status markets } }');
    expect(feeds.feeds).toEqual(
      ['binance', 'bybit', 'coinbase', 'kraken', 'okx'].map((exchange) => ({ exchange, status: 'LIVE', markets: 1 })),
    );
  });
});
