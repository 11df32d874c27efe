import { getIntrospectionQuery, type GraphQLObjectType } from 'graphql';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GRAPHQL_LIMITS } from '../../src/config';
import { upsertMarkets } from '../../src/redis/upsert-markets';
import { buildSchema } from '../../src/schema';
import { makeMarket } from '../support/market-factory';
import { openTestRedis, type TestRedis } from '../support/redis';
import { startTestServer, type TestServer } from '../support/services';

describe('hostile GraphQL documents', () => {
  let t: TestRedis;
  const logged: Array<Record<string, unknown>> = [];
  let strict: TestServer;
  let closed: TestServer;

  beforeAll(async () => {
    t = await openTestRedis();
    await upsertMarkets(t.redis, t.keys, [makeMarket()]);
    const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
    strict = await startTestServer(t, { logger, limits: { maxDepth: 2, maxAliases: 3, maxTokens: 60, maxBodyBytes: 2048 } });
    closed = await startTestServer(t, { limits: { introspection: false, graphiql: false } });
  });
  afterAll(async () => {
    await strict.close();
    await closed.close();
    await t.close();
  });

  const rejected = async (server: TestServer, query: string, message: RegExp) => {
    const { data, errors } = await server.graphql(query);
    expect(data ?? null).toBeNull();
    expect(errors?.[0]?.message).toMatch(message);
  };

  it('refuses a document nested deeper than the limit', async () => {
    await rejected(strict, '{ markets { items { id } } }', /depth/i);
    expect((await strict.graphql('{ market(id: "binance:BTC/USDT") { id } }')).data).toEqual({ market: { id: 'binance:BTC/USDT' } });
  });

  it('refuses too many aliases', async () => {
    await rejected(strict, '{ a: market(id: "x") { id } b: market(id: "x") { id } c: market(id: "x") { id } d: market(id: "x") { id } }', /aliases/i);
  });

  it('refuses a document with too many tokens', async () => {
    await rejected(strict, `{ market(id: "x") { ${'id '.repeat(80)} } }`, /token/i);
  });

  it('refuses a request body over the size limit with 413, before parsing it', async () => {
    const response = await strict.yoga.fetch('http://tickql.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '5000' },
      body: JSON.stringify({ query: `{ market(id: "${'x'.repeat(4900)}") { id } }` }),
    });
    expect(response.status).toBe(413);
  });

  it('accepts GraphiQL introspection under the default limits', async () => {
    const { data, errors } = await closed.graphql('{ markets { total } }');
    expect(errors).toBeUndefined();
    expect(data.markets.total).toBe(1);
    const defaults = await startTestServer(t);
    try {
      // graphql-js's own, and with the options GraphiQL turns on (and the rest).
      for (const options of [undefined, { descriptions: true, inputValueDeprecation: true, schemaDescription: true }, { specifiedByUrl: true, directiveIsRepeatable: true, oneOf: true, inputValueDeprecation: true, schemaDescription: true }]) {
        const introspection = await defaults.graphql(getIntrospectionQuery(options));
        expect(introspection.errors).toBeUndefined();
        expect(introspection.data.__schema.queryType.name).toBe('Query');
      }
    } finally {
      await defaults.close();
    }
  });

  it('refuses an introspection document nested 30 levels of ofType deep, with a depth error', async () => {
    const ofTypes = (levels: number): string => (levels === 0 ? 'name' : `ofType { ${ofTypes(levels - 1)} }`);
    const deep = `{ __schema { types { fields { type { ${ofTypes(30)} } } } } }`;
    const defaults = await startTestServer(t);
    try {
      const { data, errors } = await defaults.graphql(deep);
      expect(data ?? null).toBeNull();
      expect(errors?.[0]?.message).toMatch(/depth limit of 25 exceeded, found 35/);
      // Three levels more than GraphiQL's nine still pass.
      expect((await defaults.graphql(`{ __schema { types { fields { type { ${ofTypes(12)} } } } } }`)).errors).toBeUndefined();
    } finally {
      await defaults.close();
    }
  });

  it('serves a 50-market watchlist of market(id) aliases selecting every Market field, under the default limits', async () => {
    const fields = Object.keys((buildSchema().getType('Market') as GraphQLObjectType).getFields()).join(' ');
    const ids = Array.from({ length: 50 }, (_, i) => `binance:W${i}/USDT`);
    await upsertMarkets(t.redis, t.keys, ids.map((_, i) => makeMarket({ base: `W${i}`, price: i + 1 })));
    const defaults = await startTestServer(t);
    try {
      const inline = `{ ${ids.map((id, i) => `m${i}: market(id: "${id}") { ${fields} }`).join(' ')} }`;
      const withVariables = `query Watchlist(${ids.map((_, i) => `$m${i}: ID!`).join(', ')}) { ${ids.map((_, i) => `m${i}: market(id: $m${i}) { ${fields} }`).join(' ')} }`;
      const withFragment = `query Watchlist { ${ids.map((id, i) => `m${i}: market(id: "${id}") { ...M }`).join(' ')} } fragment M on Market { ${fields} }`;
      const variables = Object.fromEntries(ids.map((id, i) => [`m${i}`, id]));
      for (const [query, vars] of [[inline, undefined], [withVariables, variables], [withFragment, undefined]] as const) {
        const { data, errors } = await defaults.graphql(query, vars);
        expect(errors).toBeUndefined();
        expect(Object.keys(data)).toHaveLength(50);
        expect(data.m49).toMatchObject({ id: 'binance:W49/USDT', price: 50 });
      }
      // One alias more is refused.
      const { errors } = await defaults.graphql(`{ ${inline.slice(1, -1)} extra: market(id: "x") { id } }`);
      expect(errors?.[0]?.message).toMatch(new RegExp(`Aliases limit of ${DEFAULT_GRAPHQL_LIMITS.maxAliases} exceeded, found 51`));
    } finally {
      await defaults.close();
    }
  });

  it('can switch introspection and GraphiQL off for production', async () => {
    const { errors } = await closed.graphql('{ __schema { queryType { name } } }');
    expect(errors?.[0]?.message).toMatch(/introspection/i);
    const page = await closed.yoga.fetch('http://tickql.test/graphql', { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('graphiql');
  });

  it('masks an unexpected error for the client and logs it in full', async () => {
    await t.redis.hset(t.keys.market, 'binance:BROKEN/USDT', '{not json');
    const { errors } = await strict.graphql('{ market(id: "binance:BROKEN/USDT") { id } }');
    expect(errors?.[0]?.message).toBe('Unexpected error.');
    expect(JSON.stringify(logged)).toContain('stored market is not JSON');
  });
});
