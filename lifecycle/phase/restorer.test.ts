import { afterEach, describe, expect, it } from 'vitest';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeImage } from '../../registry/image/index.js';
import { openLayoutSink, openLayoutSource } from '../../registry/layout/index.js';
import { hexOf, type Digest, type Image } from '../../registry/oci/index.js';
import { bufferLayer, imageOf, randomImage, tarOf } from '../../test/support/random-image.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { DirCache, treeState } from '../cache/index.js';
import { LIFECYCLE_METADATA_LABEL, serializeLifecycleMetadata, type LifecycleMetadata } from '../platform/index.js';
import { analyze, emptyLifecycleMetadata, restore } from './index.js';

const trees = tempTrees('lading-restore-');
afterEach(() => trees.cleanup());

async function inLayout(dir: string, tag: string, image: Image) {
  const sink = await openLayoutSink({ transport: 'oci', path: dir, tag });
  await writeImage(sink, image);
  await sink.commit();
  return openLayoutSource({ transport: 'oci', path: dir, tag });
}

const layerTar = (name: string, text: string) => tarOf({ [`layers/example_bp/${name}/data.txt`]: text });

describe('platform.md "analyzer"', () => {
  it('reads the previous image from a layout: digest and parsed layer metadata; the run image: digest, top layer, target', async () => {
    const dir = await trees.create();
    const run = await randomImage({ labels: { 'io.buildpacks.base.distro.name': 'debian', 'io.buildpacks.base.distro.version': '12' } });
    const meta: LifecycleMetadata = { ...emptyLifecycleMetadata(), buildpacks: [{ key: 'example/bp', version: '1', layers: { l: { sha: run.layers[0]!.diffId, data: { k: 'v' }, build: false, launch: true, cache: false } } }] };
    const previous = imageOf([...run.layers], { labels: { [LIFECYCLE_METADATA_LABEL]: serializeLifecycleMetadata(meta) } });
    const analyzed = await analyze({
      previousImage: await inLayout(dir, 'app', previous),
      runImage: { source: await inLayout(dir, 'run', run), image: 'oci:run' },
    });
    expect(analyzed.previousImage!.digest).toBe(previous.descriptor.digest);
    expect(analyzed.previousImage!.metadata.buildpacks).toEqual(meta.buildpacks);
    expect(analyzed.runImage).toMatchObject({
      digest: run.descriptor.digest, topLayer: run.layers[1]!.diffId, reference: `oci:run@${run.descriptor.digest}`,
      target: { os: 'linux', arch: 'amd64', distro: { name: 'debian', version: '12' } },
    });
  });

  it('a previous image that does not exist is fine; an unreadable run image is ANALYZE', async () => {
    const dir = await trees.create();
    const run = await randomImage();
    const source = await inLayout(dir, 'run', run);
    const analyzed = await analyze({ previousImage: await openLayoutSource({ transport: 'oci', path: dir, tag: 'missing' }), runImage: { source, image: 'run' } });
    expect(analyzed.previousImage).toBeUndefined();
    await expect(analyze({ runImage: { source: await openLayoutSource({ transport: 'oci', path: dir, tag: 'nope' }), image: 'nope' } })).rejects.toMatchObject({ code: 'ANALYZE' });
  });
});

