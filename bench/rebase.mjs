#!/usr/bin/env node
// `lading rebase --publish` of a ~100 MB app image in a local registry (issue 4's target): wall time of the
// whole `bin/lading` process (median of ≥5 runs, alternating the run image v1 → v2 → v1 … so every run is a
// real rebase) and the bytes the registry received, counted by a proxy in front of it.
// Goals on this machine: ≤ 0.5 s and < 10 KB uploaded per rebase.
// Run-base v1/v2: one small layer each with the stack labels lading's stacks carry; the app: v1 + a 100 MiB
// incompressible app layer + the lifecycle label an export writes. Needs `npm run build` and docker-registry
// (scripts/setup-system). Usage: node bench/rebase.mjs [runs=5] [MiB=100]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
import { freePort, loadDist as load, median, startRegistry } from './support.mjs';
const { appendLayers, emptyImage, withConfig } = await load('registry/mutate/index.js');
const { createLayer } = await load('registry/layers/index.js');
const { writeImage } = await load('registry/image/index.js');
const { openSink } = await load('registry/open.js');
const { parseRegistryReference } = await load('registry/reference.js');
const { LIFECYCLE_METADATA_LABEL, serializeLifecycleMetadata } = await load('lifecycle/platform/index.js');

const runs = Math.max(5, Number(process.argv[2] ?? 5));
const mib = Number(process.argv[3] ?? 100);

/** A pass-through proxy to the registry that counts request body bytes (what clients upload). */
function countingProxy(target) {
  const counter = { bytes: 0, requests: 0 };
  const server = createHttpServer((req, res) => {
    const up = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.on('data', (chunk) => { counter.bytes += chunk.length; });
    counter.requests++;
    req.pipe(up);
  });
  return { server, counter };
}

const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-rebase-'));
let registry;
let proxy;
try {
  registry = await startRegistry(tmp);
  const port = registry.port;
  const proxyPort = await freePort();
  const counting = countingProxy(port);
  proxy = counting.server;
  await new Promise((r) => proxy.listen(proxyPort, '127.0.0.1', r));
  const host = `127.0.0.1:${proxyPort}`;
  const push = async (ref, image) => {
    const sink = await openSink(parseRegistryReference(ref));
    await writeImage(sink, image);
    await sink.commit();
  };

  const labels = (version, packages) => ({
    'io.buildpacks.base.id': 'io.lading.bench', 'io.buildpacks.stack.id': 'io.lading.bench', 'io.buildpacks.rebasable': 'true',
    'io.buildpacks.base.distro.name': 'debian', 'io.buildpacks.base.distro.version': '12',
    'io.lading.stack.packages': JSON.stringify(packages), 'org.opencontainers.image.version': version,
  });
  const runBase = async (version, packages) => {
    const layer = await createLayer({ entries: [
      { path: '/etc/os-release', type: 'file', content: `ID=debian\nVERSION_ID="12"\nBENCH=${version}\n` },
      { path: '/usr/lib/bench/lib.so', type: 'file', content: randomBytes(256 * 1024) },
    ] }, { uid: 0, gid: 0, tempDir: tmp });
    const image = withConfig(appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer }), { user: '1000:1000', labels: labels(version, packages) });
    await push(`${host}/stacks/run-base:${version}`, image);
    return image;
  };
  const v1 = await runBase('v1', { 'base-files': '12.4', libc6: '2.36-9' });
  await runBase('v2', { 'base-files': '12.4', libc6: '2.36-9+deb12u1' });

  const appLayer = await createLayer({ entries: [{ path: '/workspace/app.bin', type: 'file', content: randomBytes(mib * 1024 * 1024), uid: 1000, gid: 1000 }] }, { tempDir: tmp });
  const metadata = serializeLifecycleMetadata({
    app: [{ sha: appLayer.diffId }], buildpacks: [], config: { sha: '' }, launcher: { sha: '' }, processTypes: { sha: '' },
    runImage: { topLayer: v1.layers.at(-1).diffId, reference: `${host}/stacks/run-base@${v1.descriptor.digest}`, image: `${host}/stacks/run-base:v1` },
    stack: { runImage: { image: `${host}/stacks/run-base:v1` } },
  });
  const app = withConfig(appendLayers(v1, { layer: appLayer }), { entrypoint: ['/workspace/app.bin'], labels: { [LIFECYCLE_METADATA_LABEL]: metadata } });
  await push(`${host}/bench/app:latest`, app);
  await appLayer.dispose();

  // Asynchronous: the counting proxy runs in this process.
  const rebase = async (tag) => {
    const before = { ...counting.counter };
    const start = process.hrtime.bigint();
    const { stdout } = await promisify(execFile)(join(root, 'bin', 'lading'), ['rebase', `${host}/bench/app:latest`, '--run-image', `${host}/stacks/run-base:${tag}`, '--publish', '--json'], {
      env: { ...process.env, LADING_HOME: join(tmp, 'home') },
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { seconds, bytes: counting.counter.bytes - before.bytes, result: JSON.parse(stdout) };
  };

  const results = [];
  for (let r = 0; r < runs; r++) results.push(await rebase(r % 2 === 0 ? 'v2' : 'v1'));
  const seconds = results.map((r) => r.seconds);
  const inside = results.map((r) => r.result.durations.total);
  const bytes = results.map((r) => r.bytes);
  console.log(`lading rebase --publish of a ${mib} MiB app image (docker-registry on 127.0.0.1, through a counting proxy), ${runs} runs alternating v1/v2`);
  console.log(`wall time (bin/lading process)  median ${median(seconds).toFixed(3)} s  (min ${Math.min(...seconds).toFixed(3)} – max ${Math.max(...seconds).toFixed(3)})  goal ≤ 0.5 s`);
  console.log(`inside lading (durations.total) median ${median(inside).toFixed(3)} s`);
  console.log(`bytes uploaded per rebase       median ${median(bytes)} B (max ${Math.max(...bytes)} B; blobs sent ${Math.max(...results.map((r) => r.result.uploaded))})  goal < 10 KB`);
} finally {
  proxy?.close();
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
