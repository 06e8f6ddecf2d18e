import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileForNode, nodeRuntime } from '../../test/support/node-versions.js';
import { createLayer, nativeMatchesPortable, type LayerSpec, type LayerWriteOptions } from './index.js';
import { writeSampleTree } from './sample-tree.js';

const run = promisify(execFile);

// The same spec in the driver (compiled JS, other Node versions) and in-process (TS under vitest).
const TREE_BYTES = 4 << 20;
const SPEC: LayerSpec = {
  directories: [{ source: 'app', target: '/workspace' }],
  entries: [{ path: '/layers/bp/env/PATH.prepend', type: 'file', content: '/layers/bp/bin' }],
};
const VARIANTS: Record<string, LayerWriteOptions> = { auto: {}, portable: { deflate: 'portable' }, tar: { compression: 'none' } };

const DRIVER = `
const [layersUrl, treeUrl, specJson, variantsJson, bytes] = process.argv.slice(1);
const { createLayer, nativeMatchesPortable } = await import(layersUrl);
const { writeSampleTree } = await import(treeUrl);
await writeSampleTree('app', { bytes: Number(bytes) });
const out = { node: process.version, nativeMatchesPortable: await nativeMatchesPortable() };
for (const [name, options] of Object.entries(JSON.parse(variantsJson))) {
  const layer = await createLayer(JSON.parse(specJson), { ...options, tempDir: '.' });
  out[name] = { digest: layer.digest, diffId: layer.diffId, size: layer.size };
  await layer.dispose();
}
console.log(JSON.stringify(out));
`;

interface Result {
  node: string;
  nativeMatchesPortable: boolean;
  [variant: string]: unknown;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-node-versions-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function inProcess(): Promise<Result> {
  const dir = await mkdtemp(join(work, 'vitest-'));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    await writeSampleTree('app', { bytes: TREE_BYTES });
    const out: Result = { node: process.version, nativeMatchesPortable: await nativeMatchesPortable() };
    for (const [name, options] of Object.entries(VARIANTS)) {
      const layer = await createLayer(SPEC, { ...options, tempDir: '.' });
      out[name] = { digest: layer.digest, diffId: layer.diffId, size: layer.size };
      await layer.dispose();
    }
    return out;
  } finally {
    process.chdir(cwd);
  }
}

describe('layers are byte-identical across Node versions, umasks and working directories', () => {
  it('Node 20, 22 and 24 (official builds from the npm registry) write the same blobs', async (ctx) => {
    const binaries = await Promise.all([20, 22, 24].map(async (major) => [major, await nodeRuntime(major)] as const));
    const missing = binaries.filter(([, bin]) => bin === undefined);
    if (missing.length > 0) ctx.skip(); // outside CI only; under CI=true nodeRuntime throws

    const out = await compileForNode(['registry/layers/index.ts', 'registry/layers/sample-tree.ts'], ['registry/layers', 'registry/oci', 'registry/image']);
    const layersUrl = pathToFileURL(join(out, 'registry/layers/index.js')).href;
    const treeUrl = pathToFileURL(join(out, 'registry/layers/sample-tree.js')).href;
    const runs: Array<{ label: string; bin: string; umask: string }> = [
      ...binaries.map(([major, bin]) => ({ label: `node ${major}`, bin: bin as string, umask: '022' })),
      { label: 'node 20, umask 077', bin: binaries[0]?.[1] as string, umask: '077' },
    ];
    const results: Record<string, Result> = {};
    for (const r of runs) {
      const cwd = await mkdtemp(join(work, 'run-'));
      const { stdout } = await run(
        'sh',
        ['-c', `umask ${r.umask} && exec "$0" --input-type=module -e "$1" "$2" "$3" "$4" "$5" "$6"`, r.bin, DRIVER, layersUrl, treeUrl, JSON.stringify(SPEC), JSON.stringify(VARIANTS), String(TREE_BYTES)],
        { cwd, timeout: 120_000 },
      );
      results[r.label] = JSON.parse(stdout) as Result;
    }
    results['vitest (TypeScript source)'] = await inProcess();

    const reference = results['node 20'] as Result;
    expect(reference.auto).toEqual(reference.portable);
    for (const [label, result] of Object.entries(results)) {
      expect({ label, auto: result.auto, portable: result.portable, tar: result.tar }).toEqual({
        label, auto: reference.auto, portable: reference.portable, tar: reference.tar,
      });
    }
    const engines = Object.entries(results).map(([k, v]) => `${k} (${v.node}): ${v.nativeMatchesPortable ? 'native zlib' : 'portable'}`);
    console.info(`layer digest ${String((reference.auto as { digest: string }).digest)} from every run; engine used by auto: ${engines.join('; ')}`);
  });
});
