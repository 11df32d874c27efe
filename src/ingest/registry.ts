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
import type { SymbolChoice } from './listing';
import { BINANCE_DEFAULT_SYMBOLS, BINANCE_REST_URL, BINANCE_WS_URL, createBinanceAdapter } from './exchanges/binance';
import { BYBIT_DEFAULT_SYMBOLS, BYBIT_REST_URL, BYBIT_WS_URL, createBybitAdapter } from './exchanges/bybit';
import { COINBASE_DEFAULT_SYMBOLS, COINBASE_REST_URL, COINBASE_WS_URL, createCoinbaseAdapter } from './exchanges/coinbase';
import { KRAKEN_DEFAULT_SYMBOLS, KRAKEN_REST_URL, KRAKEN_WS_URL, createKrakenAdapter } from './exchanges/kraken';
import { OKX_DEFAULT_SYMBOLS, OKX_REST_URL, OKX_WS_URL, createOkxAdapter } from './exchanges/okx';
import type { SimEndpoint } from './sim/binance-sim';

export type AdapterFactory = (options: AdapterOptions) => ExchangeAdapter;

/** A real exchange's public endpoints, and the major pairs subscribed while its listing cannot be read. */
export interface ExchangeDefaults {
  readonly wsUrl: string;
  readonly restUrl: string | null;
  readonly fallbackSymbols: readonly string[];
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
  binance: { wsUrl: BINANCE_WS_URL, restUrl: BINANCE_REST_URL, fallbackSymbols: BINANCE_DEFAULT_SYMBOLS },
  coinbase: { wsUrl: COINBASE_WS_URL, restUrl: COINBASE_REST_URL, fallbackSymbols: COINBASE_DEFAULT_SYMBOLS },
  kraken: { wsUrl: KRAKEN_WS_URL, restUrl: KRAKEN_REST_URL, fallbackSymbols: KRAKEN_DEFAULT_SYMBOLS },
  okx: { wsUrl: OKX_WS_URL, restUrl: OKX_REST_URL, fallbackSymbols: OKX_DEFAULT_SYMBOLS },
  bybit: { wsUrl: BYBIT_WS_URL, restUrl: BYBIT_REST_URL, fallbackSymbols: BYBIT_DEFAULT_SYMBOLS },
};

export function exchangeDefaults(id: ExchangeId): ExchangeDefaults {
  return DEFAULTS[id];
}

/**
 * Options for one feed's adapter: the exchange's real endpoints, overridden by
 * `<EXCHANGE>_WS_URL` and `<EXCHANGE>_REST_URL`. `sim` has no public endpoint: pass the
 * running simulator (`startSimExchange()`).
 */
export function adapterOptions(config: Config, id: FeedId, sim?: SimEndpoint | null): AdapterOptions {
  if (id === 'sim') {
    if (!sim) throw new Error('the sim feed needs a running simulator: pass the one startSimExchange() returned');
    return { exchange: 'sim', wsUrl: sim.wsUrl, restUrl: sim.restUrl };
  }
  const defaults = DEFAULTS[id];
  const overrides = config.exchanges[id];
  return {
    exchange: id,
    wsUrl: overrides.wsUrl ?? defaults.wsUrl,
    restUrl: overrides.restUrl ?? defaults.restUrl,
  };
}

/**
 * What one feed subscribes: `<EXCHANGE>_SYMBOLS` when it lists symbols, else the exchange's
 * whole listing narrowed by `<EXCHANGE>_QUOTES`, with the built-in major pairs as the fallback
 * while the listing cannot be read. `sim` subscribes its simulator's whole listing.
 */
export function symbolChoice(config: Config, id: FeedId): SymbolChoice {
  if (id === 'sim') return { kind: 'listing', quotes: null, fallback: [] };
  const overrides = config.exchanges[id];
  if (overrides.symbols !== undefined) return { kind: 'configured', symbols: overrides.symbols };
  return { kind: 'listing', quotes: overrides.quotes ?? null, fallback: DEFAULTS[id].fallbackSymbols };
}

export function createAdapter(id: FeedId, options: AdapterOptions): ExchangeAdapter {
  return FACTORIES[id](options);
}
