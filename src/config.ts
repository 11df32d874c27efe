/**
 * Every environment variable tickql reads, parsed and validated here and nowhere else.
 * A bad value throws a ConfigError whose message is one line naming the variable and the
 * problem; `main.ts` prints it and exits.
 */

/** Exchanges with a real public feed. `sim` is the built-in simulated exchange. */
export const EXCHANGES = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'] as const;
export type ExchangeId = (typeof EXCHANGES)[number];
export type FeedId = ExchangeId | 'sim';
const FEED_IDS: readonly string[] = [...EXCHANGES, 'sim'];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ExchangeOverrides {
  /** `<EXCHANGE>_WS_URL`, when set. */
  readonly wsUrl?: string;
  /** `<EXCHANGE>_REST_URL`, when set. */
  readonly restUrl?: string;
  /** `<EXCHANGE>_SYMBOLS`, when set. */
  readonly symbols?: readonly string[];
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** `REDIS_URL`; null when unset (then the default address is tried, then a private server). */
  readonly redisUrl: string | null;
  /** Prefix (and Cluster hash tag) of every key and channel; lets deployments share a Redis. */
  readonly redisPrefix: string;
  readonly feeds: readonly FeedId[];
  readonly exchanges: Readonly<Record<ExchangeId, ExchangeOverrides>>;
  /** A market with no update for longer than this is stale. */
  readonly staleAfterMs: number;
  /**
   * How long ingest waits for more updates before one batched write to Redis. 0 (the default):
   * write as soon as no write is in flight; updates coalesce while one is.
   */
  readonly batchMs: number;
  /** How long a computed `markets` page is served from memory; 0 turns the cache off. */
  readonly queryCacheMs: number;
  /** How old a cached page may be and still be served while it is being refreshed. */
  readonly queryCacheStaleMs: number;
  /** Number of markets the simulated exchange lists. */
  readonly simMarkets: number;
  /** Milliseconds between two updates of one simulated market (on average). */
  readonly simTickMs: number;
  readonly logLevel: LogLevel;
  readonly graphql: GraphqlLimits;
}

/** What a GraphQL document may ask for; each default is generous for this schema's real use. */
export interface GraphqlLimits {
  /** Deepest field nesting (introspection excepted). The schema's deepest real query is 3. */
  readonly maxDepth: number;
  /** Aliases per operation. */
  readonly maxAliases: number;
  /** graphql-armor's static cost (objects 2, scalars 1, ×1.5 per level; introspection excepted). */
  readonly maxCost: number;
  /** Lexical tokens per document (GraphiQL's introspection query is about 500). */
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
  maxAliases: 15,
  maxCost: 5000,
  maxTokens: 2000,
  maxDirectives: 20,
  maxBodyBytes: 64 * 1024,
  introspection: true,
  graphiql: true,
};

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): Config {
  const exchanges = {} as Record<ExchangeId, ExchangeOverrides>;
  for (const id of EXCHANGES) exchanges[id] = exchangeOverrides(env, id);
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: text(env, 'HOST', '0.0.0.0'),
    redisUrl: redisUrl(env),
    redisPrefix: redisPrefix(env),
    feeds: feeds(env),
    exchanges,
    staleAfterMs: integer(env, 'STALE_AFTER_MS', 30_000, 1, 86_400_000),
    batchMs: integer(env, 'INGEST_BATCH_MS', 0, 0, 10_000),
    queryCacheMs: integer(env, 'QUERY_CACHE_MS', 50, 0, 60_000),
    queryCacheStaleMs: integer(env, 'QUERY_CACHE_STALE_MS', 1000, 0, 600_000),
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
  const out: { wsUrl?: string; restUrl?: string; symbols?: string[] } = {};
  const ws = env[`${prefix}_WS_URL`];
  if (ws !== undefined && ws !== '') out.wsUrl = url(`${prefix}_WS_URL`, ws.trim(), ['ws:', 'wss:']);
  const rest = env[`${prefix}_REST_URL`];
  if (rest !== undefined && rest !== '') out.restUrl = url(`${prefix}_REST_URL`, rest.trim(), ['http:', 'https:']).replace(/\/+$/, '');
  const symbols = env[`${prefix}_SYMBOLS`];
  if (symbols !== undefined) {
    const list = symbols
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (list.length === 0) throw new ConfigError(`${prefix}_SYMBOLS is empty; unset it to use the built-in list`);
    out.symbols = [...new Set(list)];
  }
  return out;
}
