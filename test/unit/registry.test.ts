import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { BINANCE_DEFAULT_SYMBOLS, BINANCE_REST_URL, BINANCE_WS_URL } from '../../src/ingest/exchanges/binance';
import { FeedNotImplementedError, adapterOptions, createAdapter, implementedFeeds, isImplemented } from '../../src/ingest/registry';
import { simSymbols } from '../../src/ingest/sim/binance-sim';

describe('feed registry', () => {
  it('lists the feeds that have an adapter', () => {
    expect(implementedFeeds).toEqual(['binance', 'bybit', 'kraken', 'okx', 'sim']);
    expect(isImplemented('binance')).toBe(true);
    expect(isImplemented('coinbase')).toBe(false);
  });

  it("starts Binance on its public endpoints and built-in symbols", () => {
    expect(adapterOptions(loadConfig({}), 'binance')).toEqual({
      exchange: 'binance',
      wsUrl: BINANCE_WS_URL,
      restUrl: BINANCE_REST_URL,
      symbols: BINANCE_DEFAULT_SYMBOLS,
    });
    expect(BINANCE_WS_URL).toBe('wss://stream.binance.com:9443/stream');
    expect(BINANCE_DEFAULT_SYMBOLS.length).toBeGreaterThanOrEqual(30);
  });

  it('applies the BINANCE_* overrides from the environment', () => {
    const config = loadConfig({ BINANCE_WS_URL: 'ws://127.0.0.1:9001/ws', BINANCE_REST_URL: 'http://127.0.0.1:9001/', BINANCE_SYMBOLS: 'BTCUSDT, ETHBTC' });
    expect(adapterOptions(config, 'binance')).toEqual({
      exchange: 'binance',
      wsUrl: 'ws://127.0.0.1:9001/ws',
      restUrl: 'http://127.0.0.1:9001',
      symbols: ['BTCUSDT', 'ETHBTC'],
    });
  });

  it('points the sim feed at the running simulator and subscribes everything it lists', () => {
    const sim = { wsUrl: 'ws://127.0.0.1:5/stream', restUrl: 'http://127.0.0.1:5', symbols: simSymbols(3) };
    const options = adapterOptions(loadConfig({ FEEDS: 'sim' }), 'sim', sim);
    expect(options).toEqual({ exchange: 'sim', wsUrl: sim.wsUrl, restUrl: sim.restUrl, symbols: ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'] });
    expect(createAdapter('sim', options).exchange).toBe('sim');
  });

  it('refuses the sim feed without a simulator', () => {
    expect(() => adapterOptions(loadConfig({}), 'sim', null)).toThrow(/needs a running simulator/);
  });

  it('says clearly that an exchange without a module is not implemented yet', () => {
    const config = loadConfig({});
    expect(() => adapterOptions(config, 'coinbase')).toThrow(FeedNotImplementedError);
    expect(() => createAdapter('coinbase', { exchange: 'coinbase', wsUrl: 'wss://x', restUrl: null, symbols: [] })).toThrow(
      'feed "coinbase" is not implemented yet (implemented: binance, bybit, kraken, okx, sim)',
    );
  });
});
