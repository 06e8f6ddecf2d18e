import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { createLayer } from '../../registry/layers/index.js';
import { join } from 'node:path';
import { readAll } from '../../registry/image/index.js';
import { hexOf, type Digest, type Layer } from '../../registry/oci/index.js';
import { openRegistrySink, openRegistrySource } from '../../registry/remote/index.js';
import { parseRegistryReference } from '../../registry/reference.js';
import { bufferLayer, tarOf } from '../../test/support/random-image.js';
import { startRegistry, type TestRegistry } from '../../test/support/registry.js';
import { tempTrees } from '../../test/support/temp-tree.js';
import { requireTools } from '../../test/support/tools.js';
import type { CacheMetadata } from '../platform/index.js';
import { DirCache, ImageCache, extractLayerTar, forgetTreeListings, treeState, type LayerCache } from './index.js';

const trees = tempTrees('lading-cache-');
afterEach(() => trees.cleanup());

async function layerOf(name: string, content: string): Promise<Layer> {
  return bufferLayer(await tarOf({ [`layers/example_bp/${name}/file.txt`]: content }));
}

function metadataFor(layers: Record<string, Layer>): CacheMetadata {
  const entries = Object.fromEntries(
    Object.entries(layers).map(([name, l]) => [name, { sha: l.diffId, data: { name }, build: false, launch: false, cache: true }]),
  );
  return { buildpacks: [{ key: 'example/bp', version: '1.0.0', layers: entries }] };
}

const byDiffId = (...layers: Layer[]) => new Map(layers.map((l) => [l.diffId, l] as const));

async function restoreAll(cache: LayerCache, into: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const bp of (await cache.read()).buildpacks) {
    for (const [name, l] of Object.entries(bp.layers)) {
      await extractLayerTar(await cache.open(l.sha as Digest), `layers/example_bp/${name}`, join(into, name));
      out[name] = await readFile(join(into, name, 'file.txt'), 'utf8');
    }
  }
  return out;
}

