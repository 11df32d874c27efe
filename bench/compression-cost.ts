/**
 * What compressing a 500-market page costs: `npx tsx bench/compression-cost.ts`.
 *
 * Fills a private redis-server with 600 markets from the simulated exchange through the real
 * ingest (FEEDS=sim, in this process), stops it, and asks a serve-only tickql over HTTP for
 * a page of 500 markets with every Market field: once without Accept-Encoding and once per
 * encoding, checking that each compressed body decodes to the plain one. Then it compresses that body COMPRESSION_RUNS
 * times with each of tickql's settings (src/server/compression.ts, on libuv's thread pool as
 * served) and with a few others for comparison, one at a time, and prints CPU microseconds
 * per response (process CPU, every thread) and bytes before and after, as a Markdown table.
 * Last, CPU per request of the whole exchange over loopback (client and server in this
 * process), with and without compression.
 */
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import type { GraphQLObjectType } from 'graphql';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { silentLogger } from '../src/logger';
import { startLocalRedis } from '../src/redis/local-server';
import { buildSchema } from '../src/schema';
import { compress, type Encoding } from '../src/server/compression';

const PAGE_SIZE = 500;
const COMPRESSION_RUNS = Number(process.env.COMPRESSION_RUNS ?? 300);
const REQUEST_RUNS = Number(process.env.REQUEST_RUNS ?? 300);

interface Reply {
  readonly status: number;
  readonly encoding: string | undefined;
  readonly body: Buffer;
}

function post(url: string, query: string, acceptEncoding?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (acceptEncoding) headers['accept-encoding'] = acceptEncoding;
    // A new connection each time: a kept-alive one may be closed by the server just as it is reused.
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query }));
  });
}

const decoders: Record<Encoding, (b: Buffer) => Buffer> = { br: brotliDecompressSync, gzip: gunzipSync, deflate: inflateSync };

/** CPU microseconds (user + system, every thread of this process) per call of `run`. */
async function cpuPerCall(runs: number, run: () => unknown): Promise<number> {
  await run(); // warm up
  const start = process.cpuUsage();
  for (let i = 0; i < runs; i++) await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / runs;
}

async function main(): Promise<void> {
  const redis = await startLocalRedis();
  const env = { PORT: '0', HOST: '127.0.0.1', REDIS_URL: redis.url, REDIS_PREFIX: 'compression', LOG_LEVEL: 'silent', QUERY_CACHE_MS: '0' };
  const fields = Object.keys((buildSchema().getType('Market') as GraphQLObjectType).getFields()).join(' ');
  const query = `{ markets(page: { limit: ${PAGE_SIZE} }) { total items { ${fields} } } }`;
  // The markets come from the simulated exchange through the real ingest; it is stopped
  // before measuring, so that its work is not counted, and a serve-only process answers.
  const ingesting = await buildApp(loadConfig({ ...env, FEEDS: 'sim', SIM_MARKETS: '600' }), silentLogger(), { url: redis.url, privateServer: null });
  await ingesting.start();
  try {
    // Every simulated market updates about once a second: after a few seconds each has every field.
    for (let waited = 0; ; waited += 500) {
      const reply = JSON.parse((await post(ingesting.url(), query)).body.toString()) as { data?: { markets: { total: number } } };
      if ((reply.data?.markets.total ?? 0) >= 600) break;
      if (waited > 60_000) throw new Error('the simulated markets did not all arrive within 60 s');
      await delay(500);
    }
    await delay(5000);
  } finally {
    await ingesting.stop();
  }
  const app = await buildApp(loadConfig({ ...env, FEEDS: '' }), silentLogger(), { url: redis.url, privateServer: null });
  try {
    await app.start();
    const plain = await post(app.url(), query);
    if (plain.status !== 200 || plain.encoding !== undefined) throw new Error(`plain request: ${plain.status} ${plain.encoding}`);
    const items = (JSON.parse(plain.body.toString()) as { data: { markets: { items: unknown[] } } }).data.markets.items.length;
    const body = plain.body;
    const rows: string[] = [];
    const row = (setting: string, bytes: number, us: number) =>
      rows.push(`| ${setting} | ${body.length.toLocaleString('en')} | ${bytes.toLocaleString('en')} | ${(body.length / bytes).toFixed(1)}x | ${us.toFixed(0)} |`);

    for (const encoding of ['br', 'gzip', 'deflate'] as const) {
      // The same page served compressed: what a client receives, decoded, is the plain body.
      const served = await post(app.url(), query, encoding);
      if (served.encoding !== encoding) throw new Error(`asked for ${encoding}, got ${served.encoding ?? 'none'}`);
      if (!decoders[encoding](served.body).equals(body)) throw new Error(`the ${encoding} page does not decode to the plain one`);
      const compressed = await compress(body, encoding);
      row(`tickql ${encoding} (src/server/compression.ts)`, compressed.length, await cpuPerCall(COMPRESSION_RUNS, () => compress(body, encoding)));
    }
    for (const level of [1, 3, 6, 9]) {
      row(`gzip level ${level}, sync`, gzipSync(body, { level }).length, await cpuPerCall(COMPRESSION_RUNS, () => gzipSync(body, { level })));
    }
    for (const quality of [1, 2, 3, 4, 5, 11]) {
      const params = { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT };
      const runs = quality >= 10 ? Math.max(5, Math.floor(COMPRESSION_RUNS / 30)) : COMPRESSION_RUNS;
      row(`brotli quality ${quality}, sync`, brotliCompressSync(body, { params }).length, await cpuPerCall(runs, () => brotliCompressSync(body, { params })));
    }

    const perRequest: string[] = [];
    for (const acceptEncoding of [undefined, 'gzip', 'br']) {
      const us = await cpuPerCall(REQUEST_RUNS, () => post(app.url(), query, acceptEncoding));
      perRequest.push(`| ${acceptEncoding ?? 'none'} | ${us.toFixed(0)} |`);
    }

    process.stdout.write(
      [
        `Page: ${items} markets, every Market field (${fields.split(' ').length}), ${body.length.toLocaleString('en')} bytes of JSON. Node ${process.version}, ${COMPRESSION_RUNS} compressions per row.`,
        '',
        '| setting | bytes before | bytes after | ratio | CPU µs per response |',
        '|---|---|---|---|---|',
        ...rows,
        '',
        `Whole request over loopback (client and server in one process, ${REQUEST_RUNS} sequential requests, cache off):`,
        '',
        '| Accept-Encoding | CPU µs per request |',
        '|---|---|',
        ...perRequest,
        '',
      ].join('\n'),
    );
  } finally {
    await app.stop();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
