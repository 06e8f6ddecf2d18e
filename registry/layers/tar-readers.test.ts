import { execFile } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexOf, MediaType, stableJsonBytes } from '../oci/index.js';
import { imageOf } from '../../test/support/random-image.js';
import { requireTools } from '../../test/support/tools.js';
import { createLayer, type FileLayer } from './index.js';
import { writeSampleTree } from './sample-tree.js';

const run = promisify(execFile);
const AS_ROOT = process.getuid?.() === 0;

let work: string;
let tree: string;
let layer: FileLayer;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-layer-readers-'));
  tree = join(work, 'app');
  await writeSampleTree(tree, { bytes: 2 << 20 });
  layer = await createLayer({ directories: [{ source: tree, target: '/workspace' }] }, { tempDir: work });
});
afterAll(async () => {
  await layer?.dispose();
  await rm(work, { recursive: true, force: true });
});

/** Checks an extracted `workspace/` against the sample tree it came from. */
async function expectSameTree(root: string): Promise<void> {
  const ws = join(root, 'workspace');
  for (const rel of ['package.json', 'café/naïve.txt', '日本語/ファイル.txt', 'emoji/🦀.txt', `long/${'g'.repeat(150)}.txt`, 'assets/blob-0.bin']) {
    expect((await readFile(join(ws, rel))).equals(await readFile(join(tree, rel))), rel).toBe(true);
  }
  expect(await readlink(join(ws, 'bin/package-link'))).toBe('../package.json');
  expect(await readlink(join(ws, 'dir-link'))).toBe('café');
  const [a, b] = await Promise.all([lstat(join(ws, 'package.json')), lstat(join(ws, 'bin/package-hardlink.json'))]);
  expect(a.ino).toBe(b.ino);
  expect((await lstat(join(ws, 'bin/start.sh'))).mode & 0o777).toBe(0o755);
  expect((await lstat(join(ws, 'empty/nested-empty'))).isDirectory()).toBe(true);
  if (AS_ROOT) expect([a.uid, a.gid]).toEqual([1000, 1000]);
}

describe.skipIf(!requireTools('tar'))('GNU tar', () => {
  it('lists and extracts the layer exactly', async () => {
    const { stdout } = await run('tar', ['-tvzf', layer.path, '--numeric-owner', '--full-time'], { maxBuffer: 64 << 20 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^drwxr-xr-x 1000\/1000 +0 1980-01-01 00:00:01 workspace\/$/);
    expect(lines.every((l) => l.includes(' 1980-01-01 00:00:01 '))).toBe(true);
    const out = join(work, 'gnu');
    await mkdir(out);
    await run('tar', ['-xzf', layer.path, '-C', out, '--numeric-owner']);
    await expectSameTree(out);
  });
});

describe.skipIf(!requireTools('umoci'))('umoci', () => {
  it('unpacks an OCI image holding the layer', async () => {
    const image = imageOf([layer]);
    const dir = join(work, 'layout');
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await copyFile(layer.path, join(dir, 'blobs', 'sha256', hexOf(layer.digest)));
    await writeFile(join(dir, 'blobs', 'sha256', hexOf(image.manifest.config.digest)), image.rawConfig);
    await writeFile(join(dir, 'blobs', 'sha256', hexOf(image.descriptor.digest)), image.rawManifest);
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [{ ...image.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'test' } }],
    };
    await writeFile(join(dir, 'index.json'), stableJsonBytes(index));
    const bundle = join(work, 'bundle');
    await run('umoci', ['unpack', ...(AS_ROOT ? [] : ['--rootless']), '--image', `${dir}:test`, bundle]);
    await expectSameTree(join(bundle, 'rootfs'));
  });
});
