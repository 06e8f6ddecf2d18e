#!/usr/bin/env node
// Rebuild speed of `lading build --publish` for a small app to a local registry (issue 3's targets):
// a no-op rebuild (nothing changed) and a one-file-change rebuild, medians of ≥5 runs each.
// Goals on this machine: no-op ≤ 1.0 s, one-file change ≤ 1.5 s.
// Uses the sample builder (test/fixtures/builders/sample) and app (test/fixtures/apps/hello) over a scratch run
// image of one file. Needs `npm run build` and docker-registry (scripts/setup-system). Usage: node bench/rebuild.mjs [runs=5]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
import { loadDist as load, median, startRegistry } from './support.mjs';
const { appendLayers, emptyImage } = await load('registry/mutate/index.js');
const { createLayer } = await load('registry/layers/index.js');
const { writeImage } = await load('registry/image/index.js');
const { openSink } = await load('registry/open.js');
const { parseReference } = await load('registry/reference.js');

const runs = Math.max(5, Number(process.argv[2] ?? 5));

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-rebuild-'));
let registry;
try {
  registry = await startRegistry(tmp);
  const port = registry.port;
  const runImage = `oci:${join(tmp, 'run')}:v1`;
  const sink = await openSink(parseReference(runImage));
  const base = await createLayer({ entries: [{ path: '/etc/os-release', type: 'file', content: 'ID=scratch\n' }] }, { uid: 0, gid: 0 });
  await writeImage(sink, appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer: base }));
  await sink.commit();

  const app = join(tmp, 'app');
  cpSync(join(root, 'test/fixtures/apps/hello'), app, { recursive: true });
  const build = () => {
    const start = process.hrtime.bigint();
    const out = execFileSync(join(root, 'bin', 'lading'), [
      'build', `127.0.0.1:${port}/bench/hello:latest`, '--publish', '-p', app, '-B', join(root, 'test/fixtures/builders/sample'),
      '--run-image', runImage, '--cache-dir', join(tmp, 'cache'), '--json',
    ], { env: { ...process.env, LADING_HOME: join(tmp, 'home') }, stdio: ['ignore', 'pipe', 'pipe'] });
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result: JSON.parse(out.toString()) };
  };

  const cold = build();
  const noop = [];
  const change = [];
  let uploadedNoop = 0;
  let uploadedChange = 0;
  for (let r = 0; r < runs; r++) {
    const n = build();
    noop.push(n.seconds);
    uploadedNoop = Math.max(uploadedNoop, n.result.uploaded);
    writeFileSync(join(app, 'hello.txt'), `hello, run ${r}\n`);
    const c = build();
    change.push(c.seconds);
    uploadedChange = Math.max(uploadedChange, c.result.uploaded);
  }
  const row = (label, xs, goal, uploaded) =>
    `${label.padEnd(18)} ${median(xs).toFixed(3).padStart(7)} s  (min ${Math.min(...xs).toFixed(3)} – max ${Math.max(...xs).toFixed(3)})  goal ≤ ${goal} s  blobs uploaded ≤ ${uploaded}`;
  console.log(`lading build --publish of test/fixtures/apps/hello to docker-registry on 127.0.0.1, ${runs} runs each, medians`);
  console.log(`cold build          ${cold.seconds.toFixed(3)} s (once)`);
  console.log(row('no-op rebuild', noop, '1.0', uploadedNoop));
  console.log(row('one-file change', change, '1.5', uploadedChange));
} finally {
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