describe('platform.md "Caching": directory cache (--cache-dir)', () => {
  it('round-trips layers with their metadata and keeps unchanged layers without copying them', async () => {
    const dir = await trees.create();
    const a = await layerOf('a', 'one');
    const b = await layerOf('b', 'two');
    const cache = new DirCache(dir);
    expect(await cache.read()).toEqual({ buildpacks: [] });
    expect(await cache.write(metadataFor({ a, b }), byDiffId(a, b))).toEqual({ written: 2, reused: 0 });
    expect(await cache.read()).toEqual(metadataFor({ a, b }));
    expect(await restoreAll(cache, await trees.create())).toEqual({ a: 'one', b: 'two' });
    const c = await layerOf('c', 'three');
    // b kept without contents, a dropped, c new
    expect(await new DirCache(dir).write(metadataFor({ b, c }), byDiffId(c))).toEqual({ written: 1, reused: 1 });
    expect((await readdir(join(dir, 'blobs'))).sort()).toEqual([`${hexOf(b.diffId)}.tar`, `${hexOf(c.diffId)}.tar`].sort());
    expect(await readdir(join(dir, 'staging'))).toEqual([]);
  });

  it('a crash between staging and the commit leaves the previous generation whole', async () => {
    const dir = await trees.create();
    const a = await layerOf('a', 'one');
    await new DirCache(dir).write(metadataFor({ a }), byDiffId(a));
    const b = await layerOf('b', 'two');
    const crashing = new DirCache(dir, { beforeCommit: async () => { throw new Error('killed'); } });
    await expect(crashing.write(metadataFor({ b }), byDiffId(b))).rejects.toThrow(/killed/);
    // a hard crash leaves its staging dir behind: simulate one, with a partial blob in it
    await mkdir(join(dir, 'staging', '1-dead'), { recursive: true });
    await writeFile(join(dir, 'staging', '1-dead', `${hexOf(b.diffId)}.tar`), 'partial');
    const reader = new DirCache(dir);
    expect(await reader.read()).toEqual(metadataFor({ a }));
    expect(await restoreAll(reader, await trees.create())).toEqual({ a: 'one' });
    // the next commit clears the stale staging dir
    await new DirCache(dir).write(metadataFor({ b }), byDiffId(b));
    expect(await readdir(join(dir, 'staging'))).toEqual([]);
  });

  it('concurrent writers sharing a cache dir leave one consistent generation', async () => {
    const dir = await trees.create();
    const shared = await layerOf('shared', 'same');
    await new DirCache(dir).write(metadataFor({ shared }), byDiffId(shared));
    const writers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const own = await layerOf(`own${i}`, `writer ${i}`);
        return { own, i };
      }),
    );
    await Promise.all(writers.map(({ own, i }) => new DirCache(dir).write(metadataFor({ shared, [`own${i}`]: own }), byDiffId(own))));
    const cache = new DirCache(dir);
    const meta = await cache.read();
    const names = Object.keys(meta.buildpacks[0]!.layers).sort();
    expect(names).toHaveLength(2);
    expect(names[1]).toBe('shared');
    const restored = await restoreAll(cache, await trees.create());
    expect(restored['shared']).toBe('same');
    expect(restored[names[0]!]).toBe(`writer ${names[0]!.slice(3)}`);
    expect(await readdir(join(dir, 'blobs'))).toHaveLength(2);
  });

  it('links the export\'s gzip blob instead of writing the tar, reads it back gunzipped and verified, and replaces a damaged one', async () => {
    const dir = await trees.create();
    const src = await trees.create();
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub', 'file.txt'), 'zipped');
    const gz = await createLayer({ directories: [{ source: join(src, 'sub'), target: '/layers/example_bp/g' }] }, { tempDir: src });
    const plain = await layerOf('p', 'plain');
    const cache = new DirCache(dir);
    expect(await cache.write(metadataFor({ g: gz, p: plain }), byDiffId(gz, plain))).toEqual({ written: 2, reused: 0 });
    expect((await readdir(join(dir, 'blobs'))).sort()).toEqual([`${hexOf(gz.diffId)}.tar.gz`, `${hexOf(plain.diffId)}.tar`].sort());
    expect((await stat(join(dir, 'blobs', `${hexOf(gz.diffId)}.tar.gz`))).ino).toBe((await stat(gz.path)).ino);
    await gz.dispose();
    expect(await restoreAll(cache, await trees.create())).toEqual({ g: 'zipped', p: 'plain' });
    // kept by the next generation as it is
    expect(await new DirCache(dir).write(metadataFor({ g: gz, p: plain }), new Map())).toEqual({ written: 0, reused: 2 });
    // a damaged gzip blob fails its diffID check and is rewritten from the layer's tar
    await writeFile(join(dir, 'blobs', `${hexOf(gz.diffId)}.tar.gz`), gzipSync(Buffer.from('not the tar')));
    const reader = new DirCache(dir);
    await expect(extractLayerTar(await reader.open(gz.diffId), 'layers/example_bp/g', join(await trees.create(), 'g'))).rejects.toThrow();
    const again = await createLayer({ directories: [{ source: join(src, 'sub'), target: '/layers/example_bp/g' }] }, { tempDir: src });
    expect(await reader.write(metadataFor({ g: again, p: plain }), byDiffId(again))).toEqual({ written: 1, reused: 1 });
    expect(await restoreAll(new DirCache(dir), await trees.create())).toEqual({ g: 'zipped', p: 'plain' });
    await again.dispose();
  });

  it('links the export\'s uncompressed tar as well (how the exporter packs cache-only layers for a dir cache)', async () => {
    const dir = await trees.create();
    const src = await trees.create();
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub', 'file.txt'), 'as a tar');
    const cache = new DirCache(dir);
    expect(cache.compression).toBe('none');
    const tar = await createLayer({ directories: [{ source: join(src, 'sub'), target: '/layers/example_bp/t' }] }, { tempDir: src, compression: cache.compression });
    expect(await cache.write(metadataFor({ t: tar }), byDiffId(tar))).toEqual({ written: 1, reused: 0 });
    expect(await readdir(join(dir, 'blobs'))).toEqual([`${hexOf(tar.diffId)}.tar`]);
    expect((await stat(join(dir, 'blobs', `${hexOf(tar.diffId)}.tar`))).ino).toBe((await stat(tar.path)).ino);
    await tar.dispose();
    expect(await restoreAll(cache, await trees.create())).toEqual({ t: 'as a tar' });
  });

  it('a damaged blob is detected while restoring, nothing is half-restored, and the next write replaces it', async () => {
    const dir = await trees.create();
    const a = await layerOf('a', 'one');
    const cache = new DirCache(dir);
    await cache.write(metadataFor({ a }), byDiffId(a));
    const blob = join(dir, 'blobs', `${hexOf(a.diffId)}.tar`);
    const bytes = await readFile(blob);
    await writeFile(blob, bytes.subarray(0, 1024)); // truncated
    const into = await trees.create();
    await expect(extractLayerTar(await cache.open(a.diffId), 'layers/example_bp/a', join(into, 'a'))).rejects.toThrow();
    expect(await readdir(into)).toEqual([]);
    expect(await cache.write(metadataFor({ a }), byDiffId(a))).toEqual({ written: 1, reused: 0 });
    expect(await restoreAll(cache, await trees.create())).toEqual({ a: 'one' });
  });

  /** A cache dir holding layers a ('one') and b ('two'), restored once into `unpacked`. */
  async function cachedAB() {
    const dir = await trees.create();
    const a = await layerOf('a', 'one');
    const b = await layerOf('b', 'two');
    const cache = new DirCache(dir);
    await cache.write(metadataFor({ a, b }), byDiffId(a, b));
    const unpacked = await trees.create();
    await restoreAll(cache, unpacked);
    return { dir, a, b, cache, unpacked };
  }

  it('keeps an unpacked copy a build left untouched, moves it back on restore, and discards an altered one', async () => {
    const { dir, a, b, cache, unpacked } = await cachedAB();
    expect(await cache.takeTree(a.diffId, join(unpacked, 'elsewhere'))).toBeUndefined(); // none kept yet
    const stateA = (await treeState(join(unpacked, 'a')))!;
    expect(await cache.keepTree(a.diffId, join(unpacked, 'a'), stateA)).toBe(true);
    expect(await cache.keepTree(b.diffId, join(unpacked, 'b'), (await treeState(join(unpacked, 'b')))!)).toBe(true);
    expect(await readdir(unpacked)).toEqual([]);

    const into = await trees.create();
    const warnings: string[] = [];
    const next = new DirCache(dir, { onWarning: (w) => warnings.push(w) });
    expect(await next.takeTree(a.diffId, join(into, 'a'))).toBe(stateA); // moving keeps the tree state
    expect(await treeState(join(into, 'a'))).toBe(stateA);
    expect(await readFile(join(into, 'a', 'file.txt'), 'utf8')).toBe('one');
    expect(await next.takeTree(a.diffId, join(into, 'again'))).toBeUndefined(); // moved out: the next one unpacks the blob

    // altered while kept: discarded with a warning, the blob is still there to unpack
    await writeFile(join(dir, 'trees', hexOf(b.diffId), 'file.txt'), 'TWO');
    expect(await next.takeTree(b.diffId, join(into, 'b'))).toBeUndefined();
    expect(warnings.join()).toMatch(/altered/);
    expect(await readdir(join(dir, 'trees'))).toEqual([]);
    expect(await restoreAll(next, await trees.create())).toEqual({ a: 'one', b: 'two' });

    // a commit that drops an entry drops its unpacked copy
    expect(await next.keepTree(a.diffId, join(into, 'a'), stateA)).toBe(true);
    await next.write(metadataFor({ b }), new Map());
    expect(await readdir(join(dir, 'trees'))).toEqual([]);
  });

  it('checkTrees answers the next takeTree calls from one walk made beforehand, altered copies included', async () => {
    const { dir, a, b, cache, unpacked } = await cachedAB();
    const stateA = (await treeState(join(unpacked, 'a')))!;
    await cache.keepTree(a.diffId, join(unpacked, 'a'), stateA);
    await cache.keepTree(b.diffId, join(unpacked, 'b'), (await treeState(join(unpacked, 'b')))!);
    await writeFile(join(dir, 'trees', hexOf(b.diffId), 'file.txt'), 'TWO');

    const warnings: string[] = [];
    const next = new DirCache(dir, { onWarning: (w) => warnings.push(w) });
    next.checkTrees();
    const into = await trees.create();
    expect(await next.takeTree(a.diffId, join(into, 'a'))).toBe(stateA);
    expect(await readFile(join(into, 'a', 'file.txt'), 'utf8')).toBe('one');
    expect(await next.takeTree(b.diffId, join(into, 'b'))).toBeUndefined();
    expect(warnings.join()).toMatch(/altered/);
    // an answer is used once: a copy kept again is walked again
    await next.keepTree(a.diffId, join(into, 'a'), stateA);
    await writeFile(join(dir, 'trees', hexOf(a.diffId), 'file.txt'), 'ONE');
    expect(await next.takeTree(a.diffId, join(into, 'a2'))).toBeUndefined();
    new DirCache(await trees.create()).checkTrees(); // no trees dir: nothing to check
  });

  it("keeps the export's listing of a kept copy's directories beside it; a check in a new process uses it and still finds changes", async () => {
    const { dir, a, unpacked } = await cachedAB();
    const tree = join(unpacked, 'a');
    await mkdir(join(tree, 'x/y'), { recursive: true });
    await writeFile(join(tree, 'x/y/deep.txt'), 'deep');
    const kept = async () => {
      const cache = new DirCache(dir);
      expect(await cache.keepTree(a.diffId, tree, (await treeState(tree))!)).toBe(true);
      forgetTreeListings(); // what a new process knows: only the files
      return cache;
    };
    const warnings: string[] = [];
    const check = async () => {
      const next = new DirCache(dir, { onWarning: (w) => warnings.push(w) });
      next.checkTrees();
      return next.takeTree(a.diffId, tree);
    };

    await kept();
    const listing = join(dir, 'trees', `${hexOf(a.diffId)}.listing`);
    expect(JSON.parse(await readFile(listing, 'utf8'))).toContainEqual(['x/y', { key: expect.any(String), names: ['deep.txt'] }]);
    expect(await check()).toMatch(/^[0-9a-f]{64}$/);
    expect(await readdir(join(dir, 'trees'))).toEqual([]); // taken: state and listing go with it

    // a file added deep down after it was kept: found, though the listing predates it
    await kept();
    await writeFile(join(dir, 'trees', hexOf(a.diffId), 'x/y/added.txt'), '');
    expect(await check()).toBeUndefined();
    expect(warnings.join()).toMatch(/altered/);
    expect(await readdir(join(dir, 'trees'))).toEqual([]);

    // a listing that lies (a name left out) costs an unpack, never a wrong answer; one that is not a listing is ignored
    const fill = async () => {
      await extractLayerTar(await new DirCache(dir).open(a.diffId), 'layers/example_bp/a', tree);
      await mkdir(join(tree, 'x/y'), { recursive: true });
      await writeFile(join(tree, 'x/y/deep.txt'), 'deep');
    };
    await fill();
    await kept();
    await writeFile(listing, (await readFile(listing, 'utf8')).replace('"deep.txt"', ''));
    warnings.length = 0;
    expect(await check()).toBeUndefined();
    expect(warnings.join()).toMatch(/altered/);
    await fill();
    const filled = (await treeState(tree))!;
    await kept();
    await writeFile(listing, '{not json');
    expect(await check()).toBe(filled);
    // names that are paths would send the walk outside the tree: such a listing is not taken
    await kept();
    await writeFile(listing, (await readFile(listing, 'utf8')).replace('"deep.txt"', '"../../../../../../etc"'));
    expect(await check()).toBe(filled);
  });

  it('corrupt metadata is ignored with a warning', async () => {
    const dir = await trees.create({ 'metadata.json': '{"buildpacks":' });
    const warnings: string[] = [];
    expect(await new DirCache(dir, { onWarning: (w) => warnings.push(w) }).read()).toEqual({ buildpacks: [] });
    expect(warnings[0]).toMatch(/corrupt cache/);
  });
});

