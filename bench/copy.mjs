#!/usr/bin/env node
// Push throughput: `lading copy` vs `skopeo copy` of the same ~100 MB, 5-layer image from an OCI layout to
// a local Debian docker-registry (distribution 2.8) on 127.0.0.1, measured in the same run.
// Needs `npm run build` first and docker-registry + skopeo installed (scripts/setup-system).
// Usage: node bench/copy.mjs [MiB=100] [runs=5]. Each run pushes into a fresh registry. Prints medians, min–max and the ratio.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
import { freePort, loadDist as load, median, startRegistry as startRegistryIn } from './support.mjs';
const { createLayers } = await load('registry/layers/index.js');
const { appendLayers, emptyImage } = await load('registry/mutate/index.js');
const { writeImage } = await load('registry/image/index.js');
const { openSink } = await load('registry/open.js');
const { parseReference } = await load('registry/reference.js');

const MiB = 1 << 20;
const total = Number(process.argv[2] ?? 100) * MiB;
const runs = Math.max(5, Number(process.argv[3] ?? 5));


const tmp = mkdtempSync(join(tmpdir(), 'lading-bench-copy-'));
let registry;
try {
  // 1. The image: 5 layers of mostly incompressible data (push throughput, not compression).
  const layerDirs = [];
  for (let i = 0; i < 5; i++) {
    const dir = join(tmp, `src${i}`);
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'blob.bin'), randomBytes(Math.floor(total / 5)));
    layerDirs.push({ directories: [{ source: dir, target: `/data/${i}` }] });
  }
  const layers = await createLayers(layerDirs, { tempDir: tmp });
  const image = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), ...layers.map((layer) => ({ layer })));
  const layout = join(tmp, 'layout');
  const sink = await openSink(parseReference(`oci:${layout}:bench`));
  await writeImage(sink, image);
  await sink.commit();
  const bytes = image.layers.reduce((n, l) => n + l.size, 0);

  // 2. A fresh registry (own port, own storage) for every push: neither tool can find blobs already there
  //    (skopeo's blob-info cache would otherwise mount them from an earlier run's repository).
  const startRegistry = async (name) => {
    mkdirSync(join(tmp, name));
    return startRegistryIn(join(tmp, name));
  };

  // 3. Alternate the two tools so machine noise hits both alike.
  const times = { lading: [], skopeo: [] };
  for (let r = 0; r < runs; r++) {
    for (const tool of ['lading', 'skopeo']) {
      registry = await startRegistry(`${tool}${r}`);
      const dest = `docker://127.0.0.1:${registry.port}/bench/${tool}:v1`;
      const start = process.hrtime.bigint();
      if (tool === 'lading') execFileSync(join(root, 'bin', 'lading'), ['copy', `oci:${layout}:bench`, dest], { stdio: 'ignore' });
      else execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:bench`, dest], { stdio: 'ignore' });
      times[tool].push(Number(process.hrtime.bigint() - start) / 1e9);
      registry.stop();
      registry = undefined;
    }
  }
  const row = (tool) => {
    const m = median(times[tool]);
    return `${tool.padEnd(8)} ${m.toFixed(3).padStart(7)} s  ${(bytes / MiB / m).toFixed(1).padStart(7)} MiB/s   (min ${Math.min(...times[tool]).toFixed(3)} – max ${Math.max(...times[tool]).toFixed(3)} s)`;
  };
  console.log(`push of ${(bytes / MiB).toFixed(1)} MiB in 5 layers to docker-registry on 127.0.0.1, ${runs} runs each, medians`);
  console.log(row('lading'));
  console.log(row('skopeo'));
  const ratio = median(times.skopeo) / median(times.lading);
  console.log(`lading throughput / skopeo throughput = ${ratio.toFixed(2)}×  (goal ≥ 1.0×)`);
} finally {
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
