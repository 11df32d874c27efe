/**
 * Reading V8 CPU profiles (`.cpuprofile`, what `node --cpu-prof` and the inspector's
 * `Profiler.stop` produce) into a few lines a report can print: how idle the process was, and
 * where its busy time went, by area (an npm package, a folder of this repository, Node's own
 * modules, or V8's `(garbage collector)` and `(program)`) and by function (self time).
 *
 * Node refuses `--cpu-prof` in NODE_OPTIONS, so bench children profile themselves through
 * `node:inspector` (`Profiler.start` / `Profiler.stop`) and write the profile to a file;
 * tickql's own processes do it through bench/lib/cpu-profile-preload.cjs. Their frames point
 * into the esbuild bundle (dist/main.js); `mapToSources` turns them back into src/ files with
 * the bundle's source map, so the areas read as they do for a profile of the TypeScript.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './processes';

/** The bundle `npm start` runs, as the profiles of tickql's processes name it. */
const BUNDLE_URL = pathToFileURL(join(ROOT, 'dist', 'main.js')).href;

/** The parts of a `.cpuprofile` read here. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber?: number };
  }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A name and its share (0..1) of the process's busy time. */
export interface Share {
  readonly name: string;
  readonly share: number;
}

export interface ProfileSummary {
  /** Share of sampled time the process was idle (waiting for I/O or timers). */
  readonly idle: number;
  /** Busy seconds sampled. */
  readonly busySeconds: number;
  /** Self time by area, largest first. */
  readonly byArea: readonly Share[];
  /** Self time by function (`name file:line`), largest first. */
  readonly byFunction: readonly Share[];
}

/** Summarizes a profile, keeping the `top` largest areas and functions. */
export function summarizeProfile(profile: CpuProfile, top = 10): ProfileSummary {
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const file = shortFile(url);
    add(byFunction, file ? `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}` : functionName || '(anonymous)', us);
    add(byArea, file ? areaOf(file) : functionName || '(anonymous)', us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, share: busyUs > 0 ? us / busyUs : 0 }));
  const total = idleUs + busyUs;
  return { idle: total > 0 ? idleUs / total : 0, busySeconds: busyUs / 1e6, byArea: sorted(byArea), byFunction: sorted(byFunction) };
}

/** Reads a profile of one of tickql's processes (the bundle) and summarizes it by source file. */
export function summarizeBundleProfile(path: string, top = 10): ProfileSummary {
  return summarizeProfile(mapToSources(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, BUNDLE_URL), top);
}

/** The profile with every frame in `bundleUrl` (a `file://` URL) moved to its original source and line, read from `<bundle>.map`. */
export function mapToSources(profile: CpuProfile, bundleUrl: string): CpuProfile {
  const map = new SourceMap(JSON.parse(readFileSync(new URL(`${bundleUrl}.map`), 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  return {
    ...profile,
    nodes: profile.nodes.map((node) => {
      const { url, lineNumber, columnNumber } = node.callFrame;
      if (url !== bundleUrl) return node;
      const entry = map.findEntry(lineNumber, columnNumber ?? 0);
      if (!('originalSource' in entry)) return node;
      return { ...node, callFrame: { ...node.callFrame, url: entry.originalSource, lineNumber: entry.originalLine, columnNumber: entry.originalColumn } };
    }),
  };
}

/** `name 41 %, name 12 %, ...` for the first `count` shares. */
export function formatShares(shares: readonly Share[], count: number): string {
  return shares
    .slice(0, count)
    .map((s) => `${s.name} ${(s.share * 100).toFixed(0)} %`)
    .join(', ');
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/** `file:///…/node_modules/graphql/execution/execute.js` -> `graphql/execution/execute.js`; repo files from `src/` or `bench/`. */
function shortFile(url: string): string {
  if (url === '') return '';
  const inPackage = /node_modules\/(.*)$/.exec(url);
  if (inPackage) return inPackage[1]!;
  const inRepo = /\/((?:src|bench|test)\/.*)$/.exec(url);
  if (inRepo) return inRepo[1]!;
  return url;
}

/** `@scope/pkg/…` -> `@scope/pkg`, `pkg/…` -> `pkg`, `src/subscriptions/x.ts` -> `src/subscriptions`, `node:…` -> Node. */
function areaOf(file: string): string {
  if (file.startsWith('node:')) return 'Node built-ins';
  const parts = file.split('/');
  if (parts[0] === 'src' || parts[0] === 'bench' || parts[0] === 'test') return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
  return parts[0]!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
