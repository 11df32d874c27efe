/**
 * Which adapter reads each feed, and the options each one starts with. An explicit map, not
 * directory scanning: adding an exchange is one module in `exchanges/` plus one line in each
 * table below, and the compiler refuses a feed id without both.
 *
 * `sim` is the local simulator (`sim/`), which speaks Binance's protocol and so is read by the
 * Binance adapter.
 */
import type { Config, ExchangeId, FeedId } from '../config';
import type { AdapterOptions, ExchangeAdapter } from './adapter';
import { BINANCE_DEFAULT_SYMBOLS, BINANCE_REST_URL, BINANCE_WS_URL, createBinanceAdapter } from './exchanges/binance';
import { BYBIT_DEFAULT_SYMBOLS, BYBIT_REST_URL, BYBIT_WS_URL, createBybitAdapter } from './exchanges/bybit';
import { COINBASE_DEFAULT_SYMBOLS, COINBASE_REST_URL, COINBASE_WS_URL, createCoinbaseAdapter } from './exchanges/coinbase';
import { KRAKEN_DEFAULT_SYMBOLS, KRAKEN_REST_URL, KRAKEN_WS_URL, createKrakenAdapter } from './exchanges/kraken';
import { OKX_DEFAULT_SYMBOLS, OKX_REST_URL, OKX_WS_URL, createOkxAdapter } from './exchanges/okx';
import type { SimEndpoint } from './sim/binance-sim';

export type AdapterFactory = (options: AdapterOptions) => ExchangeAdapter;

/** A real exchange's public endpoints and built-in symbol list. */
export interface ExchangeDefaults {
  readonly wsUrl: string;
  readonly restUrl: string | null;
  readonly symbols: readonly string[];
}

const FACTORIES: { readonly [id in FeedId]: AdapterFactory } = {
  binance: (options) => createBinanceAdapter(options),
  coinbase: (options) => createCoinbaseAdapter(options),
  kraken: (options) => createKrakenAdapter(options),
  okx: (options) => createOkxAdapter(options),
  bybit: (options) => createBybitAdapter(options),
  sim: (options) => createBinanceAdapter(options),
};

const DEFAULTS: { readonly [id in ExchangeId]: ExchangeDefaults } = {
  binance: { wsUrl: BINANCE_WS_URL, restUrl: BINANCE_REST_URL, symbols: BINANCE_DEFAULT_SYMBOLS },
  coinbase: { wsUrl: COINBASE_WS_URL, restUrl: COINBASE_REST_URL, symbols: COINBASE_DEFAULT_SYMBOLS },
  kraken: { wsUrl: KRAKEN_WS_URL, restUrl: KRAKEN_REST_URL, symbols: KRAKEN_DEFAULT_SYMBOLS },
  okx: { wsUrl: OKX_WS_URL, restUrl: OKX_REST_URL, symbols: OKX_DEFAULT_SYMBOLS },
  bybit: { wsUrl: BYBIT_WS_URL, restUrl: BYBIT_REST_URL, symbols: BYBIT_DEFAULT_SYMBOLS },
};

export function exchangeDefaults(id: ExchangeId): ExchangeDefaults {
  return DEFAULTS[id];
}

/**
 * Options for one feed: the exchange's real endpoints and built-in symbols, overridden by
 * `<EXCHANGE>_WS_URL`, `<EXCHANGE>_REST_URL` and `<EXCHANGE>_SYMBOLS` from the config.
 * `sim` has no public endpoint: pass the running simulator (`startSimExchange()`); all its
 * symbols are subscribed, up to what one connection carries.
 */
export function adapterOptions(config: Config, id: FeedId, sim?: SimEndpoint | null): AdapterOptions {
  if (id === 'sim') {
    if (!sim) throw new Error('the sim feed needs a running simulator: pass the one startSimExchange() returned');
    return { exchange: 'sim', wsUrl: sim.wsUrl, restUrl: sim.restUrl, symbols: sim.symbols.map((s) => s.symbol) };
  }
  const defaults = DEFAULTS[id];
  const overrides = config.exchanges[id];
  return {
    exchange: id,
    wsUrl: overrides.wsUrl ?? defaults.wsUrl,
    restUrl: overrides.restUrl ?? defaults.restUrl,
    symbols: overrides.symbols ?? defaults.symbols,
  };
}

export function createAdapter(id: FeedId, options: AdapterOptions): ExchangeAdapter {
  return FACTORIES[id](options);
}
