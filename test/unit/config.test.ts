import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      redisUrl: null,
      redisPrefix: 'tickql',
      feeds: ['binance', 'coinbase', 'kraken', 'okx', 'bybit'],
      staleAfterMs: 30_000,
      logLevel: 'info',
    });
    expect(config.exchanges.binance).toEqual({});
  });

  it('reads feeds, overrides and symbols', () => {
    const config = loadConfig({
      FEEDS: ' sim , Binance,sim',
      BINANCE_WS_URL: 'ws://127.0.0.1:9001/stream',
      BINANCE_REST_URL: 'http://127.0.0.1:9001/',
      KRAKEN_SYMBOLS: 'BTC/USD, ETH/USD,,BTC/USD',
    });
    expect(config.feeds).toEqual(['sim', 'binance']);
    expect(config.exchanges.binance).toEqual({ wsUrl: 'ws://127.0.0.1:9001/stream', restUrl: 'http://127.0.0.1:9001' });
    expect(config.exchanges.kraken.symbols).toEqual(['BTC/USD', 'ETH/USD']);
  });

  it('reads the per-feed frame budget: 50,000 by default, 0 for none, a clear error otherwise', () => {
    expect(loadConfig({}).feedMaxFramesPerSecond).toBe(50_000);
    expect(loadConfig({ FEED_MAX_FRAMES_PER_S: '0' }).feedMaxFramesPerSecond).toBe(0);
    expect(() => loadConfig({ FEED_MAX_FRAMES_PER_S: '-5' })).toThrow('FEED_MAX_FRAMES_PER_S="-5" is not a whole number');
  });

  it('treats an empty FEEDS as serve-only', () => {
    expect(loadConfig({ FEEDS: '' }).feeds).toEqual([]);
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT="abc" is not a whole number$/],
    [{ PORT: '70000' }, /^PORT=70000 is out of range 0\.\.65535$/],
    [{ FEEDS: 'binance,nasdaq' }, /^FEEDS contains unknown feed "nasdaq"/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL=.* must start with redis:\/\/ or rediss:\/\/$/],
    [{ REDIS_URL: 'not a url' }, /^REDIS_URL=.* is not a URL$/],
    [{ OKX_WS_URL: 'https://ws.okx.com' }, /^OKX_WS_URL=.* must start with ws:\/\/ or wss:\/\/$/],
    [{ BYBIT_SYMBOLS: ' , ' }, /^BYBIT_SYMBOLS is empty/],
    [{ REDIS_PREFIX: 'a b' }, /^REDIS_PREFIX=.* may only contain/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud" is not one of/],
    [{ STALE_AFTER_MS: '0' }, /^STALE_AFTER_MS=0 is out of range/],
    [{ HOST: '  ' }, /^HOST is empty/],
  ])('rejects %o with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
