/**
 * Every environment variable tickql reads, parsed and validated here and nowhere else.
 * A bad value throws a ConfigError whose message is one line naming the variable and the
 * problem; `main.ts` prints it and exits.
 */
import { availableParallelism } from 'node:os';
import proxyAddr from 'proxy-addr';
import ipaddr from 'ipaddr.js';
import { openFileLimit } from './file-limit';

/** Exchanges with a real public feed. `sim` is the built-in simulated exchange. */
export const EXCHANGES = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'] as const;
export type ExchangeId = (typeof EXCHANGES)[number];
export type FeedId = ExchangeId | 'sim';
const FEED_IDS: readonly string[] = [...EXCHANGES, 'sim'];

/** `ROLE`: which processes an instance runs (src/processes/supervisor.ts). */
export const ROLES = ['all', 'ingest', 'serve'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ExchangeOverrides {
  /** `<EXCHANGE>_WS_URL`, when set. */
  readonly wsUrl?: string;
  /** `<EXCHANGE>_REST_URL`, when set. */
  readonly restUrl?: string;
  /** `<EXCHANGE>_SYMBOLS`, when set to a list; unset (or `*`): the exchange's whole listing. */
  readonly symbols?: readonly string[];
  /** `<EXCHANGE>_QUOTES` (upper case), when set: narrows the listing to these quote assets. */
  readonly quotes?: readonly string[];
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** `REDIS_URL`; null when unset (then the default address is tried, then a private server). */
  readonly redisUrl: string | null;
  /** Prefix (and Cluster hash tag) of every key and channel; lets deployments share a Redis. */
  readonly redisPrefix: string;
  readonly feeds: readonly FeedId[];
  /** `ROLE`: `ingest` runs the feeds only, `serve` the API only, `all` both, in separate processes. */
  readonly role: Role;
  /** `WORKERS`: serving processes sharing `PORT` (roles `serve` and `all`). */
  readonly workers: number;
  readonly exchanges: Readonly<Record<ExchangeId, ExchangeOverrides>>;
  /** A market with no update for longer than this is stale. */
  readonly staleAfterMs: number;
  /**
   * How long ingest waits for more updates before one batched write to Redis. 0 (the default):
   * write as soon as no write is in flight; updates coalesce while one is.
   */
  readonly batchMs: number;
  /** Frames one feed may read per second before its socket pauses for the rest of it; 0: no limit. */
  readonly feedMaxFramesPerSecond: number;
  /** How often each exchange's listing is read again while running (`LISTING_REFRESH_MS`); 0: never. */
  readonly listingRefreshMs: number;
  /**
   * How long a computed `markets` page is served from memory (`QUERY_CACHE_MS`). 0, the
   * default: never; every answer is computed after its request arrived (redis/page-cache.ts).
   */
  readonly queryCacheMs: number;
  /** How old a page may be and still be served while it is refreshed (`QUERY_CACHE_STALE_MS`); only with `queryCacheMs` > 0. */
  readonly queryCacheStaleMs: number;
  /** Number of markets the simulated exchange lists. */
  readonly simMarkets: number;
  /** Milliseconds between two updates of one simulated market (on average). */
  readonly simTickMs: number;
  readonly logLevel: LogLevel;
  readonly graphql: GraphqlLimits;
  readonly access: AccessLimits;
  readonly http: HttpOptions;
  readonly websocket: WebSocketLimits;
}

/**
 * Who may use the API and how much (src/server/access-control.ts). Limits are per client
 * address (IPv6 addresses grouped by /64); 0 turns a limit off. The per-address ones are off
 * by default, like API keys: a backend, a load balancer or a load test is one address. The
 * caps that keep the process alive (sockets, connections in all) are on, sized from its
 * open-file limit (processCaps).
 */
export interface AccessLimits {
  /** `API_KEYS`: keys a client must present; empty = no key needed. */
  readonly apiKeys: readonly string[];
  /** Which proxies' X-Forwarded-For entries to believe (src/server/client-address.ts). */
  readonly trustProxy: TrustProxy;
  /** HTTP requests and WebSocket query operations per second, per address. */
  readonly queriesPerSecond: number;
  /** Queries an address may make beyond the rate in each 10-second window. */
  readonly queryBurst: number;
  /** New subscriptions (WebSocket and SSE) per second, per address. */
  readonly subscriptionsPerSecond: number;
  /** Subscriptions an address may start beyond the rate in each 10-second window. */
  readonly subscriptionBurst: number;
  /** Open WebSocket connections and SSE streams per address. */
  readonly maxConnectionsPerAddress: number;
  /** Open WebSocket connections and SSE streams in all. */
  readonly maxConnections: number;
  /** TCP connections the HTTP server accepts at once (Node's `server.maxConnections`). */
  readonly maxSockets: number;
  /** How long a client may take to send a request's headers. */
  readonly headersTimeoutMs: number;
  /** How long a client may take to send a whole request (not to read the response). */
  readonly requestTimeoutMs: number;
}

/**
 * `TRUST_PROXY`: a number of proxies in front, each appending to X-Forwarded-For (0: none,
 * the TCP peer is the client), or the proxies' addresses and CIDR ranges (and proxy-addr's
 * names `loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = number | readonly string[];

/** The access limits that do not depend on the machine; see processCaps for the others. */
export const DEFAULT_ACCESS_LIMITS: Omit<AccessLimits, 'maxConnections' | 'maxSockets'> = {
  apiKeys: [],
  trustProxy: 0,
  queriesPerSecond: 0,
  // The bursts apply only once their rate is set.
  queryBurst: 200,
  subscriptionsPerSecond: 0,
  subscriptionBurst: 100,
  maxConnectionsPerAddress: 0,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/**
 * Files a process keeps for itself beyond client sockets (Redis connections, the exchanges'
 * when ingest shares the process, logs, Node's own), or a quarter of the limit if that is less.
 */
const RESERVED_FILES = 256;
/** Most long-lived connections in all: each holds buffers and subscriptions in memory. */
const MAX_CONNECTIONS_CEILING = 10_000;
/** Long-lived connections' share of the sockets: the rest stays for queries and probes when subscribers fill up. */
const CONNECTIONS_SHARE = 0.9;

/**
 * Default `HTTP_MAX_SOCKETS` and `MAX_CONNECTIONS` for a process that may open `fileLimit`
 * files: past that many sockets, accepting one more would fail and so would reconnecting to
 * Redis. An unlimited file limit leaves sockets uncapped.
 */
export function processCaps(fileLimit: number): { maxSockets: number; maxConnections: number } {
  if (!Number.isFinite(fileLimit)) return { maxSockets: 0, maxConnections: MAX_CONNECTIONS_CEILING };
  const maxSockets = Math.max(1, fileLimit - Math.min(RESERVED_FILES, Math.floor(fileLimit / 4)));
  return { maxSockets, maxConnections: Math.max(1, Math.min(MAX_CONNECTIONS_CEILING, Math.floor(maxSockets * CONNECTIONS_SHARE))) };
}

/** How HTTP responses meet browsers and proxies (src/server/cors.ts, src/server/compression.ts). */
export interface HttpOptions {
  /** `CORS_ORIGINS`: the origins that get CORS headers; empty = every origin. Never with credentials. */
  readonly corsOrigins: readonly string[];
  /** Responses of at least this many bytes are compressed when the client accepts it; 0 = never. */
  readonly compressionMinBytes: number;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = {
  corsOrigins: [],
  compressionMinBytes: 1024,
};

/** What one graphql-ws connection may do, and how long it may fall behind (delivery/ws-transport.ts, delivery/slow-clients.ts). */
export interface WebSocketLimits {
  /** Largest inbound message, bytes; a larger one closes the connection with 1009. */
  readonly maxMessageBytes: number;
  /** How long a new connection may take to send `connection_init` (then 4408). */
  readonly connectionInitTimeoutMs: number;
  /** Operations running at once on one connection (subscriptions, and queries while they run); more get an error each. */
  readonly maxSubscriptions: number;
  /** Inbound messages per second one connection may send, as a bucket of that size refilled continuously (then 4429). */
  readonly maxMessagesPerSecond: number;
  /** Bytes queued in this process for one connection past which its subscriptions wait (and conflate). */
  readonly maxBufferedBytes: number;
  /** A client that has not read what was sent to it this long ago is closed with 4008. */
  readonly stuckClientMs: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: WebSocketLimits = {
  maxMessageBytes: 64 * 1024,
  connectionInitTimeoutMs: 3000,
  maxSubscriptions: 100,
  maxMessagesPerSecond: 500,
  maxBufferedBytes: 256 * 1024,
  stuckClientMs: 30_000,
};

/** What a GraphQL document may ask for; each default is generous for this schema's real use. */
export interface GraphqlLimits {
  /**
   * Deepest field nesting outside introspection. The schema's deepest real query is 3.
   * Introspection has its own, INTROSPECTION_MAX_DEPTH (src/server/yoga.ts).
   */
  readonly maxDepth: number;
  /** Aliases per operation: a watchlist of 50 `market(id)` aliases fits. */
  readonly maxAliases: number;
  /** graphql-armor's static cost (objects 2, scalars 1, ×1.5 per level; introspection excepted). */
  readonly maxCost: number;
  /**
   * Lexical tokens per document: a 50-alias watchlist of every Market field, ids in variables,
   * is about 1,900; GraphiQL's introspection query about 200.
   */
  readonly maxTokens: number;
  /** Directives per operation. */
  readonly maxDirectives: number;
  /** Largest HTTP request body, bytes. */
  readonly maxBodyBytes: number;
  /** Whether the schema can be introspected (GraphiQL and codegen need it). */
  readonly introspection: boolean;
  /** Whether browsers get GraphiQL on GET /graphql. */
  readonly graphiql: boolean;
}

export const DEFAULT_GRAPHQL_LIMITS: GraphqlLimits = {
  maxDepth: 8,
  maxAliases: 50,
  maxCost: 5000,
  maxTokens: 3000,
  maxDirectives: 20,
  maxBodyBytes: 64 * 1024,
  introspection: true,
  graphiql: true,
};

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Frames per second one feed may read. Far above what any exchange sends for the symbols one
 * connection carries; what it stops is a runaway upstream taking the whole event loop.
 */
export const DEFAULT_FEED_MAX_FRAMES_PER_S = 50_000;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** `fileLimit`: the process's open-file limit, which sizes the default socket and connection caps. */
export function loadConfig(env: Env = process.env, fileLimit: number = openFileLimit()): Config {
  const exchanges = {} as Record<ExchangeId, ExchangeOverrides>;
  for (const id of EXCHANGES) exchanges[id] = exchangeOverrides(env, id);
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: text(env, 'HOST', '0.0.0.0'),
    redisUrl: redisUrl(env),
    redisPrefix: redisPrefix(env),
    feeds: feeds(env),
    role: oneOf(env, 'ROLE', ROLES, 'all'),
    workers: integer(env, 'WORKERS', availableParallelism(), 1, 256),
    exchanges,
    staleAfterMs: integer(env, 'STALE_AFTER_MS', 30_000, 1, 86_400_000),
    batchMs: integer(env, 'INGEST_BATCH_MS', 0, 0, 10_000),
    feedMaxFramesPerSecond: integer(env, 'FEED_MAX_FRAMES_PER_S', DEFAULT_FEED_MAX_FRAMES_PER_S, 0, 10_000_000),
    listingRefreshMs: listingRefreshMs(env),
    queryCacheMs: integer(env, 'QUERY_CACHE_MS', 0, 0, 60_000),
    queryCacheStaleMs: queryCacheStaleMs(env),
    simMarkets: integer(env, 'SIM_MARKETS', 300, 1, 100_000),
    simTickMs: integer(env, 'SIM_TICK_MS', 1000, 1, 3_600_000),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    graphql: {
      maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', DEFAULT_GRAPHQL_LIMITS.maxDepth, 1, 100),
      maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', DEFAULT_GRAPHQL_LIMITS.maxAliases, 0, 1000),
      maxCost: integer(env, 'GRAPHQL_MAX_COST', DEFAULT_GRAPHQL_LIMITS.maxCost, 1, 10_000_000),
      maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', DEFAULT_GRAPHQL_LIMITS.maxTokens, 1, 1_000_000),
      maxDirectives: integer(env, 'GRAPHQL_MAX_DIRECTIVES', DEFAULT_GRAPHQL_LIMITS.maxDirectives, 0, 1000),
      maxBodyBytes: integer(env, 'GRAPHQL_MAX_BODY_BYTES', DEFAULT_GRAPHQL_LIMITS.maxBodyBytes, 1024, 100 * 1024 * 1024),
      introspection: bool(env, 'GRAPHQL_INTROSPECTION', DEFAULT_GRAPHQL_LIMITS.introspection),
      graphiql: bool(env, 'GRAPHIQL', DEFAULT_GRAPHQL_LIMITS.graphiql),
    },
    access: accessLimits(env, fileLimit),
    http: {
      corsOrigins: corsOrigins(env),
      compressionMinBytes: integer(env, 'HTTP_COMPRESSION_MIN_BYTES', DEFAULT_HTTP_OPTIONS.compressionMinBytes, 0, 100 * 1024 * 1024),
    },
    websocket: {
      maxMessageBytes: integer(env, 'WS_MAX_MESSAGE_BYTES', DEFAULT_WEBSOCKET_LIMITS.maxMessageBytes, 1024, 100 * 1024 * 1024),
      connectionInitTimeoutMs: integer(env, 'WS_CONNECTION_INIT_TIMEOUT_MS', DEFAULT_WEBSOCKET_LIMITS.connectionInitTimeoutMs, 100, 600_000),
      maxSubscriptions: integer(env, 'WS_MAX_SUBSCRIPTIONS_PER_CONNECTION', DEFAULT_WEBSOCKET_LIMITS.maxSubscriptions, 1, 100_000),
      maxMessagesPerSecond: integer(env, 'WS_MAX_MESSAGES_PER_SECOND', DEFAULT_WEBSOCKET_LIMITS.maxMessagesPerSecond, 1, 1_000_000),
      maxBufferedBytes: integer(env, 'WS_MAX_BUFFERED_BYTES', DEFAULT_WEBSOCKET_LIMITS.maxBufferedBytes, 1024, 1024 * 1024 * 1024),
      stuckClientMs: integer(env, 'WS_STUCK_CLIENT_MS', DEFAULT_WEBSOCKET_LIMITS.stuckClientMs, 100, 3_600_000),
    },
  };
}

function text(env: Env, name: string, fallback: string): string {
  const value = env[name];
  if (value === undefined) return fallback;
  if (value.trim() === '') throw new ConfigError(`${name} is empty; unset it to use the default ${fallback}`);
  return value.trim();
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not true or false`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name}=${raw} is out of range ${min}..${max}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function url(name: string, raw: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

function redisUrl(env: Env): string | null {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === '') return null;
  return url('REDIS_URL', raw.trim(), ['redis:', 'rediss:']);
}

function redisPrefix(env: Env): string {
  const value = text(env, 'REDIS_PREFIX', 'tickql');
  // The prefix becomes a Cluster hash tag `{prefix}` and part of pub/sub channel names.
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new ConfigError(`REDIS_PREFIX=${JSON.stringify(value)} may only contain letters, digits, "_", "." and "-" (1-64 characters)`);
  }
  return value;
}

function feeds(env: Env): FeedId[] {
  const raw = env.FEEDS;
  if (raw === undefined) return [...EXCHANGES];
  const ids = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const id of ids) {
    if (!FEED_IDS.includes(id)) throw new ConfigError(`FEEDS contains unknown feed ${JSON.stringify(id)}; known: ${FEED_IDS.join(', ')}`);
  }
  return [...new Set(ids)] as FeedId[];
}

function exchangeOverrides(env: Env, id: ExchangeId): ExchangeOverrides {
  const prefix = id.toUpperCase();
  const out: { wsUrl?: string; restUrl?: string; symbols?: string[]; quotes?: string[] } = {};
  const ws = env[`${prefix}_WS_URL`];
  if (ws !== undefined && ws !== '') out.wsUrl = url(`${prefix}_WS_URL`, ws.trim(), ['ws:', 'wss:']);
  const rest = env[`${prefix}_REST_URL`];
  if (rest !== undefined && rest !== '') out.restUrl = url(`${prefix}_REST_URL`, rest.trim(), ['http:', 'https:']).replace(/\/+$/, '');
  const symbols = env[`${prefix}_SYMBOLS`];
  if (symbols !== undefined && symbols.trim() !== '*') {
    const list = commaList(symbols);
    if (list.length === 0) throw new ConfigError(`${prefix}_SYMBOLS is empty; unset it (or set it to *) for the exchange's whole listing`);
    out.symbols = [...new Set(list)];
  }
  const quotes = env[`${prefix}_QUOTES`];
  if (quotes !== undefined && quotes.trim() !== '') {
    const list = commaList(quotes).map((q) => q.toUpperCase());
    const bad = list.find((q) => !/^[A-Z0-9]{1,20}$/.test(q));
    if (bad !== undefined) throw new ConfigError(`${prefix}_QUOTES: ${JSON.stringify(bad)} is not an asset code (letters and digits)`);
    out.quotes = [...new Set(list)];
  }
  return out;
}

/** 0 turns refreshing off; otherwise at least a second, so a typo cannot hammer an exchange's REST API. */
function listingRefreshMs(env: Env): number {
  const value = integer(env, 'LISTING_REFRESH_MS', 300_000, 0, 86_400_000);
  if (value > 0 && value < 1000) throw new ConfigError(`LISTING_REFRESH_MS=${value} is below 1000 (0 turns refreshing off)`);
  return value;
}

/** A stale window only means something once QUERY_CACHE_MS opts into serving pages from memory. */
function queryCacheStaleMs(env: Env): number {
  const value = integer(env, 'QUERY_CACHE_STALE_MS', 0, 0, 600_000);
  if (value > 0 && integer(env, 'QUERY_CACHE_MS', 0, 0, 60_000) === 0) {
    throw new ConfigError(`QUERY_CACHE_STALE_MS=${value} needs QUERY_CACHE_MS above 0 (pages are served from memory only then)`);
  }
  return value;
}

function commaList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function accessLimits(env: Env, fileLimit: number): AccessLimits {
  const d = { ...DEFAULT_ACCESS_LIMITS, ...processCaps(fileLimit) };
  const limits: AccessLimits = {
    apiKeys: apiKeys(env),
    trustProxy: trustProxy(env),
    queriesPerSecond: integer(env, 'RATE_LIMIT_QUERIES', d.queriesPerSecond, 0, 1_000_000),
    queryBurst: integer(env, 'RATE_LIMIT_QUERIES_BURST', d.queryBurst, 0, 10_000_000),
    subscriptionsPerSecond: integer(env, 'RATE_LIMIT_SUBSCRIPTIONS', d.subscriptionsPerSecond, 0, 1_000_000),
    subscriptionBurst: integer(env, 'RATE_LIMIT_SUBSCRIPTIONS_BURST', d.subscriptionBurst, 0, 10_000_000),
    maxConnectionsPerAddress: integer(env, 'MAX_CONNECTIONS_PER_ADDRESS', d.maxConnectionsPerAddress, 0, 1_000_000),
    maxConnections: integer(env, 'MAX_CONNECTIONS', d.maxConnections, 0, 10_000_000),
    maxSockets: integer(env, 'HTTP_MAX_SOCKETS', d.maxSockets, 0, 10_000_000),
    headersTimeoutMs: integer(env, 'HTTP_HEADERS_TIMEOUT_MS', d.headersTimeoutMs, 1000, 600_000),
    requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', d.requestTimeoutMs, 1000, 3_600_000),
  };
  // Node refuses a headers timeout longer than the request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT_MS=${limits.headersTimeoutMs} is longer than HTTP_REQUEST_TIMEOUT_MS=${limits.requestTimeoutMs}`);
  }
  return limits;
}

/** A key is what follows `Bearer ` in a header, so it may not hold spaces, commas or controls. */
function apiKeys(env: Env): string[] {
  const raw = env.API_KEYS;
  if (raw === undefined) return [];
  const keys = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  // The key itself never goes into a message: the message may be logged.
  keys.forEach((key, i) => {
    if (!/^[\x21-\x7e]+$/.test(key)) throw new ConfigError(`API_KEYS: key ${i + 1} contains a character other than printable ASCII`);
    if (key.length < 16) throw new ConfigError(`API_KEYS: key ${i + 1} is ${key.length} characters long; use at least 16`);
  });
  return [...new Set(keys)];
}

/** The names proxy-addr gives to well-known ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `TRUST_PROXY`: a hop count (0..10), or a comma list of the proxies' addresses and CIDR
 * ranges, which proxy-addr then checks each hop against.
 */
function trustProxy(env: Env): TrustProxy {
  const raw = env.TRUST_PROXY;
  if (raw === undefined || raw.trim() === '' || /^\s*\d+\s*$/.test(raw)) return integer(env, 'TRUST_PROXY', 0, 0, 10);
  const entries = commaList(raw);
  if (entries.length === 0) throw new ConfigError(`TRUST_PROXY is empty; unset it (or set it to 0) to use the TCP peer's address`);
  for (const entry of entries) {
    if (!isProxyAddress(entry)) {
      throw new ConfigError(`TRUST_PROXY: ${JSON.stringify(entry)} is not a number of proxies, an IP address, a CIDR range or one of ${PROXY_RANGE_NAMES.join(', ')}`);
    }
  }
  try {
    proxyAddr.compile(entries);
  } catch (err) {
    throw new ConfigError(`TRUST_PROXY: ${err instanceof Error ? err.message : String(err)}`);
  }
  return [...new Set(entries)];
}

/** An address or CIDR range written plainly (dotted quads, not 127.1 or hex), or a range name. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) return true;
  if (entry.includes('/')) return ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) || ipaddr.IPv6.isValidCIDR(entry);
  return ipaddr.IPv4.isValidFourPartDecimal(entry) || ipaddr.IPv6.isValid(entry);
}

/**
 * `CORS_ORIGINS`: origins as browsers send them in `Origin`: a scheme, a host and, when not
 * the scheme's default, a port; nothing else (no path, no trailing slash). `*` or unset: any.
 */
function corsOrigins(env: Env): string[] {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined || raw.trim() === '*') return [];
  const origins = commaList(raw);
  if (origins.length === 0) throw new ConfigError('CORS_ORIGINS is empty; unset it (or set it to *) to allow every origin');
  for (const origin of origins) {
    if (serializedOrigin(origin) !== origin) {
      throw new ConfigError(`CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com (scheme, host and port only, lower case)`);
    }
  }
  return [...new Set(origins)];
}

/** The origin a browser would send for `text`, or null when it is not an http(s) URL. */
function serializedOrigin(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}
