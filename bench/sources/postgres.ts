/**
 * Baseline 2, PostgreSQL: one table with an index per sort order and per filter, updated at
 * the same rate as Redis, queried with WHERE / ORDER BY / LIMIT / OFFSET and the total from a
 * window count, in one round trip. Same semantics as the service: nulls last in both
 * directions, ties by id in byte order (COLLATE "C"), inclusive bounds, plain-text search.
 */
import type pg from 'pg';
import type { Market } from '../../src/market';
import { USD_FIELD_OF, type MarketQuery, type MarketSource, type SortField, type UsdValueField } from '../../src/redis/query-markets';

export const TABLE = 'tickql_bench_markets';

const COLUMNS = {
  id: 'id',
  exchange: 'exchange',
  symbol: 'symbol',
  nativeSymbol: 'native_symbol',
  base: 'base',
  quote: 'quote',
  price: 'price',
  bid: 'bid',
  ask: 'ask',
  open24h: 'open_24h',
  high24h: 'high_24h',
  low24h: 'low_24h',
  volume24h: 'volume_24h',
  quoteVolume24h: 'quote_volume_24h',
  change24h: 'change_24h',
  changePercent24h: 'change_percent_24h',
  spreadPercent: 'spread_percent',
  updatedAt: 'updated_at',
  receivedAt: 'received_at',
} as const satisfies Record<keyof Market, string>;

const FIELDS = Object.keys(COLUMNS) as (keyof Market)[];
const TEXT_FIELDS = new Set<keyof Market>(['id', 'exchange', 'symbol', 'nativeSymbol', 'base', 'quote']);

export async function createTable(pool: pg.Pool, markets: readonly Market[]): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  const columns = FIELDS.map((f) => `${COLUMNS[f]} ${TEXT_FIELDS.has(f) ? 'text COLLATE "C"' : 'double precision'}${f === 'id' ? ' PRIMARY KEY' : ''}`);
  await pool.query(`CREATE TABLE ${TABLE} (${columns.join(', ')})`);
  for (const [name, column] of [
    ['qv', 'quote_volume_24h DESC NULLS LAST, id'],
    ['chg', 'change_percent_24h DESC NULLS LAST, id'],
    ['price', 'price, id'],
    ['vol', 'volume_24h DESC NULLS LAST, id'],
    ['spread', 'spread_percent DESC NULLS LAST, id'],
    ['upd', 'updated_at DESC, id'],
    ['sym', 'symbol, id'],
    ['ex', 'exchange'],
    ['base', 'base'],
    ['quote', 'quote'],
  ]) {
    await pool.query(`CREATE INDEX ${TABLE}_${name} ON ${TABLE} (${column})`);
  }
  // Substring search can use a trigram index where the extension is available.
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await pool.query(`CREATE INDEX ${TABLE}_trgm ON ${TABLE} USING gin (symbol gin_trgm_ops)`);
  } catch {
    // without pg_trgm, search scans; the report says which indexes exist
  }
  for (let i = 0; i < markets.length; i += 1000) await insert(pool, markets.slice(i, i + 1000));
  await pool.query(`ANALYZE ${TABLE}`);
}

async function insert(pool: pg.Pool, markets: readonly Market[]): Promise<void> {
  const values: unknown[] = [];
  const rows = markets.map((m) => `(${FIELDS.map((f) => `$${values.push(m[f])}`).join(', ')})`);
  await pool.query(`INSERT INTO ${TABLE} (${FIELDS.map((f) => COLUMNS[f]).join(', ')}) VALUES ${rows.join(', ')}`, values);
}

/** Writes new states of existing markets: one statement per batch. */
export async function updateMarkets(pool: pg.Pool, markets: readonly Market[]): Promise<void> {
  const numeric = FIELDS.filter((f) => !TEXT_FIELDS.has(f));
  const params = [markets.map((m) => m.id), ...numeric.map((f) => markets.map((m) => m[f]))];
  const sets = numeric.map((f) => `${COLUMNS[f]} = u.${COLUMNS[f]}`).join(', ');
  const unnest = numeric.map((_, i) => `$${i + 2}::double precision[]`).join(', ');
  await pool.query(
    `UPDATE ${TABLE} AS m SET ${sets} FROM unnest($1::text[], ${unnest}) AS u(id, ${numeric.map((f) => COLUMNS[f]).join(', ')}) WHERE m.id = u.id`,
    params,
  );
}

/** USD sorts and bounds are not modelled in this baseline (the bench's shapes do not use them). */
const SORT_COLUMNS: Record<Exclude<SortField, UsdValueField>, string> = {
  price: 'price',
  changePercent24h: 'change_percent_24h',
  volume24h: 'volume_24h',
  quoteVolume24h: 'quote_volume_24h',
  spreadPercent: 'spread_percent',
  updatedAt: 'updated_at',
  symbol: 'symbol',
};

function plainField(field: SortField): Exclude<SortField, UsdValueField> {
  if (field in USD_FIELD_OF) throw new Error(`the PostgreSQL baseline does not convert to USD (${field})`);
  return field as Exclude<SortField, UsdValueField>;
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function postgresSource(pool: pg.Pool): MarketSource {
  return {
    page: async (query: MarketQuery) => {
      const params: unknown[] = [];
      const where: string[] = [];
      const { filter } = query;
      if (filter.exchanges) where.push(`exchange = ANY($${params.push(filter.exchanges.map((e) => e.toLowerCase()))})`);
      if (filter.bases) where.push(`base = ANY($${params.push(filter.bases.map((b) => b.toUpperCase()))})`);
      if (filter.quotes) where.push(`quote = ANY($${params.push(filter.quotes.map((q) => q.toUpperCase()))})`);
      if (filter.search !== undefined) where.push(`symbol LIKE $${params.push(`%${likeEscape(filter.search.toUpperCase())}%`)}`);
      for (const r of filter.ranges ?? []) {
        const column = SORT_COLUMNS[plainField(r.field)];
        where.push(`${column} IS NOT NULL`);
        if (r.min !== null) where.push(`${column} >= $${params.push(r.min)}`);
        if (r.max !== null) where.push(`${column} <= $${params.push(r.max)}`);
      }
      const direction = query.sort.direction === 'asc' ? 'ASC' : 'DESC';
      const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      const sql = `SELECT *, count(*) OVER () AS total FROM ${TABLE} ${whereSql}
        ORDER BY ${SORT_COLUMNS[plainField(query.sort.field)]} ${direction} NULLS LAST, id ASC
        LIMIT $${params.push(query.limit)} OFFSET $${params.push(query.offset)}`;
      const { rows } = await pool.query<Record<string, unknown>>(sql, params);
      let total = rows.length > 0 ? Number(rows[0]!.total) : 0;
      if (rows.length === 0 && query.offset > 0) {
        // Past the end the window count has no row to ride on; count separately.
        const count = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE} ${whereSql}`, params.slice(0, -2));
        total = Number(count.rows[0]!.n);
      }
      return { total, items: rows.map(toMarket) };
    },
  };
}

/** Every market in the table, as the service's `Market`: the whole state a reference answer is computed from. */
export async function allMarkets(pool: pg.Pool): Promise<Market[]> {
  const { rows } = await pool.query<Record<string, unknown>>(`SELECT * FROM ${TABLE}`);
  return rows.map(toMarket);
}

function toMarket(row: Record<string, unknown>): Market {
  const market: Record<string, unknown> = {};
  for (const field of FIELDS) market[field] = row[COLUMNS[field]] ?? null;
  return market as unknown as Market;
}
