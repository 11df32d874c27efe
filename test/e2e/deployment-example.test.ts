/**
 * The deployment example does what it says (deploy/compose.yaml, deploy/Dockerfile,
 * docs/DEPLOYMENT.md), checked without Docker, which this machine does not have.
 *
 * The image is reproduced by taking the Dockerfile's steps in a staging directory
 * (test/support/dockerfile.ts: COPY, RUN npm run build; `npm ci` replaced by a link to
 * node_modules). Each tickql service of the compose file then runs as a real process tree on
 * this machine: the image's CMD (or the service's command) in the staging directory, with the
 * service's environment. Only what cannot be the same here is remapped:
 * - REDIS_URL: the compose file's `redis` service becomes a private redis-server on a free
 *   port, configured with the options of that service's command (CONFIG SET each one, so an
 *   option Redis does not know fails the test);
 * - PORT and HOST: each instance gets a free port on 127.0.0.1 (in the containers each listens
 *   on 4000 and Docker publishes it);
 * - the exchanges: the five local exchanges (test/support/exchanges/), through
 *   `<EXCHANGE>_WS_URL` and `<EXCHANGE>_REST_URL`.
 * Then it checks the claims: every instance answers /readyz and the image's health check; each
 * feed is ingested by exactly one instance (`feeds { ingestedBy }`, the instances' own
 * /metrics, the exchanges' connection counts) and a ROLE=serve instance ingests none; every
 * instance serves every market and its updates; SIGTERM stops each instance within the
 * compose file's stop_grace_period with exit code 0. Every process is stopped by pid.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { freePort } from '../../bench/lib/service';
import { ROOT } from '../../bench/lib/processes';
import { EXCHANGES, loadConfig, type Config } from '../../src/config';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-server';
import { stageImage, type StagedImage } from '../support/dockerfile';
import { startLocalExchanges, type LocalExchanges } from '../support/exchanges/local-exchanges';
import { startTickql, type TickqlProcess } from '../support/tickql-process';

const COMPOSE = join(ROOT, 'deploy', 'compose.yaml');
/** Markets each local exchange lists: enough for several per exchange, few enough to start fast. */
const LISTING = 12;

interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile?: string };
  readonly command?: string[];
  readonly entrypoint?: unknown;
  readonly environment?: Record<string, string | number | boolean | null> | string[];
  readonly ports?: Array<string | { readonly target: number }>;
  readonly depends_on?: string[] | Record<string, unknown>;
  readonly stop_grace_period?: string;
  readonly healthcheck?: { readonly disable?: boolean };
}

/** One tickql service, as run here. */
interface Instance {
  readonly name: string;
  /** The service's environment as the compose file gives it. */
  readonly composeEnv: Record<string, string>;
  /** What it runs with here (remapped). */
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly base: string;
  process: TickqlProcess | null;
}

