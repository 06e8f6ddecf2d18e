#!/usr/bin/env node
// Layer-export throughput against the machine's own gzip limits, measured in the same run.
// Needs the compiled library: run `npm run build` first, then `node bench/layers.mjs [MiB] [runs]`.
// Prints MB/s of uncompressed tar (median of the runs) for: lading's createLayer (auto engine,
// portable engine, no compression), and Node's zlib gzip (level 6) of the very same tar on one thread
// and on two worker threads in parallel. Files are read from the page cache after the first run.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/registry/layers/', import.meta.url);
const { createLayer, nativeMatchesPortable, DEFLATE_LEVEL } = await import(new URL('index.js', dist).href).catch((err) => {
  console.error(`cannot load ${dist.pathname}index.js: run \`npm run build\` first (${err.message})`);
  process.exit(2);
});
const { writeSampleTree } = await import(new URL('sample-tree.js', dist).href);

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 100) * MiB;
const runs = Math.max(5, Number(process.argv[3] ?? 5));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(fn) {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}
async function measure(label, n, fn) {
  const times = [];
  let last;
  for (let i = 0; i < n; i++) {
    const { seconds, result } = await timed(fn);
    times.push(seconds);
    last = result;
  }
  return { label, seconds: median(times), min: Math.min(...times), max: Math.max(...times), result: last };
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { gzipSync } = require('node:zlib');
parentPort.on('message', () => { gzipSync(workerData.data, { level: workerData.level }); parentPort.postMessage('done'); });
parentPort.postMessage('ready');
`;

/** Two threads each gzip half the data at once; returns the wall time of one round. */
async function twoThreadGzip(tar) {
  const halves = [tar.subarray(0, tar.length >> 1), tar.subarray(tar.length >> 1)];
  const workers = halves.map((data) => new Worker(WORKER, { eval: true, workerData: { data, level: DEFLATE_LEVEL } }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const round = () => Promise.all(workers.map((w) => new Promise((resolve) => { w.once('message', resolve); w.postMessage('go'); })));
  const m = await measure('zlib gzip, 2 threads (limit)', runs, round);
  await Promise.all(workers.map((w) => w.terminate()));
  return m;
}

const work = await mkdtemp(join(tmpdir(), 'lading-bench-layers-'));
try {
  const app = join(work, 'app');
  await writeSampleTree(app, { bytes: size });
  const spec = { directories: [{ source: app, target: '/workspace' }] };
  const build = (options) => async () => {
    const layer = await createLayer(spec, { tempDir: work, ...options });
    await layer.dispose();
    return layer;
  };

  const plain = await createLayer(spec, { tempDir: work, compression: 'none' });
  const tar = await readFile(plain.path);
  await plain.dispose();
  const tarMB = tar.length / 1e6;

  const rows = [];
  rows.push(await measure('lading createLayer (auto)', runs, build({})));
  rows.push(await measure('lading createLayer (portable, pako)', runs, build({ deflate: 'portable' })));
  rows.push(await measure('lading createLayer (no compression)', runs, build({ compression: 'none' })));
  rows.push(await measure('zlib gzip, 1 thread (limit)', runs, () => gzipSync(tar, { level: DEFLATE_LEVEL })));
  rows.push(await twoThreadGzip(tar));

  const layer = rows[0].result;
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores, node ${process.version}`);
  console.log(`content: ${(size / MiB).toFixed(0)} MiB of files; tar ${tarMB.toFixed(1)} MB, gzip ${(layer.size / 1e6).toFixed(1)} MB (level ${DEFLATE_LEVEL}); auto engine = ${(await nativeMatchesPortable()) ? 'native zlib' : 'portable'}`);
  console.log(`median of ${runs} runs, MB/s of uncompressed tar (min–max in brackets)\n`);
  console.log('| what | s | MB/s |');
  console.log('|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.seconds.toFixed(2)} | ${(tarMB / r.seconds).toFixed(1)} (${(tarMB / r.max).toFixed(1)}–${(tarMB / r.min).toFixed(1)}) |`);
  }
  const rate = (label) => tarMB / rows.find((r) => r.label.startsWith(label)).seconds;
  const limit2 = rate('zlib gzip, 2');
  console.log(`\nlading auto / two-core gzip limit: ${((rate('lading createLayer (auto)') / limit2) * 100).toFixed(0)}% (goal ≥ 80%)`);
  console.log(`lading auto / one-core gzip limit: ${((rate('lading createLayer (auto)') / rate('zlib gzip, 1')) * 100).toFixed(0)}%`);
  console.log(`portable (pako) / auto: ${((rate('lading createLayer (portable') / rate('lading createLayer (auto)')) * 100).toFixed(0)}%`);
} finally {
  await rm(work, { recursive: true, force: true });
}