describe.skipIf(!requireTools('docker-registry', 'htpasswd', 'openssl'))('platform.md "Caching": cache image (--cache-image) on the real registry', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 60_000);
  afterAll(() => reg?.stop());
  const FAST = { retries: 2, minDelayMs: 5, maxDelayMs: 20 };
  const cacheAt = (ref: string) => {
    const r = parseRegistryReference(ref);
    return openRegistrySource(r, { retry: FAST }).then(
      (source) => new ImageCache(source, () => openRegistrySink(r, { retry: FAST })),
    );
  };

  it('a second runner with an empty disk restores what the first saved; unchanged layers are not re-uploaded', async () => {
    const ref = `${reg.host}/ci/app-cache:latest`;
    const a = await layerOf('a', 'one');
    const b = await layerOf('b', 'two');
    const first = await cacheAt(ref);
    expect(await first.read()).toEqual({ buildpacks: [] });
    expect(await first.write(metadataFor({ a, b }), byDiffId(a, b))).toEqual({ written: 2, reused: 0 });

    const second = await cacheAt(ref);
    expect(await second.read()).toEqual(metadataFor({ a, b }));
    expect(await restoreAll(second, await trees.create())).toEqual({ a: 'one', b: 'two' });
    const c = await layerOf('c', 'three');
    expect(await second.write(metadataFor({ a, c }), byDiffId(c))).toEqual({ written: 1, reused: 1 });

    const third = await cacheAt(ref);
    expect(await restoreAll(third, await trees.create())).toEqual({ a: 'one', c: 'three' });
    expect((await readAll(await third.open(c.diffId))).equals(await readAll(await c.uncompressed()))).toBe(true);
  }, 60_000);
});
