import { describe, expect, it } from 'vitest';
import { EXCHANGES, loadConfig } from '../../src/config';
import { adapterOptions, createAdapter, exchangeDefaults } from '../../src/ingest/registry';
import { simSymbols } from '../../src/ingest/sim/binance-sim';

const PUBLIC_ENDPOINTS = {
  binance: 'wss://stream.binance.com:9443/stream',
  coinbase: 'wss://advanced-trade-ws.coinbase.com',
  kraken: 'wss://ws.kraken.com/v2',
  okx: 'wss://ws.okx.com:8443/ws/v5/public',
  bybit: 'wss://stream.bybit.com/v5/public/spot',
} as const;

describe('feed registry', () => {
  it.each(EXCHANGES)('starts %s on its public endpoint with its built-in symbols', (id) => {
    const options = adapterOptions(loadConfig({}), id);
    expect(options.wsUrl).toBe(PUBLIC_ENDPOINTS[id]);
    expect(options.restUrl).toMatch(/^https:\/\//);
    expect(options.symbols.length).toBeGreaterThanOrEqual(20);
    expect(options).toEqual({ exchange: id, ...exchangeDefaults(id) });
    const adapter = createAdapter(id, options);
    expect(adapter.exchange).toBe(id);
    expect(adapter.wsUrl).toBe(PUBLIC_ENDPOINTS[id]);
  });

  it.each(EXCHANGES)('applies the %s overrides from the environment', (id) => {
    const prefix = id.toUpperCase();
    const config = loadConfig({ [`${prefix}_WS_URL`]: 'ws://127.0.0.1:9001/ws', [`${prefix}_REST_URL`]: 'http://127.0.0.1:9001/', [`${prefix}_SYMBOLS`]: 'A-B, C-D' });
    expect(adapterOptions(config, id)).toEqual({ exchange: id, wsUrl: 'ws://127.0.0.1:9001/ws', restUrl: 'http://127.0.0.1:9001', symbols: ['A-B', 'C-D'] });
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
});
