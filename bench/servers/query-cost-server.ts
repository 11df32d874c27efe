/**
 * A serving process for bench/scenarios/query-costs.ts: tickql's yoga server, assembled as
 * src/processes/serve.ts assembles it, with one part of the stack left out or changed per
 * VARIANT, over a page that costs nothing to fetch. What it reports at SIGTERM is its own CPU
 * time, so the scenario can price each part per request, whatever else the machine was doing.
 *
 * The page: fifty stored market texts (the JSON the Lua script returns), decoded per request
 * as the service decodes them (src/redis/market-codec.ts), so a request costs what it costs
 * after Redis answered.
 *
 * Env: VARIANT (see VARIANTS in query-costs.ts), NODE_ENV as the variant sets it.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config';
import type { Services } from '../../src/context';
import { silentLogger } from '../../src/logger';
import { Metrics } from '../../src/metrics';
import { DecodedMarkets, encodeMarket } from '../../src/redis/market-codec';
import type { MarketSource } from '../../src/redis/query-markets';
import { AccessControl } from '../../src/server/access-control';
import { createYogaServer } from '../../src/server/yoga';
import { rateTable, type QuoteRates } from '../../src/quote-rates';
import type { Staleness } from '../../src/staleness';
import { announceReady, onStop } from '../lib/processes';
import { syntheticMarkets } from '../lib/synthetic-markets';

export interface CostVariant {
  readonly jit: boolean;
  readonly armor: boolean;
  readonly metrics: boolean;
  /** API keys (off) and per-address budgets: `on` at a budget no request reaches, `off`, or no access control at all. */
  readonly access: 'none' | 'budgets-off' | 'budgets-on';
}

const variant = JSON.parse(process.env.VARIANT ?? '') as CostVariant;
// Kept as bytes: each request makes new strings of them, as ioredis does of every reply.
const stored = syntheticMarkets(50, 7).map((m) => Buffer.from(encodeMarket(m)));
const decoded = new DecodedMarkets(); // as src/redis/query-markets.ts decodes what Redis returns
const pageSource: MarketSource = {
  page: async (query) => ({ total: 10_000, items: stored.slice(0, query.limit).map((bytes) => decoded.decode(bytes.toString())) }),
};

const config = loadConfig({
  LOG_LEVEL: 'silent',
  // A budget large enough that no request is refused: the limiter runs and never says no.
  RATE_LIMIT_QUERIES: variant.access === 'budgets-on' ? '1000000' : '0',
  RATE_LIMIT_SUBSCRIPTIONS: '0',
});
const logger = silentLogger();
const services = {
  marketSource: pageSource,
  staleness: { isStale: () => false } as unknown as Staleness,
  // No rates: the shapes select no USD field, but every request's context takes a table.
  quoteRates: { current: () => rateTable(0, []) } as unknown as QuoteRates,
  configuredFeeds: [],
} as unknown as Services;

const plugins = [];
if (variant.metrics) plugins.push(new Metrics({}).plugin());
if (variant.access !== 'none') plugins.push(new AccessControl(config.access, () => {}).plugin());
const yoga = createYogaServer(services, logger, config.graphql, plugins, config.http, { jit: variant.jit, armor: variant.armor });

const server = createServer(yoga).listen(0, '127.0.0.1');
await once(server, 'listening');
onStop(() => {
  server.close();
  return { cpu: process.cpuUsage() };
});
announceReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` });
