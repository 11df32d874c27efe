/**
 * Scenario 1: `markets` queries at several universe sizes while a writer applies a steady 5k
 * updates/s, served by the same GraphQL server with three sources: tickql (Lua in Redis),
 * fetch-and-sort (everything into Node) and PostgreSQL (an indexed table).
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { createKeys } from '../../src/redis/keys';
import { redisMarketSource, type MarketQuery, type MarketSource } from '../../src/redis/query-markets';
import { defineScripts } from '../../src/redis/scripts';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import type { ScenarioContext } from '../lib/context';
import { runLoad, type LoadResult } from '../lib/load';
import { startChild } from '../lib/processes';
import { ms, ratio, type ScenarioReport, type Table } from '../lib/report';
import type { BarChart } from '../lib/svg-chart';
import { syntheticMarkets } from '../lib/synthetic-markets';
import { fetchAndSortSource } from '../sources/fetch-and-sort';
import { createTable, postgresSource } from '../sources/postgres';

interface QueryCase {
  readonly name: string;
  readonly query: MarketQuery;
  readonly graphql: string;
}

export const QUERY_CASES: readonly QueryCase[] = [
  {
    name: 'top 50 by quote volume',
    query: { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: {}, offset: 0, limit: 50 },
    graphql: '{ markets(page: { limit: 50 }) { total items { id price quoteVolume24h changePercent24h } } }',
  },
  {
    name: 'USDT on binance+okx by change',
    query: { sort: { field: 'changePercent24h', direction: 'desc' }, filter: { quotes: ['USDT'], exchanges: ['binance', 'okx'] }, offset: 0, limit: 50 },
    graphql:
      '{ markets(sort: { field: CHANGE_PERCENT_24H }, filter: { quotes: ["USDT"], exchanges: ["binance", "okx"] }) { total items { id price changePercent24h } } }',
  },
  {
    name: 'search "BTC"',
    query: { sort: { field: 'quoteVolume24h', direction: 'desc' }, filter: { search: 'BTC' }, offset: 0, limit: 50 },
    graphql: '{ markets(filter: { search: "BTC" }) { total items { id price } } }',
  },
  {
    name: 'deep page (middle of the list by price)',
    query: { sort: { field: 'price', direction: 'asc' }, filter: {}, offset: -1, limit: 50 }, // offset set per size
    graphql: '',
  },
];

const SYSTEMS = ['tickql, page cache off', 'tickql, default (fresh, shared)', 'fetch-and-sort', 'PostgreSQL'] as const;
type System = (typeof SYSTEMS)[number];
const SOURCE: Record<System, string> = {
  'tickql, page cache off': 'lua',
  'tickql, default (fresh, shared)': 'lua-cached',
  'fetch-and-sort': 'fetch',
  PostgreSQL: 'postgres',
};
/** Every request runs the Lua script: the data layer against the other data layers. */
const UNCACHED: System = 'tickql, page cache off';
/** The service as it runs by default: fresh pages, identical requests sharing computations. */
const CACHED: System = 'tickql, default (fresh, shared)';

/** Client connections, each with one request in flight. */
const CONNECTIONS = 4;
const WRITE_RATE = 5000;
const PREFIX = 'bench';

function casesFor(size: number): QueryCase[] {
  const offset = Math.floor(size / 2);
  return QUERY_CASES.map((c) =>
    c.query.offset === -1
      ? {
          ...c,
          name: `deep page (offset ${offset})`,
          query: { ...c.query, offset },
          graphql: `{ markets(sort: { field: PRICE, direction: ASC }, page: { offset: ${offset}, limit: 50 }) { total items { id price } } }`,
        }
      : c,
  );
}

