/**
 * Where a `markets` request's CPU goes in a serving process, part by part: the same yoga
 * server as the service (bench/servers/query-cost-server.ts) over a page that costs nothing to
 * fetch, loaded by autocannon from this process, once per variant that leaves one part out.
 * Each figure is the server process's own CPU time divided by the requests it answered, so it
 * prices the part whatever else the machine was doing; throughput is reported beside it but
 * moves with the machine's load.
 *
 * The floor is `{ __typename }` through the whole stack: everything but execution and the
 * page. Issue 11's target is a top-50 page of every Market field at most 1.25 times the
 * floor's cost per request.
 */
import type { CostVariant } from '../servers/query-cost-server';
import type { ScenarioContext } from '../lib/context';
import { cpuSeconds } from '../lib/cpu';
import { runLoad, type LoadResult } from '../lib/load';
import { startChild } from '../lib/processes';
import { ratio, type ScenarioReport, type Table } from '../lib/report';

const EVERY_FIELD =
  'id exchange symbol nativeSymbol base quote price bid ask open24h high24h low24h volume24h quoteVolume24h change24h changePercent24h spreadPercent updatedAt stale';

const SHAPES = {
  floor: '{ __typename }',
  'top 50, every field': `{ markets(page: { limit: 50 }) { total items { ${EVERY_FIELD} } } }`,
  'top 50, four fields': '{ markets(page: { limit: 50 }) { total items { id price quoteVolume24h changePercent24h } } }',
} as const;
type Shape = keyof typeof SHAPES;

const SERVED: CostVariant = { jit: true, armor: true, metrics: true, access: 'budgets-off' };

interface Variant {
  readonly name: string;
  readonly stack: CostVariant;
  /** NODE_ENV of the server; anything but "production" turns graphql-js's development checks on. */
  readonly nodeEnv: 'production' | '';
}

const VARIANTS: readonly Variant[] = [
  { name: 'as served (default configuration)', stack: SERVED, nodeEnv: 'production' },
  { name: 'without graphql-jit', stack: { ...SERVED, jit: false }, nodeEnv: 'production' },
  { name: 'without graphql-armor', stack: { ...SERVED, armor: false }, nodeEnv: 'production' },
  { name: 'without metrics', stack: { ...SERVED, metrics: false }, nodeEnv: 'production' },
  { name: 'without access control', stack: { ...SERVED, access: 'none' }, nodeEnv: 'production' },
  { name: 'with per-address rate limits on', stack: { ...SERVED, access: 'budgets-on' }, nodeEnv: 'production' },
  { name: 'NODE_ENV not production (graphql-js development checks)', stack: SERVED, nodeEnv: '' },
];

interface Measured {
  readonly variant: string;
  readonly shape: Shape;
  readonly load: LoadResult;
  /** Server CPU microseconds per request. */
  readonly cpuUs: number;
}

export async function queryCosts(context: ScenarioContext): Promise<ScenarioReport> {
  const connections = context.smoke ? 2 : 16;
  const durationS = context.smoke ? 1 : Math.min(context.durationS, 8);
  const variants = context.smoke ? VARIANTS.slice(0, 2) : VARIANTS;
  const measured: Measured[] = [];
  for (const variant of variants) {
    const server = await startChild<{ url: string }>('bench/servers/query-cost-server.ts', { VARIANT: JSON.stringify(variant.stack), NODE_ENV: variant.nodeEnv });
    try {
      for (const shape of Object.keys(SHAPES) as Shape[]) {
        const body = JSON.stringify({ query: SHAPES[shape] });
        await runLoad({ url: server.info.url, body, connections, durationS: 1 }); // warm-up: compile, JIT, caches
        const before = await cpuSeconds(server.process.pid!);
        const load = await runLoad({ url: server.info.url, body, connections, durationS });
        const after = await cpuSeconds(server.process.pid!);
        if (load.failures > 0) throw new Error(`query costs: ${variant.name}, ${shape}: ${load.failures} failed requests`);
        if (before === null || after === null) throw new Error('query costs: /proc is needed to read the server CPU time');
        measured.push({ variant: variant.name, shape, load, cpuUs: ((after - before) * 1e6) / load.requests });
        context.log(`query costs: ${variant.name}, ${shape}: ${load.requestsPerSecond.toFixed(0)} req/s, ${(((after - before) * 1e6) / load.requests).toFixed(0)} µs/req`);
      }
    } finally {
      await server.stop();
    }
  }
  return report(measured, connections, durationS);
}

function report(measured: readonly Measured[], connections: number, durationS: number): ScenarioReport {
  const of = (variant: string, shape: Shape) => measured.find((m) => m.variant === variant && m.shape === shape);
  const shapes = Object.keys(SHAPES) as Shape[];
  const variants = [...new Set(measured.map((m) => m.variant))];
  const served = VARIANTS[0]!.name;
  const table: Table = {
    caption: 'Server CPU per request (µs) and throughput, by variant and shape',
    columns: ['variant', ...shapes.flatMap((s) => [`${s} µs/req`, `${s} req/s`]), 'top 50 every field / floor (CPU)'],
    rows: variants.map((v) => {
      const floor = of(v, 'floor');
      const page = of(v, 'top 50, every field');
      return [
        v,
        ...shapes.flatMap((s) => {
          const m = of(v, s);
          return m ? [m.cpuUs.toFixed(0), m.load.requestsPerSecond.toFixed(0)] : ['', ''];
        }),
        floor && page ? ratio(page.cpuUs / floor.cpuUs) : '',
      ];
    }),
  };
  const findings: string[] = [];
  const base = of(served, 'top 50, every field');
  const floor = of(served, 'floor');
  if (base && floor) {
    const r = base.cpuUs / floor.cpuUs;
    findings.push(`As served, a top-50 page of every field costs ${r.toFixed(2)}x the floor per request (target at most 1.25x): ${r <= 1.25 ? 'met' : 'missed'}.`);
  }
  for (const v of variants.filter((name) => name !== served)) {
    const m = of(v, 'top 50, every field');
    if (m && base) findings.push(`${v}: ${(m.cpuUs - base.cpuUs >= 0 ? '+' : '')}${(m.cpuUs - base.cpuUs).toFixed(0)} µs per top-50 request against as served.`);
  }
  return {
    title: "Query costs: where a request's CPU goes",
    method: [
      `tickql's yoga server in its own process (bench/servers/query-cost-server.ts), assembled as a serving process is, over a page that costs nothing to fetch (fifty stored market texts, decoded per request with the service's codec), so what is left is the GraphQL stack and the page's decoding and serialization.`,
      `autocannon in the bench process, ${connections} connections, ${durationS} s per shape after a 1 s warm-up; one server per variant, each leaving one part out.`,
      `µs/req is the server process's user + system CPU time (/proc) over the requests it answered: it prices a part whatever else used the machine. req/s moves with the machine's load.`,
    ].join(' '),
    tables: [table],
    charts: [],
    findings,
  };
}
