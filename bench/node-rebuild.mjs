#!/usr/bin/env node
// The Node.js buildpack's no-op rebuild (issue 5's goal): `lading build --publish` of test/fixtures/apps/node-express
// with no builder and no run image (the default builder, onto run-base) to a local registry.
//   - cold build: an empty --cache-dir (the stack already exists in LADING_HOME: its first-use build is timed
//     separately, once);
//   - warm no-op rebuild: the same cache dir, nothing changed; median of ≥ 5 runs with min–max, the phase
//     durations lading reports (--json) and the blobs uploaded. Goal ≤ 1.0 s.
// Needs `npm run build`, docker-registry, apt access for the stack and the npm registry (scripts/setup-system).
// Usage: node bench/node-rebuild.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEB_CACHE, LADING as lading, median, requireBuilt, ROOT as root, runsArg, startRegistry } from './support.mjs';

requireBuilt();
const runs = runsArg();

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-node-rebuild-'));
let registry;
try {
  registry = await startRegistry(tmp);
  const host = `127.0.0.1:${registry.port}`;
  const home = join(tmp, 'home');
  if (existsSync(DEB_CACHE)) cpSync(DEB_CACHE, join(home, 'cache', 'debs'), { recursive: true });
  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/node-express'), app, { recursive: true });
  const env = { ...process.env, LADING_HOME: home };
  delete env.SOURCE_DATE_EPOCH;

  const build = (ref, cacheDir) => {
    const start = process.hrtime.bigint();
    const out = execFileSync(lading, ['build', ref, '--publish', '-p', app, '--cache-dir', cacheDir, '--json'],
      { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result: JSON.parse(out.toString()) };
  };

  // First use: the stack (run-base) is built into LADING_HOME. Timed once, not part of the cold build.
  const first = build(`${host}/bench/warmup:latest`, join(tmp, 'cache-warmup'));
  const ref = `${host}/bench/node-express:latest`;
  const cache = join(tmp, 'cache');
  const cold = build(ref, cache);
  const warm = [];
  const phases = {};
  let uploaded = 0;
  const digests = new Set();
  for (let r = 0; r < runs; r++) {
    const w = build(ref, cache);
    warm.push(w.seconds);
    uploaded = Math.max(uploaded, w.result.uploaded ?? 0);
    digests.add(w.result.digest);
    for (const [k, v] of Object.entries(w.result.durations ?? {})) (phases[k] ??= []).push(v);
  }
  console.log(`lading build --publish of test/fixtures/apps/node-express (default builder, run-base) to docker-registry on 127.0.0.1`);
  console.log(`first use (stack built into LADING_HOME) ${first.seconds.toFixed(3)} s (once)`);
  console.log(`cold build (empty cache dir)             ${cold.seconds.toFixed(3)} s (once)`);
  console.log(`warm no-op rebuild                       ${median(warm).toFixed(3)} s median of ${runs} (min ${Math.min(...warm).toFixed(3)} – max ${Math.max(...warm).toFixed(3)})  goal ≤ 1.0 s  blobs uploaded ≤ ${uploaded}  digests ${digests.size === 1 && digests.has(cold.result.digest) ? 'all equal to the cold build' : 'DIFFER'}`);
  console.log(`  phase medians (s): ${Object.entries(phases).map(([k, v]) => `${k} ${median(v).toFixed(3)}`).join(', ')}`);
} finally {
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