describe('platform.md "restorer" / buildpack.md "Layer Types", "Reusing Layers"', () => {
  async function setup() {
    const cacheDir = await trees.create();
    const both = bufferLayer(await layerTar('both', 'launch+cache'));
    const stale = bufferLayer(await layerTar('stale', 'old'));
    const cacheOnly = bufferLayer(await layerTar('cacheonly', 'cached'));
    const cache = new DirCache(cacheDir);
    await cache.write({
      buildpacks: [{ key: 'example/bp', version: '1', layers: {
        both: { sha: both.diffId, data: { from: 'cache' }, build: false, launch: true, cache: true },
        stale: { sha: stale.diffId, data: {}, build: false, launch: true, cache: true },
        cacheonly: { sha: cacheOnly.diffId, data: { c: 1 }, build: true, launch: false, cache: true },
      } }],
    }, new Map([both, stale, cacheOnly].map((l) => [l.diffId, l] as const)));
    const metadata: LifecycleMetadata = { ...emptyLifecycleMetadata(), buildpacks: [{ key: 'example/bp', version: '1', store: { metadata: { count: 3 } }, layers: {
      launchonly: { sha: `sha256:${'1'.repeat(64)}`, data: { version: '1.2' }, build: true, launch: true, cache: false },
      both: { sha: both.diffId, data: { from: 'image' }, build: false, launch: true, cache: true },
      stale: { sha: `sha256:${'2'.repeat(64)}`, data: {}, build: false, launch: true, cache: true },
    } }] };
    return { cache, cacheDir, cacheOnly, metadata };
  }

  it('writes <layer>.toml without [types], store.toml, and contents only where the rules allow', async () => {
    const { cache, metadata } = await setup();
    const layersDir = await trees.create();
    const result = await restore({ layersDir, group: [{ id: 'example/bp' }, { id: 'other/bp' }], analyzed: { previousImage: { metadata } as never }, cache });
    expect(result.layers.map((l) => `${l.name}:${l.restored}`)).toEqual(['both:contents', 'cacheonly:contents', 'launchonly:metadata']);
    const bp = join(layersDir, 'example_bp');
    expect((await readdir(bp)).sort()).toEqual(['both', 'both.toml', 'cacheonly', 'cacheonly.toml', 'launchonly.toml', 'store.toml']);
    const launchToml = await readFile(join(bp, 'launchonly.toml'), 'utf8');
    expect(launchToml).not.toContain('[types]');
    expect(launchToml).toContain('version = "1.2"');
    expect(await readFile(join(bp, 'both.toml'), 'utf8')).toContain('from = "image"');
    expect(await readFile(join(bp, 'both', 'data.txt'), 'utf8')).toBe('launch+cache');
    expect(await readFile(join(bp, 'cacheonly', 'data.txt'), 'utf8')).toBe('cached');
    expect(await readFile(join(bp, 'store.toml'), 'utf8')).toContain('count = 3');
  });

  it('a damaged cache entry is skipped whole (no directory, no <layer>.toml) with a warning', async () => {
    const { cache, cacheDir, cacheOnly, metadata } = await setup();
    await writeFile(join(cacheDir, 'blobs', `${hexOf(cacheOnly.diffId as Digest)}.tar`), 'garbage');
    const layersDir = await trees.create();
    const warnings: string[] = [];
    const result = await restore({ layersDir, group: [{ id: 'example/bp' }], analyzed: { previousImage: { metadata } as never }, cache, onWarning: (w) => warnings.push(w) });
    expect(result.layers.map((l) => l.name)).toEqual(['both', 'launchonly']);
    expect((await readdir(join(layersDir, 'example_bp'))).filter((n) => n.startsWith('cacheonly'))).toEqual([]);
    expect(warnings[0]).toMatch(/not restoring cached layer example\/bp:cacheonly/);
  });

  it('moves in the unpacked copy the cache kept instead of unpacking; an altered copy is unpacked from the blob', async () => {
    const { cache, cacheDir, cacheOnly, metadata } = await setup();
    const first = await trees.create();
    await restore({ layersDir: first, group: [{ id: 'example/bp' }], analyzed: { previousImage: { metadata } as never }, cache });
    expect(await cache.keepTree(cacheOnly.diffId as Digest, join(first, 'example_bp', 'cacheonly'), (await treeState(join(first, 'example_bp', 'cacheonly')))!)).toBe(true);
    const kept = join(cacheDir, 'trees', hexOf(cacheOnly.diffId as Digest));
    const keptData = join(kept, 'data.txt');

    const second = await trees.create();
    await restore({ layersDir: second, group: [{ id: 'example/bp' }], analyzed: { previousImage: { metadata } as never }, cache: new DirCache(cacheDir) });
    expect(await readFile(join(second, 'example_bp', 'cacheonly', 'data.txt'), 'utf8')).toBe('cached');
    await expect(readFile(keptData, 'utf8')).rejects.toThrow(/ENOENT/); // moved, not copied

    // kept again, then altered in the cache: the blob is unpacked instead
    expect(await cache.keepTree(cacheOnly.diffId as Digest, join(second, 'example_bp', 'cacheonly'), (await treeState(join(second, 'example_bp', 'cacheonly')))!)).toBe(true);
    await writeFile(keptData, 'altered');
    const third = await trees.create();
    const warnings: string[] = [];
    const cacheWarned = new DirCache(cacheDir, { onWarning: (w) => warnings.push(w) });
    await restore({ layersDir: third, group: [{ id: 'example/bp' }], analyzed: { previousImage: { metadata } as never }, cache: cacheWarned });
    expect(await readFile(join(third, 'example_bp', 'cacheonly', 'data.txt'), 'utf8')).toBe('cached');
    expect(warnings.join()).toMatch(/altered/);
  });

  it('CNB_SKIP_LAYERS writes store.toml only', async () => {
    const { cache, metadata } = await setup();
    const layersDir = await trees.create();
    await restore({ layersDir, group: [{ id: 'example/bp' }], analyzed: { previousImage: { metadata } as never }, cache, skipLayers: true });
    expect(await readdir(join(layersDir, 'example_bp'))).toEqual(['store.toml']);
  });
});