describe('the deployment example (deploy/compose.yaml)', () => {
  const compose = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  const services = Object.entries(compose.services);
  const tickqlServices = services.filter(([, service]) => service.build !== undefined);
  const [redisName, redisService] = services.find(([, service]) => service.image?.startsWith('redis'))!;
  let image: StagedImage;
  let redis: LocalRedis;
  let exchanges: LocalExchanges;
  const instances: Instance[] = [];
  const serving = () => instances.filter((i) => i.config.role !== 'ingest');

  beforeAll(async () => {
    // The image, Redis and the exchanges at once: they do not depend on each other.
    const stagedImage = Promise.resolve().then(() => {
      const build = tickqlServices[0]![1].build!;
      return stageImage(resolve(ROOT, 'deploy', build.context, build.dockerfile ?? 'Dockerfile'), resolve(ROOT, 'deploy', build.context), join(ROOT, 'node_modules'));
    });
    [image, redis, exchanges] = await Promise.all([stagedImage, startLocalRedis(), startLocalExchanges({ listing: LISTING, updatesPerSecond: 20 })]);
    // The redis service's options, on the private server.
    const client = new Redis(redis.url);
    try {
      for (const [name, value] of redisCommandOptions(redisService.command ?? [])) await client.config('SET', name, value);
    } finally {
      client.disconnect();
    }

    for (const [name, service] of tickqlServices) {
      const composeEnv = environment(service);
      const port = await freePort();
      const env = { ...composeEnv, REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1', ...exchanges.env };
      instances.push({ name, composeEnv, env, config: loadConfig(env), base: `http://127.0.0.1:${port}`, process: null });
    }
    // As `docker compose up` does once Redis is healthy: every instance at once.
    for (const instance of instances) {
      const service = compose.services[instance.name]!;
      instance.process = startTickql({ command: service.command ?? image.cmd, cwd: image.dir, env: instance.env });
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.process?.stop()));
    await exchanges?.stop();
    await redis?.stop();
    image?.remove();
  }, 30_000);

  /** On failure, the instances' logs: what they said is the quickest way to the cause. */
  const logsOnFailure = () =>
    onTestFailed(() => {
      for (const i of instances) console.error(`---- ${i.name} ----\n${i.process?.log().slice(-4000)}`);
    });

  it('is a compose file whose services, variables, ports and Redis options mean what its comments say', () => {
    // Variables: each one is read by src/config.ts (a misspelt name would be ignored silently).
    for (const { name, composeEnv } of instances) {
      for (const variable of Object.keys(composeEnv)) expect(isConfigVariable(variable), `${name}: ${variable}`).toBe(true);
      // REDIS_URL names the compose file's Redis service.
      expect(new URL(composeEnv.REDIS_URL!).host, name).toBe(`${redisName}:6379`);
      expect(dependsOn(compose.services[name]!), name).toContain(redisName);
    }
    // So does every variable in docs/DEPLOYMENT.md's table of them (the first cell of each row).
    const doc = readFileSync(join(ROOT, 'docs', 'DEPLOYMENT.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Environment variables for a deployment'));
    const documented = section
      .slice(0, section.indexOf('\n## ', 1))
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace('<EXCHANGE>', 'BINANCE')));
    expect(documented.length).toBeGreaterThan(10);
    for (const variable of documented) expect(isConfigVariable(variable), `docs/DEPLOYMENT.md: ${variable}`).toBe(true);
    // Two instances that may ingest (one ingests each feed, one stands by) and one that only serves.
    expect(instances.filter((i) => i.config.role === 'all').length).toBeGreaterThanOrEqual(2);
    expect(instances.filter((i) => i.config.role === 'serve').length).toBeGreaterThanOrEqual(1);
    // The port each container publishes is the one tickql listens on there, and the image exposes it.
    for (const { name, composeEnv } of instances) {
      const inContainer = loadConfig(composeEnv).port;
      for (const port of compose.services[name]!.ports ?? []) expect(containerPort(port), name).toBe(inContainer);
      expect(image.exposed, name).toContain(inContainer);
      // Longer than the supervisor's own shutdown bound (10 s), so Docker never kills it midway.
      expect(durationMs(compose.services[name]!.stop_grace_period ?? '10s'), name).toBeGreaterThan(10_000);
    }
    // Redis: no persistence, no eviction (docs/DEPLOYMENT.md says why).
    const options = new Map(redisCommandOptions(redisService.command ?? []));
    expect(options.get('maxmemory-policy')).toBe('noeviction');
    expect(options.get('save')).toBe('');
    expect(options.get('appendonly')).toBe('no');
    // What the Dockerfile copies is not left out of the build context by .dockerignore.
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    for (const source of image.copied) for (const entry of ignored) expect(source === entry || source.startsWith(`${entry}/`), `${source} vs ${entry}`).toBe(false);
  });

  it('every instance answers /readyz and the image health check', async () => {
    logsOnFailure();
    for (const i of serving()) {
      await expect.poll(() => status(`${i.base}/readyz`), { timeout: 60_000, interval: 200 }).toBe(200);
      if (image.healthcheck && !compose.services[i.name]!.healthcheck?.disable) expect(healthcheck(image, i.env), i.name).toBe(0);
    }
  }, 70_000);

  it('ingests each feed in exactly one instance; the others stand by, and a ROLE=serve instance ingests none', async () => {
    logsOnFailure();
    const feeds = instances[0]!.config.feeds;
    expect(feeds.length).toBeGreaterThan(0);
    // Every instance tells the same story: each feed LIVE, with all its markets, ingested by a named process.
    for (const i of serving()) {
      await expect
        .poll(async () => (await graphql(i, '{ feeds { exchange status markets ingestedBy } }')).feeds.filter((f: any) => f.status === 'LIVE' && f.markets === LISTING && f.ingestedBy !== null).length, { timeout: 20_000, interval: 200 })
        .toBe(feeds.length);
    }
    const answers = await Promise.all(serving().map(async (i) => (await graphql(i, '{ feeds { exchange ingestedBy } }')).feeds as Array<{ exchange: string; ingestedBy: string }>));
    for (const answer of answers) expect(sortBy(answer)).toEqual(sortBy(answers[0]!));
    const ingestedBy = new Map(answers[0]!.map((f) => [f.exchange, f.ingestedBy]));

    // Each instance's own /metrics reports the feeds its ingest process holds: each feed in exactly one.
    const held = new Map<string, string[]>();
    for (const i of serving()) held.set(i.name, feedsInMetrics(await text(`${i.base}/metrics`)));
    for (const feed of feeds) {
      const holders = [...held].filter(([, list]) => list.includes(feed)).map(([name]) => name);
      expect(holders, feed).toHaveLength(1);
      expect(instances.find((i) => i.name === holders[0])!.config.role, feed).not.toBe('serve');
    }
    // One ingest process per instance: the feeds an instance holds share one ingestedBy, and no other instance's.
    const owners = [...held].filter(([, list]) => list.length > 0).map(([, list]) => new Set(list.map((feed) => ingestedBy.get(feed))));
    for (const owner of owners) expect(owner.size).toBe(1);
    expect(new Set(owners.flatMap((owner) => [...owner])).size).toBe(owners.length);
    // A ROLE=serve instance runs serving processes only: none of its processes is an ingest process.
    for (const i of instances.filter((x) => x.config.role === 'serve')) {
      expect(held.get(i.name)).toEqual([]);
      const running = await kinds(i.process!);
      expect(running).toContain('serve');
      expect(running).not.toContain('ingest');
    }
    // The exchanges see one ingester each: the connections the holder reports, and no more.
    const connections = await exchanges.connections();
    const reported = (await graphql(serving()[0]!, '{ feeds { exchange connections } }')).feeds as Array<{ exchange: string; connections: number }>;
    for (const feed of feeds) expect(connections[feed as keyof typeof connections], feed).toBe(reported.find((f) => f.exchange === feed)!.connections);
  }, 40_000);

  it('serves every market, and its updates, from every instance', async () => {
    logsOnFailure();
    const feeds = instances[0]!.config.feeds;
    const pages = await Promise.all(serving().map(async (i) => (await graphql(i, '{ markets(sort: { field: SYMBOL, direction: ASC }, page: { limit: 500 }) { total items { id } } }')).markets));
    for (const page of pages) {
      expect(page.total).toBe(feeds.length * LISTING);
      expect(page.items.map((m: { id: string }) => m.id)).toEqual(pages[0].items.map((m: { id: string }) => m.id));
    }
    // Updates reach a subscriber of each instance, a ROLE=serve one included (through Redis pub/sub).
    for (const i of serving()) expect(await firstUpdate(i), i.name).toMatch(/^[a-z]+:/);
  }, 30_000);

  it('stops every instance on SIGTERM within its stop_grace_period, with exit code 0 and nothing left running', async () => {
    logsOnFailure();
    const exits = await Promise.all(instances.map((i) => i.process!.stop(durationMs(compose.services[i.name]!.stop_grace_period ?? '10s'))));
    for (const [n, exit] of exits.entries()) {
      expect(exit, instances[n]!.name).toMatchObject({ code: 0, signal: null, killed: [] });
      // Nothing went wrong on the way, the stop included ("workers did not stop in time" is an error).
      const errors = instances[n]!.process!.log().split('\n').filter((line) => /"level":(50|60)/.test(line));
      expect(errors, instances[n]!.name).toEqual([]);
    }
    // Nothing answers any more, and the health check says so.
    for (const i of serving()) {
      await expect(fetch(`${i.base}/healthz`)).rejects.toThrow();
      if (image.healthcheck) expect(healthcheck(image, i.env)).toBe(1);
    }
  }, 40_000);
});

