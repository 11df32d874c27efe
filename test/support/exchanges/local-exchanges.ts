/**
 * The five local exchanges, each listing the same number of synthetic markets, running in a
 * child process (./local-exchanges-child.ts) so that they read our frames on an event loop of
 * their own, as real exchanges do.
 */
import { join } from 'node:path';
import { startIpcChild, type IpcChild } from '../../../bench/lib/ipc-child';
import type { LocalMarket } from '../../../src/ingest/sim/listing';
import type { Breach, ListingEntry } from '../../../src/ingest/sim/local-exchange-server';

export type ExchangeName = 'binance' | 'coinbase' | 'kraken' | 'okx' | 'bybit';

export interface LocalExchangesOptions {
  /** Markets each exchange lists. Default 100. */
  readonly listing?: number;
  /** Ticker updates per second each exchange sends over its subscribed markets; default none. */
  readonly updatesPerSecond?: number;
}

export interface LocalExchanges {
  readonly urls: Readonly<Record<ExchangeName, { readonly wsUrl: string; readonly restUrl: string }>>;
  /** `<EXCHANGE>_WS_URL` and `<EXCHANGE>_REST_URL` for all five. */
  readonly env: Readonly<Record<string, string>>;
  listing(exchange: ExchangeName): Promise<readonly LocalMarket[]>;
  list(exchange: ExchangeName, entry: ListingEntry): Promise<void>;
  delist(exchange: ExchangeName, symbol: string): Promise<void>;
  breaches(): Promise<Record<ExchangeName, readonly Breach[]>>;
  connections(): Promise<Record<ExchangeName, number>>;
  stop(): Promise<void>;
}

export async function startLocalExchanges(options: LocalExchangesOptions = {}): Promise<LocalExchanges> {
  const child: IpcChild = await startIpcChild(join('test', 'support', 'exchanges', 'local-exchanges-child.ts'), { LOCAL_EXCHANGES: JSON.stringify(options) });
  const urls = await child.request<LocalExchanges['urls']>('urls');
  const env: Record<string, string> = {};
  for (const [name, url] of Object.entries(urls)) {
    env[`${name.toUpperCase()}_WS_URL`] = url.wsUrl;
    env[`${name.toUpperCase()}_REST_URL`] = url.restUrl;
  }
  return {
    urls,
    env,
    listing: (exchange) => child.request('listing', { exchange }),
    list: (exchange, entry) => child.request('list', { exchange, entry }),
    delist: (exchange, symbol) => child.request('delist', { exchange, symbol }),
    breaches: () => child.request('breaches'),
    connections: () => child.request('connections'),
    stop: async () => {
      await child.request('close').catch(() => {});
      await child.stop();
    },
  };
}