/** Redis memory the live state takes, per market, all indexes included. */
interface Memory {
  readonly size: number;
  readonly bytesPerMarket: number;
  /** Of which the search index (trigrams of each symbol). */
  readonly searchIndexBytesPerMarket: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

interface Row {
  readonly size: number;
  readonly query: string;
  readonly system: System;
  readonly load: LoadResult;
  readonly writesPerSecond: number;
}

export async function marketsQuery(context: ScenarioContext): Promise<ScenarioReport> {
  const sizes = context.smoke ? [300] : [1000, 10_000, 50_000];
  const writeRate = context.smoke ? 200 : WRITE_RATE;
  const redis = new Redis(context.redisUrl);
  defineScripts(redis);
  const keys = createKeys(PREFIX);
  const pool = context.postgresUrl ? new pg.Pool({ connectionString: context.postgresUrl, max: 4 }) : null;
  const systems = SYSTEMS.filter((s) => s !== 'PostgreSQL' || pool !== null);
  const rows: Row[] = [];
  const memory: Memory[] = [];
  try {
    for (const size of sizes) {
      context.log(`markets query: seeding ${size} markets`);
      await redis.flushall();
      const empty = await usedMemory(redis);
      const markets = syntheticMarkets(size, 42);
      for (let i = 0; i < markets.length; i += 2000) await upsertMarkets(redis, keys, markets.slice(i, i + 2000));
      memory.push({
        size,
        bytesPerMarket: ((await usedMemory(redis)) - empty) / size,
        searchIndexBytesPerMarket: Number(await redis.call('MEMORY', 'USAGE', keys.searchIndex, 'SAMPLES', '0')) / size,
      });
      if (pool) await createTable(pool, markets);
      const cases = casesFor(size);
      await checkSameAnswers(cases, redisMarketSource(redis, keys), fetchAndSortSource(redis, keys), pool && postgresSource(pool));

      for (const system of systems) {
        const writer = await startChild('bench/servers/market-writer.ts', {
          TARGET: system === 'PostgreSQL' ? 'postgres' : 'redis',
          REDIS_URL: context.redisUrl,
          REDIS_PREFIX: PREFIX,
          POSTGRES_URL: context.postgresUrl ?? '',
          SIZE: String(size),
          RATE: String(writeRate),
        });
        const server = await startChild<{ url: string }>('bench/servers/query-server.ts', {
          SOURCE: SOURCE[system],
          REDIS_URL: context.redisUrl,
          REDIS_PREFIX: PREFIX,
          POSTGRES_URL: context.postgresUrl ?? '',
        });
        const results: Array<{ name: string; load: LoadResult }> = [];
        for (const c of cases) {
          context.log(`markets query: ${size} markets, ${system}, ${c.name}`);
          results.push({ name: c.name, load: await runLoad({ url: server.info.url, body: JSON.stringify({ query: c.graphql }), connections: CONNECTIONS, durationS: context.durationS }) });
        }
        await server.stop();
        const written = (await writer.stop()) as { perSecond: number } | null;
        for (const r of results) rows.push({ size, query: r.name, system, load: r.load, writesPerSecond: written?.perSecond ?? NaN });
      }
    }
  } finally {
    redis.disconnect();
    await pool?.end();
  }
  return report(context, sizes, systems, rows, memory, writeRate);
}

/** The systems must return the same pages, or comparing their speed means nothing. */
async function checkSameAnswers(cases: readonly QueryCase[], ...sources: Array<MarketSource | null>): Promise<void> {
  for (const c of cases) {
    const answers = await Promise.all(sources.filter((s): s is MarketSource => s !== null).map((s) => s.page(c.query)));
    const shapes = answers.map((a) => JSON.stringify({ total: a.total, ids: a.items.map((m) => m.id) }));
    if (new Set(shapes).size !== 1) throw new Error(`markets query: the systems disagree on "${c.name}": ${shapes.map((s) => s.slice(0, 200)).join(' / ')}`);
  }
}

function report(context: ScenarioContext, sizes: readonly number[], systems: readonly System[], rows: readonly Row[], memory: readonly Memory[], writeRate: number): ScenarioReport {
  const find = (size: number, query: string, system: System) => rows.find((r) => r.size === size && r.query === query && r.system === system);
  const tables: Table[] = sizes.map((size) => ({
    caption: `${size.toLocaleString('en')} markets, writer at ${writeRate.toLocaleString('en')} updates/s`,
    columns: ['query', 'system', 'requests/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'failed', 'writes/s achieved', 'tickql (cache off) vs this, req/s'],
    rows: rows
      .filter((r) => r.size === size)
      .map((r) => {
        const tickql = find(size, r.query, UNCACHED);
        return [
          r.query,
          r.system,
          r.load.requestsPerSecond.toFixed(0),
          ms(r.load.latency.p50),
          ms(r.load.latency.p99),
          ms(r.load.latency.p999),
          r.load.failures,
          r.writesPerSecond.toFixed(0),
          tickql && r.system !== UNCACHED && r.system !== CACHED ? ratio(tickql.load.requestsPerSecond / r.load.requestsPerSecond) : '',
        ];
      }),
  }));

  tables.push({
    caption: 'Redis memory of the live state (used_memory before and after writing the markets; the search index by MEMORY USAGE)',
    columns: ['markets', 'bytes per market, all indexes', 'of which the search index'],
    rows: memory.map((m) => [m.size.toLocaleString('en'), m.bytesPerMarket.toFixed(0), m.searchIndexBytesPerMarket.toFixed(0)]),
  });

  const charts: BarChart[] = sizes.map((size) => ({
    file: `markets-query-${size}.svg`,
    title: `markets query at ${size.toLocaleString('en')} markets, ingesting ${writeRate.toLocaleString('en')} updates/s`,
    unit: 'requests per second, 4 connections (log scale; longer is better)',
    log: true,
    groups: [...new Set(rows.filter((r) => r.size === size).map((r) => r.query))].map((query) => ({
      label: query,
      bars: systems.flatMap((system) => {
        const row = find(size, query, system);
        return row ? [{ label: system, value: row.load.requestsPerSecond }] : [];
      }),
    })),
  }));

  const findings: string[] = [];
  const target = sizes.includes(10_000) ? 10_000 : sizes[sizes.length - 1]!;
  const at = (size: number, system: System) => rows.filter((r) => r.size === size && r.system === system);
  const rps = (size: number, query: string, system: System) => find(size, query, system)?.load.requestsPerSecond ?? NaN;
  const vsFetch = at(target, UNCACHED).map((r) => r.load.requestsPerSecond / rps(target, r.query, 'fetch-and-sort'));
  findings.push(
    `Target "at least 10x fetch-and-sort at ${target.toLocaleString('en')} markets" (cache off, data layer against data layer): ${vsFetch.every((x) => x >= 10) ? 'met' : 'missed'}; ${at(target, UNCACHED)
      .map((r, i) => `${r.query} ${ratio(vsFetch[i]!)}`)
      .join(', ')}.`,
  );
  if (systems.includes('PostgreSQL')) {
    for (const system of [UNCACHED, CACHED]) {
      const behind = rows.filter((r) => r.system === 'PostgreSQL' && rps(r.size, r.query, system) <= r.load.requestsPerSecond);
      findings.push(
        behind.length === 0
          ? `Target "ahead of PostgreSQL at every size", ${system}: met for every query at every size (requests/s).`
          : `Target "ahead of PostgreSQL at every size", ${system}: missed for ${behind.map((r) => `${r.query} at ${r.size.toLocaleString('en')}`).join('; ')}.`,
      );
    }
  } else {
    findings.push('PostgreSQL was not reachable, so its baseline was skipped.');
  }
  for (const system of [UNCACHED, CACHED]) {
    const p99s = at(target, system).map((r) => r.load.latency.p99);
    findings.push(
      `Target "p99 at most 10 ms at ${target.toLocaleString('en')} markets while ingesting", ${system}: ${p99s.every((p) => p <= 10) ? 'met' : 'missed'}; p99 ${p99s.map(ms).join(', ')} ms.`,
    );
  }

  return {
    title: '1. markets query',
    method: `Each system serves the same GraphQL request through the same yoga server (\`bench/servers/query-server.ts\`); only the source of the page differs: tickql's Lua script in Redis, measured twice: **page cache off** (every request runs the script; the data layer against the other data layers) and **default** (the service's page source: every answer computed after its request arrived, identical requests that arrive before a computation is sent sharing it; src/redis/page-cache.ts), then **fetch-and-sort** (every market fetched from the same Redis hash into Node, then filtered, sorted and paged there), or **PostgreSQL** (one table with an index per sort order and per filter column, a trigram index for search, \`WHERE\` / \`ORDER BY ... NULLS LAST, id\` / \`LIMIT\` / \`OFFSET\` and the total from \`count(*) OVER ()\`). Before measuring, the three are checked to return the same pages. During every measurement a separate process writes ${writeRate.toLocaleString('en')} market updates per second to the system's store (tickql's own upsert script for Redis, which also updates every index and publishes; an \`UPDATE ... FROM unnest\` per 20 ms batch for PostgreSQL). Load: autocannon, ${CONNECTIONS} connections with one request in flight each, ${context.durationS} s per query; latencies from an HDR histogram at microsecond resolution. The load generator, the server, the writer and the store share the machine's two cores.`,
    tables,
    charts: context.smoke ? [] : charts,
    findings,
  };
}