// ---- the compose file ------------------------------------------------------------------------

/** A service's environment, map or list form, as strings. */
function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value === null ? '' : String(value)]));
}

function dependsOn(service: ComposeService): string[] {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

/** The container side of a `ports` entry: "4001:4000", "127.0.0.1:4001:4000/tcp" or `{ target: 4000 }`. */
function containerPort(entry: string | { readonly target: number }): number {
  if (typeof entry !== 'string') return entry.target;
  return Number(entry.split(':').pop()!.replace(/\/tcp$/, ''));
}

/** A compose duration ("15s", "1m30s", "500ms") in milliseconds. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text) throw new Error(`not a compose duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

/** `redis-server --name value ...` as [name, value] pairs (a flag's values joined by spaces). */
function redisCommandOptions(command: readonly string[]): Array<[string, string]> {
  if (command.length > 0 && command[0] !== 'redis-server') throw new Error(`the redis service's command must start with redis-server, not ${command[0]}`);
  const options: Array<[string, string]> = [];
  for (const word of command.slice(1)) {
    if (word.startsWith('--')) options.push([word.slice(2), '']);
    else if (options.length === 0) throw new Error(`${word}: redis-server takes no config file here`);
    else options[options.length - 1]![1] = options[options.length - 1]![1] === '' ? word : `${options[options.length - 1]![1]} ${word}`;
  }
  return options;
}

/** Whether src/config.ts reads this variable (a name in quotes, `env.NAME`, or `<EXCHANGE>_...`). */
function isConfigVariable(name: string): boolean {
  const source = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
  if (source.includes(`'${name}'`) || source.includes(`env.${name}`)) return true;
  const exchange = EXCHANGES.find((id) => name.startsWith(`${id.toUpperCase()}_`));
  return exchange !== undefined && source.includes(`\`\${prefix}${name.slice(exchange.length)}\``);
}

// ---- talking to an instance ------------------------------------------------------------------

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url)).status;
  } catch {
    return 0;
  }
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

