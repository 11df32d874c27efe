import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, processCaps } from '../../src/config';
import { openFileLimit } from '../../src/file-limit';

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

  it('reads the listing settings: * is the whole listing, quotes upper-cased, refresh every 5 minutes by default', () => {
    const config = loadConfig({ OKX_SYMBOLS: ' * ', OKX_QUOTES: 'usdt, USDC,usdt', LISTING_REFRESH_MS: '60000' });
    expect(config.exchanges.okx).toEqual({ quotes: ['USDT', 'USDC'] });
    expect(config.listingRefreshMs).toBe(60_000);
    expect(loadConfig({}).listingRefreshMs).toBe(300_000);
    expect(loadConfig({ LISTING_REFRESH_MS: '0' }).listingRefreshMs).toBe(0);
  });

  it('reads the per-feed frame budget: 50,000 by default, 0 for none, a clear error otherwise', () => {
    expect(loadConfig({}).feedMaxFramesPerSecond).toBe(50_000);
    expect(loadConfig({ FEED_MAX_FRAMES_PER_S: '0' }).feedMaxFramesPerSecond).toBe(0);
    expect(() => loadConfig({ FEED_MAX_FRAMES_PER_S: '-5' })).toThrow('FEED_MAX_FRAMES_PER_S="-5" is not a whole number');
  });

  it('serves markets pages fresh by default; serving them from memory is opt-in', () => {
    expect(loadConfig({})).toMatchObject({ queryCacheMs: 0, queryCacheStaleMs: 0 });
    expect(loadConfig({ QUERY_CACHE_MS: '50', QUERY_CACHE_STALE_MS: '1000' })).toMatchObject({ queryCacheMs: 50, queryCacheStaleMs: 1000 });
    expect(() => loadConfig({ QUERY_CACHE_STALE_MS: '1000' })).toThrow('QUERY_CACHE_STALE_MS=1000 needs QUERY_CACHE_MS above 0');
  });

  it('reads the graphql-ws limits, with documented defaults', () => {
    expect(loadConfig({}).websocket).toEqual({
      maxMessageBytes: 65_536,
      connectionInitTimeoutMs: 3000,
      maxSubscriptions: 100,
      maxMessagesPerSecond: 500,
      maxBufferedBytes: 262_144,
      stuckClientMs: 30_000,
    });
    expect(
      loadConfig({
        WS_MAX_MESSAGE_BYTES: '4096',
        WS_CONNECTION_INIT_TIMEOUT_MS: '1000',
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '10',
        WS_MAX_MESSAGES_PER_SECOND: '20',
        WS_MAX_BUFFERED_BYTES: '65536',
        WS_STUCK_CLIENT_MS: '5000',
      }).websocket,
    ).toEqual({ maxMessageBytes: 4096, connectionInitTimeoutMs: 1000, maxSubscriptions: 10, maxMessagesPerSecond: 20, maxBufferedBytes: 65_536, stuckClientMs: 5000 });
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
    [{ BYBIT_QUOTES: 'USDT,US-D' }, /^BYBIT_QUOTES: "US-D" is not an asset code/],
    [{ LISTING_REFRESH_MS: '500' }, /^LISTING_REFRESH_MS=500 is below 1000/],
    [{ REDIS_PREFIX: 'a b' }, /^REDIS_PREFIX=.* may only contain/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud" is not one of/],
    [{ STALE_AFTER_MS: '0' }, /^STALE_AFTER_MS=0 is out of range/],
    [{ HOST: '  ' }, /^HOST is empty/],
    [{ API_KEYS: 'short' }, /^API_KEYS: key 1 is 5 characters long; use at least 16$/],
    [{ API_KEYS: 'key-a-0123456789abcdef,key b 0123456789abcdef' }, /^API_KEYS: key 2 contains a character other than printable ASCII$/],
    [{ RATE_LIMIT_QUERIES: '-1' }, /^RATE_LIMIT_QUERIES="-1" is not a whole number$/],
    [{ TRUST_PROXY: '11' }, /^TRUST_PROXY=11 is out of range 0\.\.10$/],
    [{ MAX_CONNECTIONS_PER_ADDRESS: 'many' }, /^MAX_CONNECTIONS_PER_ADDRESS="many" is not a whole number$/],
    [{ HTTP_HEADERS_TIMEOUT_MS: '60000' }, /^HTTP_HEADERS_TIMEOUT_MS=60000 is longer than HTTP_REQUEST_TIMEOUT_MS=30000$/],
    [{ WS_STUCK_CLIENT_MS: '50' }, /^WS_STUCK_CLIENT_MS=50 is out of range 100\.\./],
    [{ WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '0' }, /^WS_MAX_SUBSCRIPTIONS_PER_CONNECTION=0 is out of range/],
    [{ WS_MAX_MESSAGES_PER_SECOND: 'many' }, /^WS_MAX_MESSAGES_PER_SECOND="many" is not a whole number$/],
    [{ WS_MAX_MESSAGE_BYTES: '10' }, /^WS_MAX_MESSAGE_BYTES=10 is out of range/],
    [{ TRUST_PROXY: 'loopback,proxy.internal' }, /^TRUST_PROXY: "proxy.internal" is not a number of proxies, an IP address, a CIDR range or one of loopback, linklocal, uniquelocal$/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^TRUST_PROXY: "10.0.0.0\/33" is not a number of proxies/],
    [{ TRUST_PROXY: '127.1' }, /^TRUST_PROXY: "127.1" is not a number of proxies/],
    [{ TRUST_PROXY: '0.0.0.0/0' }, /^TRUST_PROXY: invalid range on address: 0\.0\.0\.0\/0$/],
    [{ TRUST_PROXY: '-1' }, /^TRUST_PROXY: "-1" is not a number of proxies/],
    [{ TRUST_PROXY: ' , ' }, /^TRUST_PROXY is empty/],
    [{ CORS_ORIGINS: 'https://app.example.com/' }, /^CORS_ORIGINS: "https:\/\/app.example.com\/" is not an origin like https:\/\/app.example.com/],
    [{ CORS_ORIGINS: 'app.example.com' }, /^CORS_ORIGINS: "app.example.com" is not an origin/],
    [{ CORS_ORIGINS: 'https://App.example.com' }, /^CORS_ORIGINS: "https:\/\/App.example.com" is not an origin/],
    [{ CORS_ORIGINS: 'https://a.example,*' }, /^CORS_ORIGINS: "\*" is not an origin/],
    [{ CORS_ORIGINS: ' , ' }, /^CORS_ORIGINS is empty/],
    [{ HTTP_COMPRESSION_MIN_BYTES: 'big' }, /^HTTP_COMPRESSION_MIN_BYTES="big" is not a whole number$/],
  ])('rejects %o with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('has the per-address limits off by default, like API keys, and reads each limit', () => {
    expect(loadConfig({}, 20_000).access).toEqual({
      apiKeys: [],
      trustProxy: 0,
      queriesPerSecond: 0,
      queryBurst: 200,
      subscriptionsPerSecond: 0,
      subscriptionBurst: 100,
      maxConnectionsPerAddress: 0,
      maxConnections: 10_000,
      maxSockets: 19_744,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
    });
    const access = loadConfig({ API_KEYS: ' key-a-0123456789abcdef,, key-b-fedcba9876543210 ,key-a-0123456789abcdef', RATE_LIMIT_QUERIES: '50', TRUST_PROXY: '1', HTTP_MAX_SOCKETS: '5000', MAX_CONNECTIONS: '0' }).access;
    expect(access.apiKeys).toEqual(['key-a-0123456789abcdef', 'key-b-fedcba9876543210']);
    expect(access).toMatchObject({ queriesPerSecond: 50, trustProxy: 1, maxSockets: 5000, maxConnections: 0 });
    expect(loadConfig({ API_KEYS: '' }).access.apiKeys).toEqual([]);
  });

  it('sizes the socket and connection caps from the open-file limit', () => {
    // A quarter of the files, at most 256, stay for Redis, the exchanges and the process itself;
    // long-lived connections may take nine tenths of the sockets, at most 10,000.
    expect(processCaps(1024)).toEqual({ maxSockets: 768, maxConnections: 691 });
    expect(processCaps(256)).toEqual({ maxSockets: 192, maxConnections: 172 });
    expect(processCaps(65_536)).toEqual({ maxSockets: 65_280, maxConnections: 10_000 });
    expect(processCaps(Infinity)).toEqual({ maxSockets: 0, maxConnections: 10_000 });
    expect(loadConfig({}, 1024).access).toMatchObject({ maxSockets: 768, maxConnections: 691 });
    // The machine's own limit when none is given.
    expect(loadConfig({}).access.maxSockets).toBe(processCaps(openFileLimit()).maxSockets);
  });

  it('reads TRUST_PROXY as a number of proxies or a list of their addresses and ranges', () => {
    expect(loadConfig({ TRUST_PROXY: ' 2 ' }).access.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,2001:db8::/32 ,192.0.2.1,::1,loopback' }).access.trustProxy).toEqual(['loopback', '10.0.0.0/8', '2001:db8::/32', '192.0.2.1', '::1']);
  });

  it('reads the GraphQL limits: a 50-alias watchlist fits by default', () => {
    expect(loadConfig({}).graphql).toMatchObject({ maxDepth: 8, maxAliases: 50, maxCost: 5000, maxTokens: 3000 });
  });

  it('reads the HTTP options: every origin and compression from 1 KB by default', () => {
    expect(loadConfig({}).http).toEqual({ corsOrigins: [], compressionMinBytes: 1024 });
    expect(loadConfig({ CORS_ORIGINS: '*' }).http.corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:3000,https://app.example.com', HTTP_COMPRESSION_MIN_BYTES: '0' }).http).toEqual({
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      compressionMinBytes: 0,
    });
  });
});
