/**
 * The contract every exchange module implements. An adapter is pure protocol knowledge: where
 * to connect, what to send for a set of symbols, how to keep a socket alive, how to read a
 * frame, how to read the exchange's listing, and the exchange's limits. Sockets, timers,
 * retries, which symbols go on which connection, and Redis are the shared loop's business
 * (`connection.ts`, `connection-pool.ts`, `feed.ts`), so a new exchange is one new file in
 * `exchanges/`.
 */
import type { SymbolInfo, TickerPatch } from '../market';

/** What one inbound text frame meant. */
export type FrameEvent =
  /** Market data: zero or more patches (an empty list is a valid, quiet frame). */
  | { readonly kind: 'tickers'; readonly patches: readonly TickerPatch[] }
  /**
   * A reply confirming a subscription or another control request. `warnings` carries notices
   * the exchange attached (Kraken announces deprecations this way); the feed logs each once.
   */
  | { readonly kind: 'ack'; readonly warnings?: readonly string[] }
  /** A keep-alive from the server, or the reply to ours. */
  | { readonly kind: 'heartbeat' }
  /** A well-formed frame this adapter has no use for (status banners, other channels). */
  | { readonly kind: 'ignored' }
  /** The exchange reported an error. `retryAfterMs` asks the loop to back off at least that long. */
  | { readonly kind: 'error'; readonly message: string; readonly retryAfterMs?: number }
  /** The server announced it will close this connection soon: replace it now. */
  | { readonly kind: 'rotate'; readonly reason: string }
  /** The frame could not be understood. It changes nothing; the loop counts and logs it. */
  | { readonly kind: 'invalid'; readonly reason: string };

export interface AdapterOptions {
  /** Exchange id used in market ids (`binance`, or `sim` for the simulated exchange). */
  readonly exchange: string;
  /** WebSocket endpoint. */
  readonly wsUrl: string;
  /** REST base for the listing, or null when there is none (then names come from the symbol text). */
  readonly restUrl: string | null;
}

/** One market of an exchange's listing, with names in common asset codes (Kraken's XBT is BTC). */
export interface ListedMarket extends SymbolInfo {
  /** Whether the exchange lists it as trading now (its own status value decides; see docs/exchanges/). */
  readonly trading: boolean;
  /** The exchange's own status text, for log lines (`BREAK`, `delisted`, `suspend`). */
  readonly status: string;
}

/** At most `limit` events in any `windowMs` (a sliding window). */
export interface RateLimit {
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * How many symbols one connection may carry. Exchanges count streams or topics per connection
 * (Binance: 1024 streams), or characters of subscription arguments (Bybit: 21 000); `cost`
 * says what one symbol takes of `perConnection`. Where an exchange documents no cap, the
 * adapter sets one of its own and says why.
 */
export interface ConnectionCapacity {
  readonly perConnection: number;
  cost(nativeSymbol: string): number;
}

/**
 * Symbols per connection for exchanges that document no cap (Coinbase, Kraken, OKX). Not a
 * protocol limit but a choice (docs/exchanges/README.md): a lost connection then costs at most
 * this many markets their updates until it is back, and one connection's subscribe burst
 * (an ack and a snapshot per symbol on Kraken) stays a few hundred frames.
 */
export const UNDOCUMENTED_SYMBOLS_PER_CONNECTION = 250;

/** One stream or topic per symbol, at most `perConnection` of them. */
export function symbolsPerConnection(perConnection: number): ConnectionCapacity {
  return { perConnection, cost: () => 1 };
}

/** Configured symbols as the exchange spells them, and what an operator should know about the rewrite. */
export interface NormalizedSymbols {
  readonly symbols: readonly string[];
  readonly warnings: readonly string[];
}

export interface ExchangeAdapter {
  /** Exchange id used in market ids. */
  readonly exchange: string;
  /** Where to connect. */
  readonly wsUrl: string;
  /** Symbols per connection (see `ConnectionCapacity`). */
  readonly capacity: ConnectionCapacity;
  /** New connections the exchange accepts from one IP address. Every connect of the feed waits for room. */
  readonly connectionRate: RateLimit;
  /** The exchange's inbound message rate limit for one connection (our messages to it, pongs included). */
  readonly maxMessagesPerSecond: number;
  /** A limit on our messages across all connections from one IP address, where the exchange has one (Coinbase). */
  readonly messageRatePerIp?: RateLimit;
  /**
   * The longest silence that is still normal. A socket that receives nothing (no data, no
   * heartbeat, no ping) for longer is considered dead and replaced.
   */
  readonly silenceTimeoutMs: number;
  /** A text heartbeat the client must send, and how often; undefined when the server pings. */
  readonly clientHeartbeat?: { readonly intervalMs: number; readonly message: string };
  /** Planned rotation: replace the connection before the server's lifetime limit. */
  readonly maxConnectionAgeMs?: number;
  /**
   * Text frames that subscribe `symbols` on one connection, in order: every symbol of a new
   * connection, or the symbols added to a live one. The loop sends them no faster than the
   * rate limits allow. `symbols` never exceed one connection's capacity.
   */
  subscribeMessages(symbols: readonly string[]): string[];
  /** Reads one frame. Never throws: anything unexpected is an `invalid` event. */
  parse(frame: string): FrameEvent;
  /**
   * Configured symbols (`<EXCHANGE>_SYMBOLS`, typed by hand) in the exchange's own spelling:
   * trimmed, de-duplicated, case and aliases as the exchange wants them, with a warning for
   * each rewrite or quirk an operator should know about.
   */
  normalizeSymbols(configured: readonly string[]): NormalizedSymbols;
  /** Base and quote from the native symbol's text alone, for symbols the listing does not name. */
  deriveSymbolInfo(nativeSymbol: string): SymbolInfo;
  /**
   * The exchange's whole spot listing from its REST API, trading or not. Throws (with a
   * message for the log) when the listing cannot be fetched or is not what the exchange
   * sends; entries it cannot read are skipped. `signal` aborts the request.
   */
  fetchListing(signal: AbortSignal): Promise<ListedMarket[]>;
  /**
   * Told the listing each time it is read, for adapters whose subscribe messages depend on it
   * (Bybit subscribes unlisted symbols in requests of their own).
   */
  useListing?(listed: ReadonlySet<string>): void;
}