async function graphql(instance: Instance, query: string): Promise<any> {
  const response = await fetch(`${instance.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(`${instance.name}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** The exchanges whose feed metrics an instance's /metrics reports: the feeds its ingest process holds. */
function feedsInMetrics(metrics: string): string[] {
  return [...metrics.matchAll(/^tickql_feed_up\{exchange="([^"]+)"\} /gm)].map((m) => m[1]!).sort();
}

/** The id of the first market update an SSE subscriber of `instance` receives. */
async function firstUpdate(instance: Instance): Promise<string> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  try {
    const response = await fetch(`${instance.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { priceUpdated { id price } }' }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let received = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${instance.name}: the stream ended before an update`);
      received += Buffer.from(value).toString();
      const id = /"priceUpdated":\{"id":"([^"]+)"/.exec(received)?.[1];
      if (id !== undefined) return id;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** The kinds of the workers under an instance's supervisor (TICKQL_PROCESS in their environment). */
async function kinds(instance: TickqlProcess): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await instance.tree()) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const kind = environ.find((entry) => entry.startsWith('TICKQL_PROCESS='));
      if (kind !== undefined) found.push(kind.slice('TICKQL_PROCESS='.length));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Runs the image's health check for an instance, as Docker would in its container; its exit code. */
function healthcheck(image: StagedImage, env: Record<string, string>): number {
  const [file, ...args] = image.healthcheck!;
  try {
    execFileSync(file === 'node' ? process.execPath : file!, args, { cwd: image.dir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore', timeout: 10_000 });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

function sortBy<T extends { exchange: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => a.exchange.localeCompare(b.exchange));
}
