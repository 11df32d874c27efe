/**
 * The contract every exchange module implements. An adapter is pure protocol knowledge: it
 * says where to connect, what to send, how to keep the socket alive and how to read a frame.
 * Sockets, timers, retries and Redis are the shared connection loop's business
 * (`connection.ts`, `feed.ts`), so a new exchange is one new file in `exchanges/`.
 */
import type { SymbolInfo, TickerPatch } from './market';

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
  /** REST base for symbol metadata, or null to derive base/quote from the symbol text. */
  readonly restUrl: string | null;
  /** Native symbols to subscribe. */
  readonly symbols: readonly string[];
}

export interface ExchangeAdapter {
  /** Exchange id used in market ids. */
  readonly exchange: string;
  /** Where to connect. */
  readonly wsUrl: string;
  /** Native symbols this adapter subscribes. */
  readonly symbols: readonly string[];
  /**
   * Text frames to send once the socket is open, in order. The loop sends them no faster
   * than `maxMessagesPerSecond`.
   */
  subscribeMessages(): string[];
  /** The exchange's inbound message rate limit for one connection (our messages to it). */
  readonly maxMessagesPerSecond: number;
  /**
   * The longest silence that is still normal. A socket that receives nothing (no data, no
   * heartbeat, no ping) for longer is considered dead and replaced.
   */
  readonly silenceTimeoutMs: number;
  /** A text heartbeat the client must send, and how often; undefined when the server pings. */
  readonly clientHeartbeat?: { readonly intervalMs: number; readonly message: string };
  /** Planned rotation: replace the connection before the server's lifetime limit. */
  readonly maxConnectionAgeMs?: number;
  /** Reads one frame. Never throws: anything unexpected is an `invalid` event. */
  parse(frame: string): FrameEvent;
  /** Base and quote of a native symbol (after `loadSymbols`, from exchange metadata when it was reachable). */
  symbolInfo(nativeSymbol: string): SymbolInfo;
  /**
   * Loads symbol metadata (base/quote) from the exchange's REST API. Resolves to a warning
   * text when something needs an operator's attention (the metadata could not be fetched and
   * names were derived from the symbol text instead; configured symbols the exchange does not
   * list or one connection cannot carry), else null. Start-up never depends on it: the feed
   * aborts `signal` when it stops waiting, and names must not change after that.
   */
  loadSymbols(signal: AbortSignal): Promise<string | null>;
}
