/**
 * The five local exchanges in a process of their own, steered over IPC
 * (`startLocalExchanges` in ./local-exchanges.ts). A real exchange counts our connections and
 * messages on its own machine; in the test's process a busy event loop would read frames late
 * and in bunches, and blame the client for its own lag.
 *
 * Options come in LOCAL_EXCHANGES (JSON of `LocalExchangesOptions`).
 */
import { serveRequests } from '../../../bench/lib/ipc-child';
import { BinanceSim } from '../../../src/ingest/sim/binance-sim';
import type { LocalClient, LocalExchangeServer, ListingEntry } from '../../../src/ingest/sim/local-exchange-server';
import { BybitServer } from './bybit-server';
import { CoinbaseServer } from './coinbase-server';
import { KrakenServer } from './kraken-server';
import { OkxServer } from './okx-server';
import type { ExchangeName, LocalExchangesOptions } from './local-exchanges';

const options = JSON.parse(process.env.LOCAL_EXCHANGES ?? '{}') as LocalExchangesOptions;
const listing = options.listing ?? 100;
const servers: Record<ExchangeName, LocalExchangeServer<LocalClient>> = {
  binance: (await BinanceSim.start({ listing, tickMs: 0, pingIntervalMs: 0, snapshotOnSubscribe: true })) as unknown as LocalExchangeServer<LocalClient>,
  coinbase: (await CoinbaseServer.start({ listing })) as unknown as LocalExchangeServer<LocalClient>,
  kraken: (await KrakenServer.start({ listing })) as unknown as LocalExchangeServer<LocalClient>,
  okx: (await OkxServer.start({ listing, snapshotOnSubscribe: true })) as unknown as LocalExchangeServer<LocalClient>,
  bybit: (await BybitServer.start({ listing, snapshotOnSubscribe: true })) as unknown as LocalExchangeServer<LocalClient>,
};
if (options.updatesPerSecond) for (const server of Object.values(servers)) server.startTicking({ updatesPerSecond: options.updatesPerSecond });

const urls = Object.fromEntries(
  Object.entries(servers).map(([name, server]) => [name, { wsUrl: (server as unknown as { wsUrl: string }).wsUrl, restUrl: server.restUrl }]),
);

serveRequests({
  urls: () => urls,
  listing: ({ exchange }: { exchange: ExchangeName }) => servers[exchange].listing,
  list: ({ exchange, entry }: { exchange: ExchangeName; entry: ListingEntry }) => servers[exchange].list(entry),
  delist: ({ exchange, symbol }: { exchange: ExchangeName; symbol: string }) => servers[exchange].delist(symbol),
  breaches: () => Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, server.breaches])),
  connections: () => Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, server.connections])),
  close: () => Promise.all(Object.values(servers).map((server) => server.close())),
});
