import { describe, expect, it } from 'vitest';
import { EXCHANGES, loadConfig } from '../../src/config';
import { adapterOptions, createAdapter, exchangeDefaults, symbolChoice } from '../../src/ingest/registry';
import { simSymbols } from '../../src/ingest/sim/binance-sim';

const PUBLIC_ENDPOINTS = {
  binance: 'wss://stream.binance.com:9443/stream',
  coinbase: 'wss://advanced-trade-ws.coinbase.com',
  kraken: 'wss://ws.kraken.com/v2',
  okx: 'wss://ws.okx.com:8443/ws/v5/public',
  bybit: 'wss://stream.bybit.com/v5/public/spot',
} as const;

describe('feed registry', () => {
  it.each(EXCHANGES)('starts %s on its public endpoints, subscribing its whole listing', (id) => {
    const config = loadConfig({});
    const options = adapterOptions(config, id);
    expect(options.wsUrl).toBe(PUBLIC_ENDPOINTS[id]);
    expect(options.restUrl).toMatch(/^https:\/\//);
    const { fallbackSymbols, ...endpoints } = exchangeDefaults(id);
    expect(options).toEqual({ exchange: id, ...endpoints });
    expect(fallbackSymbols.length).toBeGreaterThanOrEqual(20);
    expect(symbolChoice(config, id)).toEqual({ kind: 'listing', quotes: null, fallback: fallbackSymbols });
    const adapter = createAdapter(id, options);
    expect(adapter.exchange).toBe(id);
    expect(adapter.wsUrl).toBe(PUBLIC_ENDPOINTS[id]);
  });

  it.each(EXCHANGES)('applies the %s overrides from the environment', (id) => {
    const prefix = id.toUpperCase();
    const config = loadConfig({ [`${prefix}_WS_URL`]: 'ws://127.0.0.1:9001/ws', [`${prefix}_REST_URL`]: 'http://127.0.0.1:9001/', [`${prefix}_SYMBOLS`]: 'A-B, C-D' });
    expect(adapterOptions(config, id)).toEqual({ exchange: id, wsUrl: 'ws://127.0.0.1:9001/ws', restUrl: 'http://127.0.0.1:9001' });
    expect(symbolChoice(config, id)).toEqual({ kind: 'configured', symbols: ['A-B', 'C-D'] });
  });

  it.each(EXCHANGES)('narrows the %s listing to <EXCHANGE>_QUOTES; * means the whole listing', (id) => {
    const prefix = id.toUpperCase();
    const config = loadConfig({ [`${prefix}_SYMBOLS`]: '*', [`${prefix}_QUOTES`]: 'usdt, USD' });
    expect(symbolChoice(config, id)).toEqual({ kind: 'listing', quotes: ['USDT', 'USD'], fallback: exchangeDefaults(id).fallbackSymbols });
  });

  it('points the sim feed at the running simulator and subscribes everything it lists', () => {
    const sim = { wsUrl: 'ws://127.0.0.1:5/stream', restUrl: 'http://127.0.0.1:5', symbols: simSymbols(3) };
    const config = loadConfig({ FEEDS: 'sim' });
    const options = adapterOptions(config, 'sim', sim);
    expect(options).toEqual({ exchange: 'sim', wsUrl: sim.wsUrl, restUrl: sim.restUrl });
    expect(symbolChoice(config, 'sim')).toEqual({ kind: 'listing', quotes: null, fallback: [] });
    expect(createAdapter('sim', options).exchange).toBe('sim');
  });

  it('refuses the sim feed without a simulator', () => {
    expect(() => adapterOptions(loadConfig({}), 'sim', null)).toThrow(/needs a running simulator/);
  });
});
