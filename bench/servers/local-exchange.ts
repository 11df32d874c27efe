/**
 * Bench child (started with `startIpcChild`): one local exchange server, in a process of its
 * own so that its CPU is its own and not tickql's. Which one, and its listing, from:
 *
 *   EXCHANGE       binance | coinbase | kraken | okx | bybit: `BinanceSim`
 *                  (src/ingest/sim/binance-sim.ts) or the server in test/support/exchanges/
 *   LISTING_SIZE   markets listed, all trading: the exchange's built-in pairs
 *                  (`<EXCHANGE>_DEFAULT_SYMBOLS`) first, then synthetic markets (`listing.ts`,
 *                  the shared generator) up to this many; at least the built-in pairs
 *
 * Binance, OKX and Bybit start with `snapshotOnSubscribe`, so every market sends data as soon as
 * it is subscribed (Coinbase and Kraken send a snapshot on subscribe anyway); BinanceSim's own
 * once-a-second ticking is off (`tickMs: 0`): only `tick` moves markets.
 *
 * Requests: `info` -> `LocalExchangeInfo`; `tick { updatesPerSecond }` -> starts the server's
 * ticking generator at that total rate (random subscribed markets); `stats` ->
 * `LocalExchangeStats` (connections, ticks, every limit breach). The child exits when the
 * parent disconnects.
 */
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import type { LocalMarket } from '../../src/ingest/sim/listing';
import type { Breach } from '../../src/ingest/sim/local-exchange-server';
import { BybitServer } from '../../test/support/exchanges/bybit-server';
import { CoinbaseServer } from '../../test/support/exchanges/coinbase-server';
import { KrakenServer } from '../../test/support/exchanges/kraken-server';
import { OkxServer } from '../../test/support/exchanges/okx-server';
import { BUILT_IN_SYMBOLS, benchListing, type LocalExchangeId } from '../lib/exchange-listing';
import { serveRequests } from '../lib/ipc-child';

export type { LocalExchangeId } from '../lib/exchange-listing';

export interface LocalExchangeInfo {
  readonly exchange: LocalExchangeId;
  /** What `<EXCHANGE>_WS_URL` must be. */
  readonly wsUrl: string;
  /** What `<EXCHANGE>_REST_URL` must be. */
  readonly restUrl: string;
  /** Every listed market (all trading), built-in pairs first. */
  readonly listing: ReadonlyArray<{ readonly symbol: string; readonly base: string; readonly quote: string }>;
  /** The built-in pairs, as `<EXCHANGE>_SYMBOLS` spells them; every one is listed. */
  readonly builtIn: readonly string[];
}

export interface LocalExchangeStats {
  /** Epoch ms. */
  readonly at: number;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Ticker updates the ticking generator has sent. */
  readonly ticks: number;
  readonly listingRequests: number;
  /** Every limit a client broke, oldest first: empty for a client that kept every limit. */
  readonly breaches: readonly Breach[];
}

interface Server {
  readonly wsUrl: string;
  readonly restUrl: string;
  readonly connections: number;
  readonly ticks: number;
  readonly listingRequests: number;
  readonly breaches: readonly Breach[];
  startTicking(options: { readonly updatesPerSecond: number }): void;
}

async function startServer(exchange: LocalExchangeId, listing: readonly LocalMarket[]): Promise<Server> {
  switch (exchange) {
    case 'binance':
      return BinanceSim.start({ listing, tickMs: 0, snapshotOnSubscribe: true });
    case 'coinbase':
      return CoinbaseServer.start({ listing });
    case 'kraken':
      return KrakenServer.start({ listing });
    case 'okx':
      return OkxServer.start({ listing, snapshotOnSubscribe: true });
    case 'bybit':
      return BybitServer.start({ listing, snapshotOnSubscribe: true });
  }
}

const exchange = process.env.EXCHANGE as LocalExchangeId;
if (!(exchange in BUILT_IN_SYMBOLS)) throw new Error(`EXCHANGE must be one of ${Object.keys(BUILT_IN_SYMBOLS).join(', ')}, got ${String(exchange)}`);
const listing = benchListing(exchange, Number(process.env.LISTING_SIZE ?? 0));
const server = await startServer(exchange, listing);

const info: LocalExchangeInfo = {
  exchange,
  wsUrl: server.wsUrl,
  restUrl: server.restUrl,
  listing: listing.map(({ symbol, base, quote }) => ({ symbol, base, quote })),
  builtIn: BUILT_IN_SYMBOLS[exchange],
};

serveRequests({
  info: () => info,
  tick: ({ updatesPerSecond }: { readonly updatesPerSecond: number }) => server.startTicking({ updatesPerSecond }),
  stats: (): LocalExchangeStats => ({
    at: Date.now(),
    connections: server.connections,
    ticks: server.ticks,
    listingRequests: server.listingRequests,
    breaches: server.breaches,
  }),
});
