#!/usr/bin/env node
// The Go buildpack end to end (issue 6's targets): `lading build --publish` of test/fixtures/apps/go-http with
// no builder and no run image (the default builder, onto run-static) to a local registry.
//   - cold build: an empty --cache-dir (the stack already exists in LADING_HOME: its first-use build is
//     timed separately, once);
//   - warm no-op rebuild: the same cache dir, nothing changed; median of ≥ 5 runs. Goal ≤ 1.0 s;
//   - image size: the sum of the compressed layer sizes (`lading inspect --json`) against a `FROM scratch`
//     image of the same binary built with the buildpack's flags (buildah if installed, else the binary's
//     gzip size as the floor). Goal ≤ 1.1×.
// Needs `npm run build`, docker-registry, go, and apt access for the stack (scripts/setup-system).
// Usage: node bench/go.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEB_CACHE, has, LADING as lading, median, requireBuilt, ROOT as root, runsArg, startRegistry } from './support.mjs';

requireBuilt();
const runs = runsArg();

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-go-'));
let registry;
try {
  registry = await startRegistry(tmp);
  const host = `127.0.0.1:${registry.port}`;
  const home = join(tmp, 'home');
  if (existsSync(DEB_CACHE)) cpSync(DEB_CACHE, join(home, 'cache', 'debs'), { recursive: true });
  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/go-http'), app, { recursive: true });
  const env = { ...process.env, LADING_HOME: home };
  delete env.SOURCE_DATE_EPOCH;

  const build = (ref, cacheDir) => {
    const start = process.hrtime.bigint();
    const out = execFileSync(lading, ['build', ref, '--publish', '-p', app, '--cache-dir', cacheDir, '--json'],
      { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result: JSON.parse(out.toString()) };
  };
  const inspect = (ref) => JSON.parse(execFileSync(lading, ['inspect', ref, '--json'], { env, maxBuffer: 64 << 20 }).toString());
  const layerBytes = (ref) => inspect(ref).layers.reduce((n, l) => n + l.size, 0);

  // First use: the stack (run-static) is built into LADING_HOME. Timed once, not part of the cold build.
  const first = build(`${host}/bench/warmup:latest`, join(tmp, 'cache-warmup'));
  const ref = `${host}/bench/go-http:latest`;
  const cache = join(tmp, 'cache');
  const cold = build(ref, cache);
  const warm = [];
  const phases = {};
  const digests = new Set();
  let uploaded = 0;
  for (let r = 0; r < runs; r++) {
    const w = build(ref, cache);
    warm.push(w.seconds);
    uploaded = Math.max(uploaded, w.result.uploaded ?? 0);
    digests.add(w.result.digest);
    for (const [k, v] of Object.entries(w.result.durations ?? {})) (phases[k] ??= []).push(v);
  }
  const ladingBytes = layerBytes(ref);

  // The same binary, built by hand with the buildpack's flags.
  const bin = join(tmp, 'go-http');
  execFileSync('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-buildid=', '-o', bin, '.'],
    { cwd: app, env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '' }, stdio: 'inherit' });
  let floor;
  let floorLabel;
  if (has('buildah')) {
    const ctx = join(tmp, 'scratch');
    cpSync(bin, join(ctx, 'go-http'));
    writeFileSync(join(ctx, 'Containerfile'), 'FROM scratch\nCOPY go-http /go-http\nUSER 1000:1000\nENTRYPOINT ["/go-http"]\n');
    const storage = ['--storage-driver', 'vfs', '--root', join(tmp, 'buildah', 'root'), '--runroot', join(tmp, 'buildah', 'run')];
    execFileSync('buildah', [...storage, 'bud', '--isolation', 'chroot', '-q', '-t', 'bench-scratch', '-f', join(ctx, 'Containerfile'), ctx], { stdio: 'pipe' });
    execFileSync('buildah', [...storage, 'push', '--tls-verify=false', 'bench-scratch', `docker://${host}/bench/scratch:latest`], { stdio: 'pipe' });
    floor = layerBytes(`${host}/bench/scratch:latest`);
    floorLabel = 'FROM scratch image (buildah)';
  } else {
    floor = gzipSync(readFileSync(bin)).length;
    floorLabel = 'binary gzip -6 (buildah not installed)';
  }

  const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
  console.log(`lading build --publish of test/fixtures/apps/go-http (default builder, run-static) to docker-registry on 127.0.0.1`);
  console.log(`first use (stack built into LADING_HOME) ${first.seconds.toFixed(3)} s (once)`);
  console.log(`cold build (empty cache dir)             ${cold.seconds.toFixed(3)} s (once)`);
  console.log(`warm no-op rebuild                       ${median(warm).toFixed(3)} s median of ${runs} (min ${Math.min(...warm).toFixed(3)} – max ${Math.max(...warm).toFixed(3)})  goal ≤ 1.0 s  blobs uploaded ≤ ${uploaded}`);
  console.log(`  phase medians (s): ${Object.entries(phases).map(([k, v]) => `${k} ${median(v).toFixed(3)}`).join(', ')}; digests ${digests.size === 1 && digests.has(cold.result.digest) ? 'all equal to the cold build' : 'DIFFER'}`);
  console.log(`image layers                             ${mb(ladingBytes)}  vs ${floorLabel} ${mb(floor)}  = ${(ladingBytes / floor).toFixed(2)}×  goal ≤ 1.1×`);
  console.log(`binary                                   ${mb(statSync(bin).size)} uncompressed`);
} finally {
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
