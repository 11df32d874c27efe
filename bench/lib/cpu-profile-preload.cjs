/**
 * Bench-only preload: lets a scenario take CPU profiles of tickql's own processes (the
 * supervisor's cluster workers), which the bench does not start itself and so cannot wire up
 * the way bench/servers/tickql-app.ts profiles itself. Node refuses `--cpu-prof` in
 * NODE_OPTIONS, but accepts `--require`, and cluster workers inherit NODE_OPTIONS:
 *
 *   NODE_OPTIONS="--require <this file>" BENCH_CPU_PROFILE_DIR=<dir> node dist/main.js
 *
 * In every process of the tree, the first SIGUSR2 starts V8's sampling profiler (through
 * `node:inspector`) and the next one stops it and writes `<dir>/<kind>-<pid>.cpuprofile`, kind
 * being the worker's TICKQL_PROCESS (ingest, serve) or `main`; it is written under another
 * name and renamed, so a file that exists is complete. Without BENCH_CPU_PROFILE_DIR this
 * does nothing. BENCH_CPU_PROFILE_DIR is the bench's variable, not tickql's.
 *
 * CommonJS, because `--require` loads it before tickql's ES module bundle; not TypeScript,
 * because plain `node` runs it.
 */
'use strict';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const { Session } = require('node:inspector');
  const { renameSync, writeFileSync } = require('node:fs');
  const { join } = require('node:path');
  const session = new Session();
  session.connect();
  let profiling = false;
  process.on('SIGUSR2', () => {
    profiling = !profiling;
    if (profiling) {
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    session.post('Profiler.stop', (err, result) => {
      if (err) {
        process.stderr.write(`cpu-profile-preload: ${err.message}\n`);
        return;
      }
      const path = join(dir, `${process.env.TICKQL_PROCESS ?? 'main'}-${process.pid}.cpuprofile`);
      writeFileSync(`${path}.partial`, JSON.stringify(result.profile));
      renameSync(`${path}.partial`, path);
    });
  });
}
